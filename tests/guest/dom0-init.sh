#!/bin/bash
# /init of run-xen.sh's dom0: the Xen toolstack, then the unikernel checks:
#   echo-msg    boot echo-unikernel (xl create), guest-echo-client over
#               libvmsg's Xen backend: 100 round trips and 16 MiB of
#               messages echoed and compared; then vmsg-cat --framed as a
#               second client of the same service; the unikernel powers
#               itself off after its two clients.
#   echo-vchan  boot it in mode=raw; Debian's libxenvchan as the client,
#               1 MiB echoed and compared; then the same over libvmsg
#               (a figure only).
#   uk-client   boot it with role=client: it connects to a libvmsg echo
#               server in dom0 (mapping dom0's grants into its free
#               guest-physical space) and checks 300 echoed messages.
#   uk-multi    boot it with multi=8: 8 channels served at once from one
#               wait set (SCHEDOP_poll on 8 ports); 8 guest-echo-clients in
#               dom0 at the same time, 100 round trips and 1 MiB each,
#               every echo compared; the unikernel reports 8 clients done.
#   uk-vmsgd    vmsgd in dom0 (policy: echo, direct mode); one unikernel
#               offers echo through it (vmsgd=1 cksum=1), a second opens
#               it (open=echo): grants between the two guests, 300 typed
#               messages of 1..40000 bytes echoed and checked; the CRC of
#               the records the provider received and of those the
#               consumer got back must equal `cksum` of what
#               guest-echo-pattern writes (an independent source,
#               computed on the host by run-xen.sh).
#   uk-vmsgd-destroy  a third consumer streams; `xl destroy` of the
#               provider mid-stream; the consumer must report the close.
#   uk-trap     boot trap-unikernel, which reads an unmapped address: the
#               domain must end crashed (not vanish in a triple fault) and
#               its console carry guest/traps.c's report: vector 14 and
#               CR2 = that address. Runs first: a unikernel that dies in
#               a later check is then known to say why.
# The kernel argument vmsg.guest_only=a,b runs only those groups (trap,
# msg, vchan, client, multi, vmsgd). Prints PASS/FAIL lines (run-xen.sh
# expects one PASS per check of the groups run, and no FAIL), FIGURE lines
# (image size, xl create -> first reply, round trip, rate) and the guests'
# consoles, then powers off.
export PATH=/opt/vmsg/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
export LD_LIBRARY_PATH=/opt/vmsg/lib
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd; do modprobe $m; done
mount -t xenfs xenfs /proc/xen
mkdir -p /run/xen /run/xenstored /var/lib/xen /var/lib/xenstored /var/log/xen/console /var/run/xen
xenstored --pid-file /run/xenstored.pid
for _ in $(seq 50); do xenstore-read /tool/xenstored >/dev/null 2>&1 && break; sleep 0.1; done
xen-init-dom0 >/dev/null
xenconsoled --pid-file /run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
echo "GUEST-XEN begin"

ELF=/boot/echo-unikernel.elf
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
console() { echo "INFO --- console of $1"; tr -d '\r' </var/log/xen/console/guest-$1.log 2>/dev/null | sed 's/^/INFO | /' | tail -n 30; }
# create NAME CMDLINE [ELF]: boot the unikernel; prints the domid.
# tsc_mode "native": RDTSC not intercepted (every intercepted instruction
# is a VM exit that QEMU's emulated SVM gets wrong now and then;
# docs/testing.md).
create() {
	cat >/tmp/$1.cfg <<-CFG
	name = "$1"
	type = "pvh"
	kernel = "${3:-$ELF}"
	cmdline = "$2"
	memory = 32
	vcpus = 1
	on_crash = "preserve"
	on_reboot = "destroy"
	cpuid = "host,rdtscp=0"
	tsc_mode = "native"
	CFG
	# xl's own messages go to the console (stderr), not into $(create).
	if ! xl create /tmp/$1.cfg >/tmp/$1.create 2>&1; then
		echo "INFO xl create $1 failed:" >&2
		sed 's/^/INFO xl: /' /tmp/$1.create >&2
		# It can report failure for a domain that did come up.
		xl domid "$1" 2>/dev/null || return 1
		return 0
	fi
	xl domid "$1" 2>/dev/null && return 0
	# Created, and gone at once (a triple fault, or an exit: on_reboot
	# and on_poweroff destroy it): say what xl and Xen said of it.
	echo "INFO xl create $1 succeeded, but the domain is gone:" >&2
	sed 's/^/INFO xl: /' /tmp/$1.create >&2
	xl dmesg 2>/dev/null | tail -n 25 | sed 's/^/INFO xen: /' >&2
	return 1
}
# crash_report NAME: why the domain NAME died, if it did: its CPU
# exception report (guest/traps.c) or what Xen logged (a triple fault:
# on_reboot = "destroy" removes the domain instead of restarting it).
crash_report() {
	local st why
	st=$(xl list "$1" 2>/dev/null | awk 'NR == 2 {print $5}')
	why=$(tr -d '\r' </var/log/xen/console/guest-$1.log 2>/dev/null | grep -a 'CPU exception' | head -n 1)
	[ -n "$why" ] || why=$(xl dmesg | grep -a -i 'triple fault\|crash' | tail -n 1)
	echo "state '${st:-gone}'${why:+: $why}"
}
# watched NAME SECS CMD...: run CMD (at most SECS s) while watching the
# domain NAME; when NAME crashes, or vanishes while CMD still runs 2 s
# later, stop CMD and return 125 (a libxenvchan client never notices a
# dead server by itself and would wait out its timeout).
watched() {
	local name=$1 secs=$2 pid st
	shift 2
	# <&0: a background command's stdin would be /dev/null otherwise.
	timeout "$secs" "$@" <&0 &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		st=$(xl list "$name" 2>/dev/null | awk 'NR == 2 {print $5}')
		if [ -z "$st" ] || [[ $st == *c* ]]; then
			sleep 2
			kill -0 $pid 2>/dev/null || break
			kill $pid 2>/dev/null
			wait $pid 2>/dev/null
			echo "INFO $name died under its client: $(crash_report "$name")" >&2
			return 125
		fi
		sleep 0.5
	done
	wait $pid
}
# gone NAME SECS: wait for the domain to have shut itself down.
gone() {
	for _ in $(seq $(($2 * 5))); do
		xl list "$1" >/dev/null 2>&1 || return 0
		xl list "$1" 2>/dev/null | awk 'NR == 2 {print $5}' | grep -q s && return 0
		sleep 0.2
	done
	return 1
}

echo "FIGURE image bytes=$(stat -c %s $ELF)"

# ---- echo-msg
run_msg() {
	local t0 D P out
	t0=$(now)
	D=$(create ukecho "port=echo peer=0 clients=2") || { echo "FAIL echo-msg: xl create failed"; return; }
	local tc=$(now)
	P=/local/domain/$D/data/vchan/0/echo
	out=$(watched ukecho 300 guest-echo-client "$D" "$P" $((16 << 20)) 2>&1); local rc=$?
	echo "INFO $out"
	if [ $rc -ne 0 ]; then echo "FAIL echo-msg: guest-echo-client rc=$rc ($(crash_report ukecho))"; console ukecho; xl destroy ukecho; return; fi
	local first=$(echo "$out" | tr ' ' '\n' | sed -n 's/^first_reply_at=//p')
	echo "FIGURE echo-msg create_s=$(sub $t0 $tc) create_to_first_reply_s=$(sub $t0 $first) $(echo "$out" | grep -o 'rtt_us=.*')"
	# Second client: vmsg-cat --framed, a few messages, echoed back.
	if command -v vmsg-cat >/dev/null; then
		seq 1 2000 >/tmp/in.txt
		watched ukecho 120 vmsg-cat --connect --xen --domid "$D" --port echo --framed --timeout 30000 --linger 15000 </tmp/in.txt >/tmp/out.txt 2>/tmp/cat.err
		if cmp -s /tmp/in.txt /tmp/out.txt; then echo "INFO vmsg-cat --framed: $(wc -c </tmp/in.txt) bytes echoed"
		else echo "FAIL echo-msg: vmsg-cat output differs ($(wc -c </tmp/out.txt) of $(wc -c </tmp/in.txt) bytes)"; cat /tmp/cat.err; console ukecho; xl destroy ukecho; return; fi
	else
		guest-echo-client "$D" "$P" 4096 quit >/dev/null 2>&1
	fi
	if ! gone ukecho 60; then echo "FAIL echo-msg: the unikernel did not power off after its clients"; console ukecho; xl destroy ukecho; return; fi
	console ukecho
	tr -d '\r' </var/log/xen/console/guest-ukecho.log | grep -q 'app_main returned 0' || { echo "FAIL echo-msg: no clean exit"; return; }
	echo "PASS echo-msg"
}

# ---- echo-vchan: Debian's libxenvchan client, raw byte stream
run_vchan() {
	local D out rc
	D=$(create ukraw "mode=raw port=raw peer=0 clients=2") || { echo "FAIL echo-vchan: xl create failed"; return; }
	out=$(watched ukraw 300 guest-vchan-echo-client "$D" /local/domain/$D/data/vchan/0/raw $((1 << 20)) 2>&1); rc=$?
	echo "INFO $out"
	# The same exchange over libvmsg, for the figures (not part of the verdict).
	local out2=$(watched ukraw 300 guest-echo-client "$D" /local/domain/$D/data/vchan/0/raw $((1 << 20)) raw 2>&1)
	echo "INFO $out2"
	echo "FIGURE echo-raw-1MiB-4KiB-lockstep libxenvchan_s=$(echo "$out" | sed -n 's/.*secs=//p') libvmsg_s=$(echo "$out2" | sed -n 's/.*secs=//p')"
	gone ukraw 60
	console ukraw
	xl destroy ukraw 2>/dev/null
	if [ $rc -eq 0 ]; then echo "PASS echo-vchan"; else echo "FAIL echo-vchan: libxenvchan client rc=$rc ($(crash_report ukraw))"; fi
}

# ---- uk-client: the unikernel as the client (it maps dom0's grants)
run_client() {
	local D out rc
	# It waits (a xenstore watch) for the server we start once we know its domid.
	D=$(create ukping "role=client port=ping peer=0 count=300") || { echo "FAIL uk-client: xl create failed"; return; }
	watched ukping 300 guest-echo-server "$D" /local/domain/0/data/vchan/$D/ping >/tmp/srv.out 2>&1 &
	local sp=$!
	wait $sp; rc=$?
	echo "INFO $(cat /tmp/srv.out)"
	gone ukping 60
	console ukping
	xl destroy ukping 2>/dev/null
	if [ $rc -eq 0 ] && tr -d '\r' </var/log/xen/console/guest-ukping.log | grep -q '^PING ok'; then
		echo "PASS uk-client"
	else
		echo "FAIL uk-client: dom0 server rc=$rc ($(crash_report ukping))"
	fi
}

# ---- uk-multi: one unikernel, 8 channels at once, one wait set
run_multi() {
	local D i rc=0 pids=()
	D=$(create ukmulti "multi=8 port=echo peer=0") || { echo "FAIL uk-multi: xl create failed"; return; }
	for i in 0 1 2 3 4 5 6 7; do
		watched ukmulti 300 guest-echo-client "$D" /local/domain/$D/data/vchan/0/echo$i $((1 << 20)) >/tmp/multi$i.out 2>&1 &
		pids+=($!)
	done
	for i in 0 1 2 3 4 5 6 7; do
		wait ${pids[i]} || { rc=1; echo "INFO uk-multi client $i failed: $(cat /tmp/multi$i.out)"; }
	done
	echo "INFO uk-multi client 0: $(cat /tmp/multi0.out)"
	gone ukmulti 60
	console ukmulti
	xl destroy ukmulti 2>/dev/null
	if [ $rc -eq 0 ] && tr -d '\r' </var/log/xen/console/guest-ukmulti.log | grep -q '^MULTI done: 8 clients'; then
		echo "PASS uk-multi"
		echo "FIGURE uk-multi $(tr -d '\r' </var/log/xen/console/guest-ukmulti.log | grep '^MULTI done' | tr ' :,' '___')"
	else
		echo "FAIL uk-multi: clients rc=$rc ($(crash_report ukmulti))"
	fi
}

# ---- uk-vmsgd: unikernel <-> unikernel through vmsgd, direct mode
# wait_console NAME PATTERN SECS
wait_console() {
	for _ in $(seq $(($3 * 5))); do
		tr -d '\r' </var/log/xen/console/guest-$1.log 2>/dev/null | grep -q "$2" && return 0
		sleep 0.2
	done
	return 1
}
run_vmsgd() {
	local vpid t0 tc DP DC out sum got line
	if ! command -v vmsgd >/dev/null || ! command -v vmsgctl >/dev/null; then
		echo "FAIL uk-vmsgd: vmsgd or vmsgctl is not in the image (not built?)"
		echo "FAIL uk-vmsgd-destroy: vmsgd or vmsgctl is not in the image"
		return
	fi
	# What the consumer will send, as `cksum` prints it (CRC, length):
	# computed on the host by run-xen.sh (guest-echo-pattern | cksum),
	# because Debian's cksum dies of SIGILL under QEMU's emulated CPU (its
	# PCLMUL code path, with XSAVE off).
	sum=$(cat /opt/vmsg/echo-300x40000.cksum 2>/dev/null)
	cat >/tmp/vmsgd.conf <<-CONF
	[daemon]
	log_level = info
	control_socket = /run/vmsgd.sock

	[service echo]
	offer = *
	open = *
	mode = direct
	ring_size = 65536
	max_msg = 65536
	CONF
	vmsgd --foreground --config /tmp/vmsgd.conf >/tmp/vmsgd.log 2>&1 &
	vpid=$!
	for _ in $(seq 100); do vmsgctl --socket /run/vmsgd.sock list domains >/dev/null 2>&1 && break; sleep 0.2; done
	t0=$(now)
	DP=$(create ukprov "vmsgd=1 svc=echo cksum=1") || { echo "FAIL uk-vmsgd: xl create (provider) failed"; kill $vpid; return; }
	if ! wait_console ukprov "^ECHO offering 'echo'" 120; then
		echo "FAIL uk-vmsgd: the provider did not offer echo ($(crash_report ukprov))"; console ukprov; sed 's/^/INFO vmsgd: /' /tmp/vmsgd.log | tail -n 20
		xl destroy ukprov; kill $vpid; return
	fi
	echo "FIGURE uk-vmsgd provider_create_to_offer_s=$(sub $t0 $(now))"
	t0=$(now)
	DC=$(create ukcons "open=echo count=300 size=40000") || { echo "FAIL uk-vmsgd: xl create (consumer) failed"; xl destroy ukprov; kill $vpid; return; }
	tc=$(now)
	if wait_console ukcons "^OPEN first echo" 120; then
		echo "FIGURE uk-vmsgd consumer_create_s=$(sub $t0 $tc) create_to_first_echo_seen_s=$(sub $t0 $(now)) (console polled every 0.2 s)"
	fi
	gone ukcons 300
	console ukcons
	out=$(tr -d '\r' </var/log/xen/console/guest-ukcons.log)
	xl destroy ukcons 2>/dev/null
	# The records that crossed the channel, as the provider received them
	# (it prints them when the consumer has closed) and as the echoes came
	# back, against the independent source.
	got=$(echo "$out" | sed -n 's/^OPEN ok 300 messages.* received cksum \([0-9]* [0-9]*\),.*/\1/p')
	wait_console ukprov "^ECHO channel .* done: " 60
	line=$(tr -d '\r' </var/log/xen/console/guest-ukprov.log 2>/dev/null | grep '^ECHO channel .* done: ' | head -n 1)
	if ! echo "$out" | grep -q '^OPEN ok 300 messages'; then
		echo "FAIL uk-vmsgd: no checked exchange (provider $(crash_report ukprov); consumer $(crash_report ukcons))"; sed 's/^/INFO vmsgd: /' /tmp/vmsgd.log | tail -n 20
	elif [ -z "$sum" ] || [ "$got" != "$sum" ]; then
		echo "FAIL uk-vmsgd: the echoes the consumer received: cksum [$got], want [$sum]"
	elif [[ $line != *" 300 messages, received cksum $sum" ]]; then
		echo "FAIL uk-vmsgd: the provider's record of the channel: [$line], want 300 messages, cksum $sum"
	elif echo "$out" | grep -q '^OPEN ok .* 0 us per round trip'; then
		# 300 round trips between two domains take time: a clock that
		# stood still (guest/time_record.h) measured none.
		echo "FAIL uk-vmsgd: the consumer's clock stood still (0 us per round trip)"
	else
		echo "PASS uk-vmsgd"
		echo "INFO uk-vmsgd: both ways cksum $sum"
		echo "FIGURE uk-vmsgd $(echo "$out" | grep -o 'first echo at uptime [0-9]* us' | tr ' ' '_') $(echo "$out" | grep '^OPEN ok' | grep -o '[0-9]* us per round trip' | tr ' ' '_') (300 msgs of 1..40000 B)"
	fi
	# ---- uk-vmsgd-destroy: the provider dies mid-stream
	DC=$(create ukcons2 "open=echo count=100000000 size=4000") || { echo "FAIL uk-vmsgd-destroy: xl create failed"; xl destroy ukprov; kill $vpid; return; }
	if ! wait_console ukcons2 "^OPEN first echo" 120; then
		echo "FAIL uk-vmsgd-destroy: no stream (consumer $(crash_report ukcons2); provider $(crash_report ukprov))"; console ukcons2; console ukprov
	else
		sleep 3
		t0=$(now)
		xl destroy ukprov
		if wait_console ukcons2 "^OPEN closed" 60; then
			echo "PASS uk-vmsgd-destroy"
			echo "FIGURE uk-vmsgd-destroy destroy_to_close_seen_s=$(sub $t0 $(now)) (VMSG_XEN_DEATH_POLL_MS 250, console polled every 0.2 s)"
		else
			echo "FAIL uk-vmsgd-destroy: the consumer did not see the close within 60 s ($(crash_report ukcons2))"
		fi
		console ukcons2
	fi
	xl destroy ukcons2 2>/dev/null; xl destroy ukprov 2>/dev/null
	console ukprov
	kill $vpid; wait $vpid; local vrc=$?
	sed 's/^/INFO vmsgd: /' /tmp/vmsgd.log | tail -n 15
	[ $vrc -eq 0 ] || echo "FAIL uk-vmsgd: vmsgd exited $vrc"
}

# ---- uk-trap: the exception report
run_trap() {
	local D st line
	D=$(create uktrap "" /boot/trap-unikernel.elf) || { echo "FAIL uk-trap: xl create failed"; return; }
	for _ in $(seq 150); do
		st=$(xl list uktrap 2>/dev/null | awk 'NR == 2 {print $5}')
		[[ ${st:-gone} == *c* || -z $st ]] && break
		sleep 0.2
	done
	sleep 1 # the console daemon's last read
	console uktrap
	line=$(tr -d '\r' </var/log/xen/console/guest-uktrap.log 2>/dev/null | grep -a 'CPU exception' | head -n 1)
	xl destroy uktrap 2>/dev/null
	if [[ ${st:-gone} != *c* ]]; then
		echo "FAIL uk-trap: the domain did not end crashed (state '${st:-gone}'; $(xl dmesg | grep -a -i 'triple' | tail -n 1))"
	elif [[ $line != *"CPU exception 14 (page fault)"*"cr2 123456789000"* ]]; then
		echo "FAIL uk-trap: no exception report naming vector 14 and cr2 123456789000: [${line}]"
	else
		echo "PASS uk-trap"
	fi
}

only=$(sed -n 's/.*vmsg.guest_only=\([^ ]*\).*/\1/p' /proc/cmdline)
want() { [ -z "$only" ] || echo ",$only," | grep -q ",$1,"; }
want trap && run_trap
want msg && run_msg
want vchan && run_vchan
want client && run_client
want multi && run_multi
want vmsgd && run_vmsgd
echo "GUEST-XEN end"
xl dmesg | grep -E '\(d[0-9]+\)' | tail -n 20 | sed 's/^/INFO dmesg /'
echo o >/proc/sysrq-trigger
sleep 30
