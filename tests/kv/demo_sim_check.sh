#!/usr/bin/env bash
# demo_sim: run scripts/demo-sim.sh against this build and check its result
# lines: dom2 reads back what it put (typed protobuf-c over a direct
# channel), dom3 gets the policy's refusal text, socat reads through the
# kv.text listen bridge the value dom2 put (and dom2 reads what socat
# wrote), vmsgctl lists the bridge's channel, a latency figure is printed,
# and the demo says ok. The demo removes its own directory and processes;
# this checks that none of its sockets or processes are left either.
set -uo pipefail
name=demo_sim
. "$(dirname "$0")/demo_run.sh"
need "demo: dom2 put and got back 'hello from dom2'"
need "demo: dom3 denied: vmsg-kv: open 'kv': permission denied: service 'kv': domain 3 may not open it (policy)"
need "demo: socat read 'hello from dom2' through the kv.text bridge"
need "demo: dom2 read back the value dom0 wrote through the bridge"
need "demo: latency: 500 get round trips"
need "demo: result: ok"
saw '^ +[0-9]+ +kv\.text +1 +0 ' "vmsgctl did not list the bridge's kv.text channel"
if ls -d "${TMPDIR:-/tmp}"/vmsg-demo.* 2>/dev/null | grep -q .; then
	# Another demo may run at the same time; only report.
	echo "demo_sim: note: vmsg-demo.* directories exist in ${TMPDIR:-/tmp}" >&2
fi
verdict
