# The guests of the fault tests that inject into a guest's side of vmsgd
# (failalloc_guest.sh, xsfail.sh; sourced after tests/lib/sim.sh's
# sim_init). fault_guests_start: vmsgd with two services, echo1 (offered
# by dom1, the echo appliance, started here; opened by dom2 and dom6) and
# echo3 (offered by dom3, opened by dom4). other_start / other_done WHAT:
# dom6 opens echo1 and exchanges 3 messages while the guest under
# injection runs: vmsgd must serve it meanwhile.
fault_guests_start() {
	cat >"$dir/vmsgd.conf" <<CONF
[daemon]
control_socket = $dir/vmsgd.sock

[service echo1]
offer = 1
open = 2,6
mode = direct

[service echo3]
offer = 3
open = 4
mode = direct
CONF
	sim_start
	sim_vmsgd "$dir/vmsgd.conf"
	sim_run 1 "$dir/p1.log" "$app" vmsgd=1 svc=echo1
	sim_wait 10 grep -q "offering 'echo1'" "$dir/p1.log" || fail "no provider"
}
other_start() {
	timeout 30 "$xensim" run --domid 6 -- "$app" open=echo1 count=3 size=100 \
		>"$dir/c6.log" 2>&1 &
	other_pid=$!
	sim_track "$other_pid"
}
other_done() {
	sim_reap "$other_pid" && grep -q '^OPEN ok 3 messages' "$dir/c6.log" ||
		{ cat "$dir/c6.log"; fail "$1: vmsgd did not serve dom6 meanwhile"; }
}
