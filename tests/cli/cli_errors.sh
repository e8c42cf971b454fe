#!/usr/bin/env bash
# cli_errors: what a newcomer sees when a command is used wrongly. Each case
# runs one command and checks its exit status and that its message names
# the cause (a fixed substring of the text). Cases that need a running
# simulator start one under a private XENSIM_DIR and stop it at the end.
# usage: cli_errors.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
SIM_LOG_LINES=0 # each case prints what it saw
sim_init cli "$1"

failures=0
cases=0
# expect STATUS SUBSTRING CMD...: run CMD (stdin from /dev/null), compare
# its exit status and look for SUBSTRING in what it printed.
expect() {
	local want=$1 text=$2 out st
	shift 2
	cases=$((cases + 1))
	out=$("$@" </dev/null 2>&1)
	st=$?
	if [ "$st" -ne "$want" ] || ! grep -qF -- "$text" <<<"$out"; then
		echo "FAIL: $*"
		echo "  want status $want and '$text'"
		echo "  got status $st and:"
		sed 's/^/    /' <<<"$out" | head -n 10
		failures=$((failures + 1))
	else
		echo "ok ($st): $(basename "$1") ${*:2}"
		echo "    $(head -n 1 <<<"$out")"
	fi
}
# conf NAME LINE...: write the lines to $dir/NAME
conf() {
	local f=$dir/$1
	shift
	printf '%s\n' "$@" >"$f"
}
wait_ready() { sim_wait 10 grep -q ready "$1"; } # LOG

src=$(cd "$(dirname "$0")/../.." && pwd)

# ---- --version: every command names itself and the project's version
version=$(sed -n 's/^#define VMSG_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
	"$(dirname "$0")/../../lib/include/vmsg/version.h" | paste -sd.)
for cmd in dom0/vmsgd dom0/vmsgctl tools/vmsg-cat/vmsg-cat bench/vmsg-bench \
	sim/bin/xensim examples/kv/vmsg-kv examples/kv/vmsg-kv-server \
	examples/pingpong/vmsg-pingpong; do
	expect 0 "$(basename "$cmd") $version" "$build/$cmd" --version
done

# ---- the benchmarks' commands: usage and bad values, before any run
bb=$build/bench/vmsg-blk-bench
if [ -x "$bb" ]; then
	expect 0 "usage: vmsg-blk-bench [--spin-us N]" "$bb" --help
	expect 2 "usage: vmsg-blk-bench" "$bb"
	expect 2 "--spin-us x: not 0..1000000" "$bb" --spin-us x file:/nonexistent
	expect 2 "--spin-us 1000001: not 0..1000000" "$bb" file:/nonexistent --spin-us 1000001
	expect 2 "SECONDS abc: not a number of seconds" "$bb" file:/nonexistent abc
fi
expect 0 "block-run: the storage benchmark of issue 13" "$src/bench/block-run" --help
expect 2 "usage: bench/block-run" "$src/bench/block-run"
expect 0 "The network benchmark of issue 14" "$src/bench/net/run.sh" --help
expect 2 "usage: bench/net/run.sh" "$src/bench/net/run.sh"

# ---- vmsgd: usage and the policy file (no simulator needed)
expect 2 "unexpected argument 'extra'" "$vmsgd" extra
conf good.conf "[daemon]" "control_socket = $dir/vmsgd.sock" \
	"[service echo]" "mode = direct" "offer = 1" "open = 2"
expect 0 "ok: 1 service, 0 bridges" "$vmsgd" --check-config "$dir/good.conf"
# The installed default: deny-all, and its commented examples are valid.
expect 0 "every offer and open will be refused (default deny)" \
	"$vmsgd" --check-config "$src/dom0/vmsgd.conf"
sed 's/^# \?\(\[\|[a-z_]* =\)/\1/' "$src/dom0/vmsgd.conf" | grep -v '^#' >"$dir/examples.conf"
expect 0 "ok: 2 services, 1 bridge" "$vmsgd" --check-config "$dir/examples.conf"
expect 2 "missing.conf:0: cannot open" "$vmsgd" --check-config "$dir/missing.conf"
conf twice-key.conf "[service echo]" "mode = direct" "offer = 1" "offer = 2"
conf badlimit.conf "[daemon]" "requests_burst = 0"
expect 2 "badlimit.conf:2: requests_burst '0': expected 1..1000000" "$vmsgd" --check-config "$dir/badlimit.conf"
expect 2 "twice-key.conf:4: [service echo]: 'offer' given twice (first at line 3)" \
	"$vmsgd" --check-config "$dir/twice-key.conf"
conf twice-section.conf "[service echo]" "mode = direct" "[service echo]" "offer = 1"
expect 2 "twice-section.conf:3: [service echo] given twice" \
	"$vmsgd" --check-config "$dir/twice-section.conf"
conf twice-daemon.conf "[daemon]" "log_level = info" "[daemon]" "log_level = debug"
expect 2 "twice-daemon.conf:3: [daemon] given twice" \
	"$vmsgd" --check-config "$dir/twice-daemon.conf"
conf continued.conf "[service echo]" "mode = direct" "open = 1," "  2"
expect 2 "continued.conf:4: [service echo]: 'open' continues on an indented line" \
	"$vmsgd" --check-config "$dir/continued.conf"
# Outside Xen and the simulator: say where vmsgd must run.
expect 1 "vmsgd must run in dom0 of a Xen host, or under the simulator" \
	env -u XENSIM_DIR "$vmsgd" --foreground --config "$dir/good.conf"

# ---- vmsgctl
expect 2 "unknown command 'lsit'" "$vmsgctl" lsit domains
expect 2 "'list' of what?" "$vmsgctl" list
expect 2 "cannot list 'domain'" "$vmsgctl" list domain
expect 2 "unexpected 'x' after 'policy'" "$vmsgctl" policy x
expect 1 "is vmsgd running?" "$vmsgctl" --socket "$dir/none.sock" list domains
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
	"$dir/stale.sock"
expect 1 "nobody listens there" "$vmsgctl" --socket "$dir/stale.sock" list domains

# ---- vmsg-bench
bench=$build/bench/vmsg-bench
expect 2 "--cpus: CPU 1000 is not available here" "$bench" pingpong --cpus 0,1000
expect 2 "--cpus takes A,B" "$bench" pingpong --cpus 0
expect 2 "--batch means something for stream only" "$bench" pingpong --batch on
expect 2 "--batch means something for stream only" "$bench" setup --batch off

# ---- vmsg-cat
cat=$build/tools/vmsg-cat/vmsg-cat
expect 1 "--xen needs a Xen domain, or the simulator" \
	env -u XENSIM_DIR "$cat" --connect --xen --domid 0 --port p
# A framed side facing a raw peer: ask about --framed.
(echo "plain bytes, not frames" | "$cat" --listen --unix "$dir/raw.sock" \
	--linger 3000 >/dev/null 2>&1) &
sim_track $!
expect 1 "does the peer use --framed too?" \
	"$cat" --connect --unix "$dir/raw.sock" --framed --timeout 5000
# A second client of a busy listener: not "nobody serves" alone.
(sleep 3 | "$cat" --listen --unix "$dir/busy.sock" --linger 0 >/dev/null 2>&1) &
sim_track $!
(sleep 3 | "$cat" --connect --unix "$dir/busy.sock" --timeout 5000 --linger 0 \
	>/dev/null 2>&1) &
sim_track $!
# The listener's socket appears, then goes once the first client is in.
for _ in $(seq 100); do
	[ -S "$dir/busy.sock" ] && break
	sleep 0.1
done
for _ in $(seq 100); do
	[ -S "$dir/busy.sock" ] || break
	sleep 0.1
done
# (-EBUSY while the first client is coming in, else the hint of -ENOENT)
expect 1 "already has its client" \
	"$cat" --connect --unix "$dir/busy.sock" --timeout 300

# ---- scripts/test.sh --help answers (it used to start a build)
expect 0 "The test command" timeout 10 "$(cd "$(dirname "$0")/../.." && pwd)/scripts/test.sh" --help

# ---- echo-appliance (the echo unikernel's source as a Linux program)
# (under timeout: before these checks a bad word was ignored and the
# appliance served, waiting for a client for ever)
app=(timeout 10 "$build/examples/echo-unikernel/echo-appliance")
expect 0 "role=client" "${app[@]}" --help
expect 2 "'role=clinet': the value must be one of server|client" "${app[@]}" role=clinet
expect 2 "'mode=rwa': the value must be one of msg|raw" "${app[@]}" mode=rwa
expect 2 "'prot=echo': unknown key (--help lists the arguments)" "${app[@]}" prot=echo
expect 2 "'count=ten': not a number" "${app[@]}" open=echo count=ten
expect 2 "'multi=17': out of range 1..16" "${app[@]}" multi=17
expect 2 "'count=2': key given twice" "${app[@]}" open=echo count=1 count=2
expect 2 "'serve': not a KEY=VALUE word" "${app[@]}" serve
expect 2 "host=$dir/nowhere: not a directory (create it first" \
	"${app[@]}" host="$dir/nowhere" clients=1

# ---- xensim
expect 2 "xensim: no command given" "$xensim"
expect 2 "xensim run: --domid needs a value (0..32751)" "$xensim" run --domid
expect 2 "xensim run: which domain?" "$xensim" run -- true
expect 2 "xensim run: no command given (xensim run --domid 1 -- CMD" "$xensim" run --domid 1
expect 2 "bad domid '40000': a domain number 0..32751" "$xensim" run --domid 40000 -- true
expect 2 "bad domid 'one'" "$xensim" env --domid=one
expect 2 "xensim stop: unexpected argument 'now'" "$xensim" stop now
expect 2 "xensim list: unknown option '--domid'" "$xensim" list --domid 1
expect 2 "unknown command 'strat'" "$xensim" strat
expect 1 "xensim env: no simulator runs in" "$xensim" env --domid 0
# A simulator directory too long for its sockets: the reason and the way
# out, not only "failed to start (see the log)".
long=$dir/$(printf 'd%.0s' $(seq 1 100))
mkdir -p "$long"
expect 1 "File name too long (a UNIX socket's path must fit 107 bytes: use a shorter XENSIM_DIR or TMPDIR)" \
	env XENSIM_DIR="$long/xensim" "$xensim" start

# ---- vmsgd on the simulator: one per xenstore, dom0 only
if [ -x "$xensim" ] && [ -x "$build/sim/xenstored/vmsg-xenstored" ]; then
	sim_start
	# The echo appliance with no vmsgd: it says that it waits and how
	# long, then why it gave up (it used to sit silent for 120 s and then
	# say "no such channel").
	expect 1 "OPEN cannot reach vmsgd: no vmsgd serves this domain" \
		"$xensim" run --domid 5 -- "${app[@]}" open=echo wait=1
	expect 1 "OPEN waiting up to 1 s for vmsgd" \
		"$xensim" run --domid 5 -- "${app[@]}" open=echo wait=1
	expect 1 "ECHO cannot reach vmsgd: no vmsgd serves this domain" \
		"$xensim" run --domid 5 -- "${app[@]}" vmsgd=1 wait=1
	expect 2 "'wait=0': out of range 1..3600" "${app[@]}" open=echo wait=0
	sim_run 0 "$dir/vmsgd1.log" "$vmsgd" --foreground --config "$dir/good.conf"
	vm1=$sim_pid
	wait_ready "$dir/vmsgd1.log" ||
		{ echo "FAIL: first vmsgd not ready"; cat "$dir/vmsgd1.log"; exit 1; }
	first=$(pgrep -P "$vm1" -x vmsgd || echo "$vm1")
	conf second.conf "[daemon]" "control_socket = $dir/vmsgd2.sock"
	expect 1 "another vmsgd (pid $first) already serves this xenstore" \
		"$xensim" run --domid 0 -- "$vmsgd" --foreground --config "$dir/second.conf"
	expect 1 "this is domain 3, not dom0: vmsgd runs in dom0 only" \
		"$xensim" run --domid 3 -- "$vmsgd" --foreground --config "$dir/second.conf"
	expect 1 "xensim env: domain 7 is not running" "$xensim" env --domid 7
	expect 0 "export XENSIM_DOMID='0'" "$xensim" env --domid 0
	# A simulator started at the default place while ours runs: warned.
	expect 0 "warning: XENSIM_DIR is not set, so a new simulator starts in $dir/default-parent/xensim" \
		env -u XENSIM_DIR XDG_RUNTIME_DIR="$dir/default-parent" \
		sh -c 'mkdir -p "$XDG_RUNTIME_DIR" && "$1" start && "$1" stop' sh "$xensim"
	# Detached with --pid-file: the file names the serving vmsgd while
	# it runs and is gone after SIGTERM.
	cat >"$dir/third.conf" <<-EOF
	[daemon]
	control_socket = $dir/vmsgd3.sock
	EOF
	cases=$((cases + 1))
	xs3=$(mktemp -d "$dir/xs3.XXXXXX")
	if XENSIM_DIR=$xs3 "$xensim" start >/dev/null &&
		XENSIM_DIR=$xs3 "$xensim" run --domid 0 -- "$vmsgd" \
			--config "$dir/third.conf" --pid-file "$dir/vmsgd.pid" &&
		pid=$(cat "$dir/vmsgd.pid") && [ "$(cat "/proc/$pid/comm")" = vmsgd ] &&
		kill -TERM "$pid" && for _ in $(seq 50); do
			[ -e "$dir/vmsgd.pid" ] || break
			sleep 0.1
		done && [ ! -e "$dir/vmsgd.pid" ]; then
		echo "ok: vmsgd --pid-file named pid $pid, removed at SIGTERM"
	else
		echo "FAIL: vmsgd --pid-file"
		failures=$((failures + 1))
	fi
	XENSIM_DIR=$xs3 "$xensim" stop >/dev/null 2>&1
	# The simulator's xenstored, detached, keeps DIR/vmsg-xenstored.pid.
	cases=$((cases + 1))
	xsd=$build/sim/xenstored/vmsg-xenstored
	mkdir -p "$dir/xsd"
	if "$xsd" --dir "$dir/xsd" && pid=$(cat "$dir/xsd/vmsg-xenstored.pid") &&
		[ "$(cat "/proc/$pid/comm")" = vmsg-xenstored ] &&
		kill -TERM "$pid" && for _ in $(seq 50); do
			[ -e "$dir/xsd/vmsg-xenstored.pid" ] || break
			sleep 0.1
		done && [ ! -e "$dir/xsd/vmsg-xenstored.pid" ]; then
		echo "ok: vmsg-xenstored's pid file named pid $pid, removed at SIGTERM"
	else
		echo "FAIL: vmsg-xenstored's pid file"
		failures=$((failures + 1))
	fi
	# The first one still serves.
	expect 0 "DOMID" "$vmsgctl" --socket "$dir/vmsgd.sock" list domains
	# Killed, its claim is stale: a new vmsgd takes over.
	kill -KILL "$first" "$vm1" 2>/dev/null
	sim_reap "$vm1" 2>/dev/null
	sim_run 0 "$dir/vmsgd2.log" "$vmsgd" --foreground --config "$dir/second.conf"
	cases=$((cases + 1))
	if wait_ready "$dir/vmsgd2.log"; then
		echo "ok: a vmsgd after a killed one serves"
	else
		echo "FAIL: a vmsgd after a killed one did not start:"
		cat "$dir/vmsgd2.log"
		failures=$((failures + 1))
	fi
else
	echo "FAIL: the simulator is not built ($xensim)"
	failures=$((failures + 1))
fi

echo "$((cases - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
