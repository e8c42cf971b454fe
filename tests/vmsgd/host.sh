#!/usr/bin/env bash
# vmsgd_host: vmsgd in host mode (docs/vmsgd.md, "Host mode"): named
# services, the policy and vmsgctl between plain processes of this machine,
# no Xen and no simulator. Runs as root (it needs a second uid: nobody).
# - --check-config: an unknown user, mode = relayed, a bridge, user names
#   in a Xen policy: each refused with FILE:LINE;
# - before vmsgd starts, a client is told "is vmsgd running in host mode
#   at DIR?";
# - root's vmsg-kv-server offers kv; two more root processes put a 1000-byte
#   value and get it back identical (direct channels, end to end);
# - nobody's open of kv is refused: "user nobody (uid 65534) may not open
#   it (policy)"; nobody opens echo (root's `vmsg-cat --offer echo -- cat`)
#   and gets its bytes back;
# - vmsgctl lists the clients with user and pid (text and JSON), the
#   services, the channel and the policy with user names; nobody's client killed (-9) mid-session
#   leaves vmsgctl, its channel too;
# - 6 root providers offer at once, 6 root consumers open them at once
#   (vmsg-cat --offer serves one consumer at a time: one each), each
#   gets its own text back;
# - the rendezvous answers "ok N DIR/ctl/N" (socat); a client that never
#   connects to its control channel is listed waiting, then forgotten with
#   its folder within 20 s (10 s by vmsgd's rule);
# - SIGTERM: vmsgd exits 0 and removes its socket;
# - a vmsgd run by nobody tells each of 30 root clients why it cannot serve
#   them (no folder of its own to give) and logs them within its budget.
# usage: host.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
sim_init vmsgd_host "$1"
kv=$build/examples/kv/vmsg-kv
kvd=$build/examples/kv/vmsg-kv-server
cat=$build/tools/vmsg-cat/vmsg-cat
sim_need "$vmsgd" "$vmsgctl" "$kv" "$kvd" "$cat"
[ "$(id -u)" = 0 ] || { echo "vmsgd_host: needs root (a second uid)"; exit 1; }
command -v setpriv >/dev/null || fail "setpriv (util-linux) not found"
command -v socat >/dev/null || fail "socat not found (scripts/deps.sh installs it)"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

# The folder must be reachable by nobody (search only) and short enough
# for the sockets inside: under TMPDIR if so, else a private one in /tmp.
chmod 711 "$dir"
hd=$dir/h
if ! as_nobody test -x "$dir" || [ ${#hd} -gt 70 ]; then
	hdtmp=$(mktemp -d /tmp/vmsg-host.XXXXXX) || fail "mktemp"
	chmod 711 "$hdtmp"
	hd=$hdtmp/h
fi
# A vmsgd of nobody's (the last part) needs a folder nobody owns.
nd=$(mktemp -d /tmp/vmsg-hn.XXXXXX) || fail "mktemp"
sim_cleanup_hook() { rm -rf "$nd" ${hdtmp:+"$hdtmp"}; }
chown 65534:65534 "$nd"
export VMSG_HOST_VMSGD=$hd

# ---- the policy and its checks
cat >"$dir/host.conf" <<EOF
[daemon]
backend = host
host_dir = $hd
control_socket = $dir/vmsgd.sock

[service kv]
offer = root
open = root
mode = direct

[service kv.text]
offer = 0
open = none
mode = direct

[service echo]
offer = root
open = nobody
mode = direct

[service m1]
offer = root
open = root
mode = direct

[service m2]
offer = root
open = root
mode = direct

[service m3]
offer = root
open = root
mode = direct

[service m4]
offer = root
open = root
mode = direct

[service m5]
offer = root
open = root
mode = direct

[service m6]
offer = root
open = root
mode = direct
EOF
out=$("$vmsgd" --check-config "$dir/host.conf") || fail "check-config: $out"
grep -q "host mode: clients at $hd/vmsgd.sock" <<<"$out" || fail "check-config said: $out"

bad() { # EXPECTED-TEXT: the policy on stdin must be refused with it
	cat >"$dir/bad.conf"
	local o st=0
	o=$("$vmsgd" --check-config "$dir/bad.conf" 2>&1) || st=$?
	[ "$st" = 2 ] || fail "bad config accepted (status $st): $o"
	grep -qF -- "$1" <<<"$o" || fail "bad config: expected '$1', got: $o"
}
printf '[daemon]\nbackend = host\n[service a]\noffer = nosuchuser42\nopen = root\nmode = direct\n' |
	bad "bad.conf:4: offer = 'nosuchuser42': no user is called 'nosuchuser42'"
printf '[daemon]\nbackend = host\n[service a]\noffer = root\nopen = root\nmode = relayed\n' |
	bad "bad.conf:3: [service a]: mode = relayed needs Xen"
printf '[service a]\noffer = root\nopen = 1\nmode = direct\n[daemon]\nbackend = host\n[bridge b]\nservice = a\nlisten = unix:/x.sock\n' |
	bad "bad.conf:7: [bridge b]: bridges need Xen"
printf '[service a]\noffer = 1\nopen = root\nmode = direct\n' |
	bad "bad.conf:3: [service a]: open: expected '*', 'none' or comma-separated guest domids (1..32751); user names and uids need [daemon] backend = host"
printf '[daemon]\nbackend = hosted\n' | bad "bad.conf:2: backend 'hosted': expected 'xen'"

# ---- no vmsgd yet
st=0
o=$("$kv" --timeout 300 get x 2>&1) || st=$?
[ "$st" = 1 ] || fail "kv without vmsgd: status $st: $o"
grep -qF "is vmsgd running in host mode at $hd?" <<<"$o" || fail "kv without vmsgd said: $o"

# ---- vmsgd, and the key-value service between root's processes
"$vmsgd" --foreground --config "$dir/host.conf" --log-level debug >"$dir/vmsgd.log" 2>&1 &
vpid=$!
sim_track "$vpid"
sim_wait 10 grep -q ready "$dir/vmsgd.log" || fail "vmsgd did not start"
[ -S "$hd/vmsgd.sock" ] || fail "no $hd/vmsgd.sock"

"$kvd" >"$dir/kvd.log" 2>&1 &
sim_track $!
sim_wait 10 grep -q "offering kv" "$dir/kvd.log" || fail "kv-server did not offer"
val=$(head -c 750 /dev/urandom | base64 -w0)
"$kv" put big "$val" >"$dir/put.log" 2>&1 || fail "put: $(cat "$dir/put.log")"
got=$("$kv" get big 2>"$dir/get.log") || fail "get: $(cat "$dir/get.log")"
[ "$got" = "$val" ] || fail "get gave ${#got} bytes, not the ${#val} put"

# ---- another user: refused for kv, served for echo
st=0
o=$(as_nobody "$kv" get big 2>&1) || st=$?
[ "$st" = 1 ] || fail "nobody's get: status $st: $o"
grep -qF "service 'kv': user nobody (uid 65534) may not open it (policy)" <<<"$o" ||
	fail "nobody's refusal said: $o"
"$cat" --offer echo -- cat >"$dir/echo.log" 2>&1 &
sim_track $!
sim_wait 10 sh -c "'$vmsgctl' --socket '$dir/vmsgd.sock' list services | grep -q '^echo '" ||
	fail "echo not offered: $(cat "$dir/echo.log")"
head -c 30000 /dev/urandom | base64 >"$dir/in.txt"
as_nobody "$cat" --service echo --linger 5000 <"$dir/in.txt" >"$dir/out.txt" 2>"$dir/nobody.log" ||
	fail "nobody's echo: $(cat "$dir/nobody.log")"
cmp -s "$dir/in.txt" "$dir/out.txt" || fail "echo across users: $(wc -c <"$dir/out.txt") bytes back of $(wc -c <"$dir/in.txt")"

# ---- vmsgctl, and a client that dies mid-session
mkfifo "$dir/hold"
setpriv --reuid=65534 --regid=65534 --clear-groups -- "$cat" --service echo <"$dir/hold" >"$dir/held.out" 2>"$dir/held.log" &
held=$!
sim_track "$held"
exec 7>"$dir/hold"
echo "still here" >&7
sim_wait 10 grep -q "still here" "$dir/held.out" || fail "held channel: no echo"
doms=$("$vmsgctl" --socket "$dir/vmsgd.sock" list domains) || fail "list domains"
grep -Eq "^[0-9]+ +connected +0 +1 +[0-9]+ +[0-9]+ +nobody +$held " <<<"$doms" ||
	fail "nobody's client (pid $held) not listed: $doms"
[ "$(grep -c ' root ' <<<"$doms")" = 2 ] || fail "expected 2 root clients: $doms"
json=$("$vmsgctl" --socket "$dir/vmsgd.sock" --json list domains) || fail "json"
grep -q "\"uid\":65534,\"pid\":$held,\"user\":\"nobody\"" <<<"$json" || fail "json domains: $json"
chans=$("$vmsgctl" --socket "$dir/vmsgd.sock" list channels) || fail "list channels"
grep -Eq " echo .* open +direct .* $hd/c/[0-9]+/[0-9]+" <<<"$chans" || fail "channels: $chans"
svcs=$("$vmsgctl" --socket "$dir/vmsgd.sock" list services) || fail "list services"
for s in kv kv.text echo; do
	grep -q "^$s " <<<"$svcs" || fail "service $s not listed: $svcs"
done
pol=$("$vmsgctl" --socket "$dir/vmsgd.sock" policy) || fail "policy"
grep -Eq "^echo +root +nobody +direct " <<<"$pol" || fail "policy's users: $pol"
grep -q "backend host, host_dir $(realpath "$hd")" <<<"$pol" || fail "policy's backend: $pol"
pj=$("$vmsgctl" --socket "$dir/vmsgd.sock" --json policy) || fail "json policy"
grep -q '"backend":"host"' <<<"$pj" || fail "json policy: $pj"
kill -KILL "$held"
sim_reap "$held"
exec 7>&-
gone() {
	! "$vmsgctl" --socket "$dir/vmsgd.sock" list domains | grep -q " nobody " &&
		! "$vmsgctl" --socket "$dir/vmsgd.sock" list channels | grep -q " echo "
}
sim_wait 10 gone || fail "the killed client stays: $("$vmsgctl" --socket "$dir/vmsgd.sock" list domains)"
grep -q "disconnected" "$dir/vmsgd.log" || fail "no disconnect logged"

# ---- several processes of one user offering and opening at once
for i in 1 2 3 4 5 6; do
	"$cat" --offer "m$i" -- cat >"$dir/m$i.log" 2>&1 &
	sim_track $!
done
sim_wait 10 sh -c "[ \$('$vmsgctl' --socket '$dir/vmsgd.sock' list services | grep -c '^m[1-6] ') = 6 ]" ||
	fail "6 providers did not all offer: $("$vmsgctl" --socket "$dir/vmsgd.sock" list services)"
pids=()
for j in 1 2 3 4 5 6; do
	i=$j
	echo "consumer $j of m$i" | "$cat" --service "m$i" --linger 5000 >"$dir/c$j.out" 2>"$dir/c$j.log" &
	pids+=($!)
done
for k in "${!pids[@]}"; do
	wait "${pids[k]}" || fail "consumer $((k + 1)): $(cat "$dir/c$((k + 1)).log")"
done
for j in 1 2 3 4 5 6; do
	i=$j
	[ "$(cat "$dir/c$j.out")" = "consumer $j of m$i" ] || fail "consumer $j got: $(cat "$dir/c$j.out")"
done

# ---- the rendezvous as docs/protocol.md writes it, and a client that
# never comes to its control channel (forgotten after 10 s)
line=$(socat -u "UNIX-CONNECT:$hd/vmsgd.sock" - 2>&1) || fail "socat: $line"
[[ $line =~ ^ok\ ([0-9]+)\ (.*)$ ]] || fail "rendezvous answered: $line"
n=${BASH_REMATCH[1]}
[ "${BASH_REMATCH[2]}" = "$(realpath "$hd")/ctl/$n" ] || fail "rendezvous path: $line"
"$vmsgctl" --socket "$dir/vmsgd.sock" list domains | grep -Eq "^$n +waiting " ||
	fail "client $n not listed as waiting: $("$vmsgctl" --socket "$dir/vmsgd.sock" list domains)"
sim_wait 20 sh -c "! '$vmsgctl' --socket '$dir/vmsgd.sock' list domains | grep -Eq '^$n '" ||
	fail "client $n that never connected is still listed"
grep -q "domain $n: never connected to its control channel" "$dir/vmsgd.log" || fail "not logged"
[ ! -e "$hd/c/$n" ] || fail "$hd/c/$n left behind"

# ---- stop
kill -TERM "$vpid"
st=0
wait "$vpid" || st=$?
sim_forget "$vpid"
[ "$st" = 0 ] || fail "vmsgd exited $st"
[ ! -e "$hd/vmsgd.sock" ] || fail "$hd/vmsgd.sock left behind"
# ---- vmsgd run by nobody cannot give root a folder: root's clients are
# told why, and 30 of them in a loop are logged within the log budget
# (log_burst = 2: 2 lines, then at most one a second)
cat >"$nd/n.conf" <<EOF
[daemon]
backend = host
host_dir = $nd/h
control_socket = $nd/ctl.sock
log_burst = 2
log_per_s = 1
EOF
setpriv --reuid=65534 --regid=65534 --clear-groups -- "$vmsgd" --foreground --config "$nd/n.conf" >"$nd/n.log" 2>&1 &
npid=$!
sim_track "$npid"
sim_wait 10 grep -q ready "$nd/n.log" || fail "nobody's vmsgd did not start: $(cat "$nd/n.log")"
t0=$(date +%s)
for i in $(seq 30); do
	line=$(socat -u "UNIX-CONNECT:$nd/h/vmsgd.sock" - 2>&1) || fail "socat: $line"
	[ "$line" = "error -13 vmsgd runs as uid 65534 and cannot give this user a folder; run vmsgd as root to serve several users" ] ||
		fail "root's client $i of nobody's vmsgd answered: $line"
done
secs=$(($(date +%s) - t0))
logged=$(grep -c "refused: vmsgd runs as uid 65534" "$nd/n.log")
[ "$logged" -ge 1 ] && [ "$logged" -le $((2 + secs + 1)) ] ||
	fail "30 refusals in ${secs} s logged $logged times (log_burst 2, log_per_s 1): $(cat "$nd/n.log")"
[ -z "$(ls -A "$nd/h/c" 2>/dev/null)" ] || fail "folders left in $nd/h/c: $(ls "$nd/h/c")"
kill -TERM "$npid"
wait "$npid" || fail "nobody's vmsgd exited $?"
sim_forget "$npid"

echo "vmsgd_host: ok (kv between root's processes, nobody refused and served, vmsgctl, a killed client cleaned up, 6 providers and 6 consumers at once, a vmsgd of nobody's refusing root within the log budget)"
