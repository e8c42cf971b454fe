# vmsgd in dom0 with two PV guests, two processes in each (issue 15:
# several processes of a domain on vmsgd): guest A runs two providers at
# once, of xs.m1 and xs.m2, guest B two consumers, one of each
# (guest/multi.sh). The two processes of a guest start together and race
# for their domain's control channel: vmsgd serves a domain a spare
# channel once a process has said Hello, and the process that loses a
# channel (Xen binds an unbound event port once) takes the next. While the
# providers hold their channels: vmsgctl lists both channels, open and
# direct from A to B, and two connected sessions for each guest. Both
# exchanges check every byte and print both ends' checksums, compared
# here; both processes of each guest exit 0.
# optional: it passed in three boots of its own (alone, and after
# vmsgd-direct and vmsgd-relayed) and once hung in a full pass, after both
# channels were open and both guests' sessions connected, with no guest
# console to show where (the scenario now prints the consoles, and
# multi.sh what each process said every 30 s); until that is understood it
# runs only when named (--only vmsgd-multiproc).
# timeout: 500
. /opt/vmsg/scenarios/lib.sh
a=$SCENARIO-a
b=$SCENARIO-b
xsopts="--msg --rtt 50 --down 1M --up 1M"
hold=20
conf=/tmp/vmsgd-multi.conf
sock=/run/vmsgd-multi.sock
vlog=/tmp/vmsgd-multi.log
ctl() { vmsgctl --socket "$sock" "$@"; }

# shellcheck disable=SC2086 # the options are words
da=$(guest_create "$a" pv multi server 0 xs.m1 xs.m2 $xsopts --hold $hold) ||
	fail "cannot create guest A"
# shellcheck disable=SC2086
db=$(guest_create "$b" pv multi client "$da" xs.m1 xs.m2 $xsopts) ||
	fail "cannot create guest B"
printf '[daemon]\nlog_level = info\ncontrol_socket = %s\n\n[service xs.m1]\noffer = %s\nopen = %s\nmode = direct\n\n[service xs.m2]\noffer = %s\nopen = %s\nmode = direct\n' \
	"$sock" "$da" "$db" "$da" "$db" >"$conf"
vmsgd_start "$conf" "$sock" "$vlog"
info "guest A (two providers) $da, guest B (two consumers) $db; vmsgd up"
t0=$(now)
guest_unpause "$a"
guest_unpause "$b"

# Both channels open at once, direct from A to B.
open_of() {
	echo "$1" | grep -oF -- "\"service\":\"$2\",\"provider\":$da,\"consumer\":$db,\"state\":\"open\",\"mode\":\"direct\"" | wc -l
}
ok=
end=$((SECONDS + 240))
while [ $SECONDS -lt $end ]; do
	chans=$(ctl --json list channels)
	if [ "$(open_of "$chans" xs.m1)" -eq 1 ] && [ "$(open_of "$chans" xs.m2)" -eq 1 ]; then
		ok=1
		break
	fi
	sleep 0.2
done
if [ -z "$ok" ]; then
	guest_log "$a" 150
	guest_log "$b" 150
	stop_vmsgd
	fail "vmsgctl never listed xs.m1 and xs.m2 open at once from $da to $db: $chans"
fi
info "both channels open after $(elapsed "$t0") s"
ctl list domains | sed 's/^/  [vmsgctl] /'
ctl list channels | sed 's/^/  [vmsgctl] /'
# Two connected sessions per guest, one per process.
doms=$(ctl --json list domains)
for d in "$da" "$db"; do
	n=$(echo "$doms" | grep -oF "\"domid\":$d,\"state\":\"connected\"" | wc -l)
	[ "$n" -eq 2 ] || { stop_vmsgd; fail "vmsgctl lists $n connected sessions of domain $d, not 2: $doms"; }
done
info "two connected sessions each for $da and $db"

# Within the scenario's time: a guest still running after its share
# fails here, with both consoles (multi.sh prints what each process has
# said every 30 s) and vmsgd's view.
arc=0 brc=0
guest_wait "$a" $((hold + 120)) || arc=$?
guest_wait "$b" 30 || brc=$?
if [ $arc -ne 0 ] || [ $brc -ne 0 ]; then
	guest_log "$a" 150
	guest_log "$b" 150
	ctl list domains | sed 's/^/  [vmsgctl] /'
	ctl list channels | sed 's/^/  [vmsgctl] /'
	stop_vmsgd
	fail "guest A ended with rc=$arc, guest B with rc=$brc"
fi
guest_grep "$a" '^XS\[' >"/tmp/$a.xs"
guest_grep "$b" '^XS\[' >"/tmp/$b.xs"
sed 's/^/  [guest A] /' "/tmp/$a.xs"
sed 's/^/  [guest B] /' "/tmp/$b.xs"
stop_vmsgd
# Each stream of each service: what one guest sent is what the other got.
for s in xs.m1 xs.m2; do
	for dir in down up; do
		sent=$(grep -hF "XS[$s] sent " "/tmp/$a.xs" "/tmp/$b.xs" | grep "dir=$dir " | head -n 1)
		recv=$(grep -hF "XS[$s] recv " "/tmp/$a.xs" "/tmp/$b.xs" | grep "dir=$dir " | head -n 1)
		if [ -z "$sent" ] || [ -z "$recv" ] ||
			[ "$(xs_field "$sent" bytes) $(xs_field "$sent" fnv)" != \
				"$(xs_field "$recv" bytes) $(xs_field "$recv" fnv)" ]; then
			fail "$s $dir stream: sent [$sent] received [$recv]"
		fi
	done
done
[ "$vrc" -eq 0 ] || fail "vmsgd exited $vrc on SIGTERM"
pass
