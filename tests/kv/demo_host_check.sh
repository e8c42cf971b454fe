#!/usr/bin/env bash
# demo_host: run scripts/demo-host.sh (the key-value demo through vmsgd in
# host mode, no Xen, no simulator) against this build and check its result
# lines: the client reads back what it put over a direct channel, the open
# of kv.text gets the policy's refusal naming the user, vmsgctl lists the
# server's client with its user, a latency figure is printed, and the demo
# says ok.
set -uo pipefail
name=demo_host
. "$(dirname "$0")/demo_run.sh"
user=$(id -un)
need "demo: the client put and got back 'hello from a plain process'"
need "demo: refused: vmsg-kv: open 'kv.text': permission denied: service 'kv.text': user $user (uid $(id -u)) may not open it (policy)"
need "demo: latency: 500 get round trips"
need "demo: result: ok"
saw "^ +[0-9]+ +connected +2 +0 +[0-9]+ +[0-9]+ +$user " "vmsgctl did not list the server's client as $user"
verdict
