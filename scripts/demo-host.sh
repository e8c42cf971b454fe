#!/bin/bash
# The key-value demo on the host backend: vmsgd in host mode between plain
# processes of this machine, no Xen and no simulator (docs/vmsgd.md, "Host
# mode"), against a build directory (default build/release):
#   vmsgd with examples/kv/demo-host.conf (backend = host), as this user
#   vmsg-kv-server offers `kv` and `kv.text`
#   vmsg-kv puts and gets over a direct channel (allowed), then opens
#   kv.text (refused by the policy), vmsgctl lists clients and services
# Every client finds vmsgd through VMSG_HOST_VMSGD (vmsg/service.h).
# Everything runs in a private directory and is stopped on exit (also on
# failure or Ctrl-C). Lines starting with "demo:" are the results (the
# demo_host test checks them). Exit status 0 when every step worked.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
conf=$here/../examples/kv/demo-host.conf
build=$(cd "${1:-$here/../build/release}" && pwd)
vmsgd=$build/dom0/vmsgd
vmsgctl=$build/dom0/vmsgctl
server=$build/examples/kv/vmsg-kv-server
client=$build/examples/kv/vmsg-kv
for b in "$vmsgd" "$vmsgctl" "$server" "$client"; do
	if [ ! -x "$b" ]; then
		echo "demo: $b is not built" >&2
		exit 1
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-demo-host.XXXXXX")
# The sockets inside must fit 107 bytes: a long TMPDIR falls back to /tmp.
if [ ${#dir} -gt 60 ]; then
	rmdir "$dir"
	dir=$(mktemp -d /tmp/vmsg-demo-host.XXXXXX)
fi
user=$(id -un)
demo_logs=(vmsgd.log server.log)
. "$here/demo-lib.sh"

cleanup() {
	local st=$?
	if [ "$st" -ne 0 ] && [ "$failed" -eq 0 ]; then
		echo "demo: result: FAILED (exit status $st)"
		show_logs
	fi
	kill_all
	rm -rf "$dir"
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Show a command as typed, then run it.
run() {
	shown '$' "$@"
	"$@"
}

echo "==== vmsg key-value demo on the host backend (no Xen, no simulator) ===="
echo "(private state in $dir; logs shown at the end if anything fails)"

sed "s|@DIR@|$dir|g; s|@USER@|$user|g" "$conf" >"$dir/vmsgd.conf"

say "vmsgd in host mode with the demo policy (examples/kv/demo-host.conf)"
grep -v '^;' "$dir/vmsgd.conf" | grep -v '^$' | grep -v '^log_level\|^control_socket' |
	sed "s|$dir|\$DIR|g; s/^/    /"
"$vmsgd" --config "$dir/vmsgd.conf" --foreground >"$dir/vmsgd.log" 2>&1 &
pids+=($!)
wait_for ready cat "$dir/vmsgd.log"
export VMSG_HOST_VMSGD=$dir/vmsg
echo "\$ export VMSG_HOST_VMSGD=\$DIR/vmsg     # where the clients find vmsgd"

say "vmsg-kv-server offers kv and kv.text"
"$server" >"$dir/server.log" 2>&1 &
pids+=($!)
wait_for kv.text ctl list services
sed 's/^/    /' "$dir/server.log"

say "the client, typed protobuf-c requests over a direct channel"
value="hello from a plain process"
run "$client" put greeting "$value"
run "$client" put colour blue
got=$(run "$client" get greeting | tail -n 1) || true
echo "$got"
run "$client" list
if [ "$got" = "$value" ]; then
	echo "demo: the client put and got back '$got'"
else
	fail "the client read '$got', expected '$value'"
fi

say "kv.text: offered, but the policy lets nobody open it"
set +e
denied=$(run "$client" --service kv.text get greeting 2>&1)
st=$?
set -e
echo "$denied"
echo "(exit status $st)"
if [ "$st" -eq 1 ] && grep -q "user $user (uid $(id -u)) may not open it (policy)" <<<"$denied"; then
	echo "demo: refused: $(grep 'vmsg-kv:' <<<"$denied")"
else
	fail "kv.text was not refused as expected"
fi

say "vmsgctl: the clients (user and pid), services and channels"
for what in domains services channels; do
	echo "\$ vmsgctl list $what"
	ctl list "$what" | sed 's/^/    /'
done

say "round trips (get of a 64-byte value, direct channel)"
bench=$(run "$client" --bench "${VMSG_DEMO_BENCH:-2000}" | tail -n 1) || fail "the benchmark failed"
echo "$bench"
echo "demo: latency: $bench"

say "stopping: the server, then vmsgd"
stop_all
sed 's/^/    /' "$dir/server.log" | tail -n 3
grep -c '' "$dir/vmsgd.log" | sed 's/^/    vmsgd logged /; s/$/ lines/'

result <<EOF
- vmsgd in host mode brokered services between processes of this machine
  under a default-deny policy that names users;
- vmsg-kv-server offered kv (typed protobuf-c) and kv.text (lines);
- vmsg-kv stored and read keys over a direct shared-memory channel;
- an open the policy does not allow was refused with a clear error;
- vmsgctl listed clients, services and channels; everything stopped cleanly.
EOF
