#!/usr/bin/env bash
# net_cli: what vmsg-tap, l2switch and firewall (the host-backend builds
# and, when given, the SDK builds l2switch-appliance and firewall-appliance)
# say to wrong usage: the exit status (2 usage, 1 a failure) and a message
# naming the cause.
# usage: net_cli.sh VMSG_TAP L2SWITCH FIREWALL [L2SWITCH_SDK FIREWALL_SDK]
set -uo pipefail
tap=$1 sw=$2 fw=$3 swx=${4:-} fwx=${5:-}
fails=0
# expect STATUS PATTERN CMD...: CMD exits STATUS and its output has PATTERN.
expect() {
	local want=$1 pat=$2 out st
	shift 2
	out=$("$@" 2>&1)
	st=$?
	if [ "$st" != "$want" ] || ! grep -q -- "$pat" <<<"$out"; then
		echo "FAIL: $* -> status $st (want $want), output:"
		echo "$out"
		fails=$((fails + 1))
	else
		echo "ok: $(basename "$1") ${*:2} -> $st: $(head -1 <<<"$out")"
	fi
}
expect 0 "^vmsg-tap [0-9]" "$tap" --version
expect 0 "--netns NAME" "$tap" --help
expect 2 "give --connect PATH, --listen PATH, --service NAME or --xen DOMID --port NAME" "$tap"
expect 0 "--xen DOMID" "$tap" --help
expect 2 "--xen DOMID and --port NAME go together" "$tap" --xen 1
expect 2 "--xen DOMID and --port NAME go together" "$tap" --port sw0
expect 2 "bad domain '32752'" "$tap" --xen 32752 --port sw0
expect 2 "bad domain 'x'" "$tap" --xen x --port sw0
expect 2 "port name 'a/b'" "$tap" --xen 1 --port a/b
expect 2 "give one of --connect, --listen, --service and --xen, once" "$tap" --xen 1 --port a --service s
expect 2 "bad MTU '9001' (68..9000)" "$tap" --connect /x --mtu 9001
expect 2 "bad MAC 'zz'" "$tap" --connect /x --mac zz
expect 2 "give one of --connect, --listen, --service and --xen, once" "$tap" --connect /x --listen /y
expect 2 "device name" "$tap" --connect /x --dev 0123456789abcdefg
expect 2 "unexpected argument 'extra'" "$tap" --connect /x extra
expect 2 "needs an argument" "$tap" --connect
expect 1 "network namespace /run/netns/no-such-ns-$$: No such file or directory" \
	"$tap" --connect /x --netns no-such-ns-$$
expect 0 "^l2switch [0-9]" "$sw" --version
expect 0 "age=SECONDS" "$sw" --help
expect 2 "give dir=DIR" "$sw"
expect 2 "bad value: ports=99" "$sw" dir=/tmp ports=99
expect 2 "unknown option: colour=blue" "$sw" dir=/tmp colour=blue
expect 1 "serving port 0 at /no/such/dir/port0: No such file or directory" "$sw" dir=/no/such/dir
expect 0 "tcp=P" "$fw" --help
expect 2 "bad value: tcp=abc" "$fw" dir=/tmp tcp=abc
expect 2 "bad value: out=maybe" "$fw" dir=/tmp out=maybe
expect 2 "service=: this is the host-backend build" "$sw" dir=/tmp service=sw
if [ -n "$swx" ]; then
	expect 0 "port=xen:DOMID:NAME" "$swx" --help
	# The SDK builds name themselves, not the host-backend programs
	# l2switch and firewall, whose arguments differ (dir=DIR).
	expect 0 "^usage: l2switch-appliance \[port=" "$swx" --help
	expect 0 "the unikernel l2switch-unikernel: the same words" "$swx" --help
	expect 0 "^usage: firewall-appliance \[port=" "$fwx" --help
	expect 0 "age=SECONDS" "$swx" --help
	expect 2 "no ports: give port=xen:DOMID:NAME or service=NAME" "$swx"
	expect 2 "bad port" "$swx" port=xen:0
	expect 2 "bad port" "$swx" port=xen:x:a
	expect 2 "bad port" "$swx" port=tap:0:a
	expect 2 "bad port" "$swx" port=xen:32752:a
	expect 2 "bad port" "$swx" port=xen:0:a/b
	expect 2 "bad port" "$swx" port=xen:0:a,xen:0:a
	expect 2 "bad port" "$swx" port=xen:0:a,
	expect 2 "bad or repeated service name" "$swx" service=a service=b
	expect 2 "bad or repeated service name" "$swx" service=
	expect 2 "bad value (0..3600 seconds): 'stats=x'" "$swx" service=s stats=x
	expect 2 "bad value: ports=99" "$swx" service=s ports=99
	expect 2 "unknown option: colour=blue" "$swx" service=s colour=blue
	expect 2 "3 port= channels for 2 ports" "$swx" port=xen:0:a,xen:0:b port=xen:0:c ports=2
	expect 0 "tcp=P" "$fwx" --help
	expect 2 "bad value: tcp=abc" "$fwx" port=xen:0:a tcp=abc
	expect 2 "3 port= channels for 2 ports" "$fwx" port=xen:0:a,xen:0:b,xen:0:c
fi
[ $fails = 0 ] || { echo "net_cli: $fails failed"; exit 1; }
echo "net_cli: ok"
