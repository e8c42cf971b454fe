#!/usr/bin/env bash
# vmsgd_metrics: vmsgd's Prometheus endpoint ([daemon] metrics,
# docs/vmsgd.md "Metrics") on the simulated Xen.
#  - vmsgd listens on tcp:127.0.0.1:0 (the kernel picks the port; the
#    "metrics on" log line names it); a relayed `echo` of dom1 carries a
#    stream from dom2 (the echo appliance, 1000000 messages: it runs for
#    the test) and dom3 is refused by the policy (and stays up: a guest's
#    series end with it);
#  - GET /metrics: the build info, the channel's bytes towards the
#    provider growing between two scrapes, dom3's refusal counted; the
#    text passes `promtool check metrics`; /other is 404, POST is 405;
#  - a real Prometheus server, started here on loopback with the endpoint
#    as its only target, scrapes it: its query API returns
#    vmsgd_build_info 1 and a vmsgd_channel_bytes_total above 0;
#  - the same endpoint on a UNIX socket (unix:PATH), removed when vmsgd
#    stops; an address that is not loopback is refused by --check-config.
# usage: metrics.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/../lib/sim.sh"
sim_init metrics "$1"
app=$build/examples/echo-unikernel/echo-appliance
sim_need "$app"
for t in curl promtool prometheus; do
	command -v "$t" >/dev/null || fail "$t missing (scripts/deps.sh installs it)"
done

conf() { # EXTRA-DAEMON-LINE
	cat >"$dir/vmsgd.conf" <<-EOF
	[daemon]
	log_level = info
	control_socket = $dir/vmsgd.sock
	$1

	[service echo]
	offer = 1
	open = 2
	mode = relayed
	EOF
}

# --check-config refuses a metrics address that is not loopback.
conf "metrics = tcp:0.0.0.0:9100"
out=$("$vmsgd" --check-config "$dir/vmsgd.conf" 2>&1) && fail "a non-loopback metrics address was accepted: $out"
grep -q "must be loopback" <<<"$out" || fail "no loopback message: $out"

conf "metrics = tcp:127.0.0.1:0"
sim_start
sim_vmsgd "$dir/vmsgd.conf"
url=$(sed -n 's/.*metrics on \(http:[^ ]*\).*/\1/p' "$dir/vmsgd.log" | head -n 1)
[ -n "$url" ] || fail "vmsgd did not say where its metrics are"
echo "metrics: $url"
hostport=${url#http://}
hostport=${hostport%%/*}

sim_run 1 "$dir/provider.log" "$app" vmsgd=1 svc=echo
sim_wait 10 grep -q "offering 'echo'" "$dir/provider.log" || fail "no provider"
sim_run 2 "$dir/consumer.log" "$app" open=echo count=1000000 size=1000
sim_wait 20 grep -q "first echo" "$dir/consumer.log" || fail "no stream"
# dom3 stays up after its refusal (a guest's series end with the guest).
sim_run 3 "$dir/denied.log" sh -c '"$1" open=echo count=1; echo "exit $?"; exec sleep 600' sh "$app"
sim_wait 20 grep -q "^exit " "$dir/denied.log" || fail "dom3's consumer did not end"
grep -q "refused" "$dir/denied.log" || fail "dom3 was not refused: $(cat "$dir/denied.log")"

# bytes_to_provider FILE: the stream's channel counter in a scrape.
bytes_to_provider() {
	sed -n 's/^vmsgd_channel_bytes_total{.*service="echo".*direction="to_provider"} \([0-9]*\)$/\1/p' "$1" | head -n 1
}
curl -sf "$url" >"$dir/m1.txt" || fail "GET /metrics failed"
sleep 1
curl -sf "$url" >"$dir/m2.txt" || fail "second GET /metrics failed"
grep -q '^vmsgd_build_info{version="[^"]*"} 1$' "$dir/m1.txt" || fail "no build info"
b1=$(bytes_to_provider "$dir/m1.txt") b2=$(bytes_to_provider "$dir/m2.txt")
[ -n "$b1" ] && [ -n "$b2" ] && [ "$b2" -gt "$b1" ] ||
	fail "the relayed channel's bytes did not grow: '$b1' then '$b2'"
grep -q '^vmsgd_channels{mode="relayed"} 1$' "$dir/m2.txt" || fail "not one relayed channel"
grep -q '^vmsgd_guest_refused_total{domain="3"} 1$' "$dir/m2.txt" ||
	fail "dom3's refusal not counted: $(grep 'domain="3"' "$dir/m2.txt")"
promtool check metrics <"$dir/m2.txt" >"$dir/promtool.txt" 2>&1 ||
	fail "promtool check metrics: $(cat "$dir/promtool.txt")"
echo "metrics: bytes to the provider $b1 -> $b2; promtool: ok"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$hostport/other")" = 404 ] || fail "/other is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url")" = 405 ] || fail "POST is not 405"

# A real Prometheus scrapes it. Its port: a free one the kernel picks.
pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$dir/prometheus.yml" <<-EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: vmsgd
    static_configs:
      - targets: ["$hostport"]
EOF
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
	--web.listen-address="127.0.0.1:$pport" >"$dir/prometheus.log" 2>&1 &
sim_track $!
query() { # EXPR: the first sample's value, or nothing
	curl -sf "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
got=
for _ in $(seq 150); do
	got=$(query 'max(vmsgd_channel_bytes_total{direction="to_provider"})' 2>/dev/null)
	[ -n "$got" ] && [ "$(query vmsgd_build_info 2>/dev/null)" = 1 ] && break
	got=
	sleep 0.2
done
[ -n "$got" ] && awk -v g="$got" 'BEGIN { exit !(g > 0) }' ||
	fail "Prometheus did not read the counter back (last: '$got'); $(tail -n 5 "$dir/prometheus.log")"
echo "metrics: Prometheus on 127.0.0.1:$pport read vmsgd_channel_bytes_total = $got"

# On a UNIX socket, removed when vmsgd stops.
kill -TERM "$vmsgd_pid"
sim_reap "$vmsgd_pid" >/dev/null
conf "metrics = unix:$dir/metrics.sock"
sim_vmsgd "$dir/vmsgd.conf" vmsgd2.log
curl -sf --unix-socket "$dir/metrics.sock" http://localhost/metrics >"$dir/m3.txt" ||
	fail "GET /metrics on the UNIX socket failed"
grep -q '^vmsgd_build_info' "$dir/m3.txt" || fail "no build info on the UNIX socket"
kill -TERM "$vmsgd_pid"
sim_reap "$vmsgd_pid" >/dev/null
[ ! -e "$dir/metrics.sock" ] || fail "the metrics socket outlived vmsgd"
echo "metrics: ok"
