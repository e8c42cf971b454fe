#!/bin/bash
# The key-value demo on the simulated Xen (docs/sim.md), against a build
# directory (default build/release), or with --installed against the
# installed programs (found on PATH: the packages of docs/packages.md,
# which install this script as /usr/share/vmsg/examples/kv/demo-sim.sh,
# or cmake --install):
#   dom0: vmsgd with examples/kv/demo.conf, and a UNIX listen bridge
#   dom1: vmsg-kv-server, offering `kv` (typed protobuf-c) and `kv.text`
#   dom2: vmsg-kv puts and gets (allowed); dom3: vmsg-kv (denied)
#   dom0: socat through the bridge to kv.text, vmsgctl, a latency figure
# Everything runs in a private XENSIM_DIR and is stopped on exit (also on
# failure or Ctrl-C). Lines starting with "demo:" are the results (the
# demo_sim and deb_packages tests check them). Exit status 0 when every
# step worked.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "${1:-}" = --installed ]; then
	# Installed, demo.conf is beside this script.
	conf=$here/demo.conf
	for c in xensim xensimd vmsg-xenstored vmsgd vmsgctl vmsg-kv-server vmsg-kv; do
		if ! command -v "$c" >/dev/null; then
			echo "demo: $c is not installed (on PATH)" >&2
			exit 1
		fi
	done
	xensim=$(command -v xensim)
	vmsgd=$(command -v vmsgd)
	vmsgctl=$(command -v vmsgctl)
	server=$(command -v vmsg-kv-server)
	client=$(command -v vmsg-kv)
else
	conf=$here/../examples/kv/demo.conf
	build=$(cd "${1:-$here/../build/release}" && pwd)
	xensim=$build/sim/bin/xensim
	vmsgd=$build/dom0/vmsgd
	vmsgctl=$build/dom0/vmsgctl
	server=$build/examples/kv/vmsg-kv-server
	client=$build/examples/kv/vmsg-kv
	for b in "$xensim" "$vmsgd" "$vmsgctl" "$server" "$client" \
		"$build/sim/xenstored/vmsg-xenstored"; do
		if [ ! -x "$b" ]; then
			echo "demo: $b is not built" >&2
			exit 1
		fi
	done
fi
if [ ! -f "$conf" ]; then
	echo "demo: $conf is missing" >&2
	exit 1
fi
if ! command -v socat >/dev/null; then
	echo "demo: socat is missing (scripts/deps.sh installs it)" >&2
	exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsg-demo.XXXXXX")
export XENSIM_DIR=$dir/xensim
demo_logs=(vmsgd.log server.log socat.err)
. "$here/demo-lib.sh"

cleanup() {
	local st=$?
	exec 3>&- 2>/dev/null || true
	if [ "$st" -ne 0 ] && [ "$failed" -eq 0 ]; then
		echo "demo: result: FAILED (exit status $st)"
		show_logs
	fi
	# Servers first (they close their channels), then vmsgd, then the sim.
	kill_all
	"$xensim" stop >/dev/null 2>&1 || true
	rm -rf "$dir"
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Show a command as typed in domain N, then run it there.
in_dom() {
	local d=$1
	shift
	shown "[dom$d]\$" "$@"
	"$xensim" run --domid "$d" -- "$@"
}

echo "==== vmsg key-value demo on the simulated Xen ===="
echo "(private state in $dir; logs shown at the end if anything fails)"

sed "s|@DIR@|$dir|g" "$conf" >"$dir/vmsgd.conf"
mkdir -p "$XENSIM_DIR"
"$xensim" start >/dev/null

say "dom0: vmsgd with the demo policy (examples/kv/demo.conf)"
grep -v '^;' "$dir/vmsgd.conf" | grep -v '^$' | grep -v '^log_level\|^control_socket\|^\[daemon\]' |
	sed "s|$dir|\$DIR|g; s/^/    /"
"$xensim" run --domid 0 -- "$vmsgd" --config "$dir/vmsgd.conf" --foreground \
	>"$dir/vmsgd.log" 2>&1 &
pids+=($!)
wait_for DOMID ctl list domains

say "dom1: vmsg-kv-server offers kv and kv.text"
"$xensim" run --domid 1 -- "$server" >"$dir/server.log" 2>&1 &
pids+=($!)
wait_for kv.text ctl list services
wait_for offering cat "$dir/server.log"
sed 's/^/    /' "$dir/server.log"

say "dom2: the client, typed protobuf-c requests over a direct channel"
value="hello from dom2"
in_dom 2 "$client" put greeting "$value"
in_dom 2 "$client" put colour blue
got=$(in_dom 2 "$client" get greeting | tail -n 1) || true
echo "$got"
in_dom 2 "$client" list
set +e
in_dom 2 "$client" get nosuchkey
st=$?
set -e
echo "(exit status $st: no such key)"
if [ "$got" = "$value" ]; then
	echo "demo: dom2 put and got back '$got'"
else
	fail "dom2 read '$got', expected '$value'"
fi

say "dom3: not in the policy's open list"
set +e
denied=$(in_dom 3 "$client" get greeting 2>&1)
st=$?
set -e
echo "$denied"
echo "(exit status $st)"
if [ "$st" -eq 1 ] && grep -q "domain 3 may not open it (policy)" <<<"$denied"; then
	echo "demo: dom3 denied: $(grep 'vmsg-kv:' <<<"$denied")"
else
	fail "dom3 was not refused as expected"
fi

say "dom0: socat through the listen bridge to kv.text (text lines)"
sock=$dir/kv-text.sock
mkfifo "$dir/socat.in"
socat -t 2 - "UNIX-CONNECT:$sock" <"$dir/socat.in" >"$dir/socat.out" 2>"$dir/socat.err" &
pids+=($!)
exec 3>"$dir/socat.in"
echo "\$ socat - UNIX-CONNECT:\$DIR/kv-text.sock"
for line in "get greeting" "put from-socat written by dom0 through the bridge" \
	"list"; do
	echo "> $line"
	echo "$line" >&3
done
if wait_for '^ok colour' cat "$dir/socat.out"; then
	sed 's/^/< /' "$dir/socat.out"
fi
text=$(sed -n 1p "$dir/socat.out")
if [ "$text" = "ok $value" ]; then
	echo "demo: socat read '${text#ok }' through the kv.text bridge"
else
	fail "socat read '$text', expected 'ok $value'"
fi

say "vmsgctl, while the socat connection is open"
for what in domains services channels; do
	echo "\$ vmsgctl list $what"
	ctl list "$what" | sed 's/^/    /'
done
exec 3>&-
wait "${pids[-1]}" || true
unset 'pids[-1]'

say "dom2 reads what socat wrote"
got=$(in_dom 2 "$client" get from-socat | tail -n 1) || true
echo "$got"
if [ "$got" = "written by dom0 through the bridge" ]; then
	echo "demo: dom2 read back the value dom0 wrote through the bridge"
else
	fail "dom2 read '$got' for from-socat"
fi

say "dom2: round trips (get of a 64-byte value, direct channel)"
bench=$(in_dom 2 "$client" --bench "${VMSG_DEMO_BENCH:-2000}" | tail -n 1) || fail "the benchmark failed"
echo "$bench"
echo "demo: latency: $bench"

say "stopping: dom1's server, then vmsgd, then the simulator"
stop_all
sed 's/^/    /' "$dir/server.log" | tail -n 4
grep -c '' "$dir/vmsgd.log" | sed 's/^/    vmsgd logged /; s/$/ lines/'
"$xensim" stop

result <<EOF
- vmsgd (dom0) brokered services under a default-deny policy;
- vmsg-kv-server (dom1) offered kv (typed protobuf-c) and kv.text (lines);
- vmsg-kv (dom2) stored and read keys over a direct shared-memory channel;
- dom3 was refused by the policy with a clear error;
- socat in dom0 read and wrote the same store through a UNIX listen bridge;
- vmsgctl listed domains, services and channels; everything stopped cleanly.
EOF
