# lib.sh - sourced by every dom0 scenario (bash). $SCENARIO is the
# scenario's name (dom0-init.sh sets it).
#
# Results: pass / fail print the one line dom0-init.sh and run-scenarios.sh
# look for ("PASS name", "FAIL name: why") and end the scenario. figure
# prints a "FIGURE name key=value..." line that run-scenarios.sh collects.
#
# Guests: guest_create NAME TYPE JOB ARG... creates a paused guest (TYPE pv
# or pvh) that runs /opt/vmsg/guest/JOB.sh with the ARGs (words without
# ':' or spaces) and prints its domid (GUEST_MEM: MiB, 256 if unset);
# guest_unpause starts it;
# guest_wait NAME SECS waits for its "GUEST-DONE rc=N" console line and
# returns N; guest_log prints its console; guest_destroy kills it.
set -u

XS_VMSG=/opt/vmsg/bin/vmsg-xen-stream
XS_VCHAN=/opt/vmsg/bin/vchan-xen-stream
CONSOLE_DIR=/var/log/xen/console

pass() {
	echo "PASS $SCENARIO"
	exit 0
}

fail() {
	echo "FAIL $SCENARIO: $*"
	exit 1
}

figure() {
	echo "FIGURE $SCENARIO $*"
}

info() {
	echo "  [$SCENARIO] $*"
}

now() { date +%s.%N; }

# vmsgd_start CONF SOCK LOG: start vmsgd in dom0 with CONF, its output in
# LOG, and wait up to 20 s for vmsgctl to get an answer on SOCK; without
# one the scenario fails, with vmsgd's log. stop_vmsgd: SIGTERM to it, its
# exit status in $vrc, its log printed.
vmsgd_start() {
	local i
	vlog=$3
	vmsgd --foreground --config "$1" >"$vlog" 2>&1 &
	vpid=$!
	for ((i = 0; i < 100; i++)); do
		vmsgctl --socket "$2" list domains >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	stop_vmsgd
	fail "vmsgd did not answer vmsgctl"
}
stop_vmsgd() {
	kill "$vpid" 2>/dev/null
	vrc=0
	wait "$vpid" || vrc=$?
	sed 's/^/  [vmsgd] /' "$vlog"
}

# elapsed T0: seconds since T0 (from now), 1 decimal.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

guest_create() {
	local name=$1 type=$2 job=$3
	shift 3
	local args
	args=$(
		IFS=:
		echo "$*"
	)
	local cfg=/tmp/$name.cfg
	cat >"$cfg" <<-EOF
		name = "$name"
		type = "$type"
		kernel = "/boot/vmlinux"
		ramdisk = "/boot/domu.cpio"
		extra = "console=hvc0 loglevel=4 vmsg.job=$job vmsg.args=$args"
		memory = ${GUEST_MEM:-256}
		vcpus = 1
		on_crash = "preserve"
		on_reboot = "destroy"
	EOF
	# PVH guests run on QEMU's emulated SVM, whose intercepted-instruction
	# exits go wrong now and then. It reports RDTSCP as an RDTSC exit,
	# which Xen cannot emulate (the guest would spin): hide RDTSCP. And
	# Xen intercepts every RDTSC of an HVM guest when the TSC is not
	# invariant, as QEMU's is not: a PVH guest triple-faulted in the
	# kernel's PIT/TSC calibration loop (IN and RDTSC exits, 50000 rounds)
	# in two boots. tsc_mode = "native" lets RDTSC run unintercepted.
	if [ "$type" = pvh ]; then
		echo 'cpuid = "host,rdtscp=0"' >>"$cfg"
		echo 'tsc_mode = "native"' >>"$cfg"
	fi
	rm -f "$CONSOLE_DIR/guest-$name.log"
	xl create -p "$cfg" >/tmp/$name.create 2>&1 ||
		{ cat /tmp/$name.create >&2; return 1; }
	xl domid "$name"
}

# uk_cfg NAME CMDLINE [MEMORY]: /tmp/NAME.cfg for the echo unikernel
# (/boot/echo-unikernel.elf) as a PVH guest, as guest_create does for
# Linux PVH: RDTSCP hidden, RDTSC unintercepted (see above), a triple
# fault the domain's end rather than a restart; its console log cleared.
uk_cfg() {
	cat >"/tmp/$1.cfg" <<-EOF
		name = "$1"
		type = "pvh"
		kernel = "/boot/echo-unikernel.elf"
		cmdline = "$2"
		memory = ${3:-32}
		vcpus = 1
		on_crash = "preserve"
		on_reboot = "destroy"
		cpuid = "host,rdtscp=0"
		tsc_mode = "native"
	EOF
	rm -f "$CONSOLE_DIR/guest-$1.log"
}

guest_unpause() { xl unpause "$1"; }

guest_destroy() { xl destroy "$1" 2>/dev/null || true; }

guest_log() {
	echo "  --- console of guest $1"
	sed 's/\r//; s/^/  | /' "$CONSOLE_DIR/guest-$1.log" 2>/dev/null | tail -n "${2:-40}"
	echo "  ---"
}

# guest_wait NAME SECS: the guest's rc, 124 if it did not finish in time,
# 125 if its domain crashed or vanished first (a triple fault is a reboot,
# which on_reboot = "destroy" turns into the domain's end).
guest_wait() {
	local name=$1 secs=$2 i line st
	for ((i = 0; i < secs * 5; i++)); do
		line=$(grep -a '^GUEST-DONE rc=' "$CONSOLE_DIR/guest-$name.log" 2>/dev/null | tail -n 1)
		if [ -n "$line" ]; then
			line=${line#GUEST-DONE rc=}
			return "${line%% *}"
		fi
		if [ $((i % 10)) -eq 9 ]; then
			st=$(xl list "$name" 2>/dev/null | awk 'NR == 2 {print $5}')
			case $st in
			'' | *c*)
				# One more look: the last lines may just have come.
				sleep 1
				grep -aq '^GUEST-DONE rc=' "$CONSOLE_DIR/guest-$name.log" 2>/dev/null && continue
				echo "  guest $name: domain ${st:-gone (no such domain)} before GUEST-DONE"
				return 125
				;;
			esac
		fi
		sleep 0.2
	done
	return 124
}

# xen_says DOMID: what Xen logged about that domain (crash dumps, triple
# faults), from the hypervisor's ring. Its "(XEN)" mark goes: the serial
# log's reader drops every line that has it (Xen's own console output).
xen_says() {
	xl dmesg 2>/dev/null | grep -aE "(d$1v[0-9]|Dom$1 |dom$1 )" | tail -n "${2:-12}" | sed 's/(XEN) *//; s/^/  [xen] /'
}

# xen_evtchns DOMID: Xen's view of the domain's event channels (debug key
# 'e': each port's pending and masked bits, its state and peer, and which
# vCPUs sit in SCHEDOP_poll), for telling a lost event from one never sent.
xen_evtchns() {
	xl debug-keys e 2>/dev/null || return 0
	xl dmesg 2>/dev/null | tr -d '\r' | awk -v d="$1" '
		/Event channel information for domain/ { on = ($NF == d ":") }
		on' | tail -n "${2:-24}" | sed 's/(XEN) *//; s/^/  [xen evtchn] /'
}

# guest_grep NAME PATTERN: the guest's console lines matching PATTERN.
guest_grep() { sed 's/\r//' "$CONSOLE_DIR/guest-$1.log" 2>/dev/null | grep -a -- "$2"; }

# wait_file_grep FILE PATTERN SECS: wait until FILE has a line matching.
wait_file_grep() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		grep -aq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# xs_field LINES KEY: the value of KEY=value in the first XS line given.
xs_field() {
	echo "$1" | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# stream_pair TYPE SIDE SERVER_LIB CLIENT_LIB PORT XS_OPTION...
# One checked xen-stream exchange between dom0 and a fresh guest of TYPE
# (pv|pvh). SIDE says where the server runs (dom0|guest); the libraries are
# vmsg or vchan. The channel lives at the conventional path
# /local/domain/<server>/data/vchan/<client>/PORT. Returns 0 when both ends
# succeeded and each stream's checksum and length agree on both ends,
# else sets $SP_WHY, prints the guest's console and returns 1. The guest
# gets $SP_WAIT seconds (default 240) to finish, dom0's end 30 s more. Leaves the
# ends' XS lines in $SP_DOM0 and $SP_GUEST for figures.
stream_pair() {
	local type=$1 side=$2 slib=$3 clib=$4 port=$5
	shift 5
	local g=$SCENARIO-$port domid spath dpath role_d lib_d peer_d
	SP_DOM0=/tmp/$g.dom0
	SP_GUEST=/tmp/$g.guest
	if [ "$side" = dom0 ]; then
		spath="/local/domain/0/data/vchan/@DOMID@/$port"
		domid=$(guest_create "$g" "$type" stream "$clib" client 0 "$spath" "$@") ||
			{ SP_WHY="cannot create the $type guest"; return 1; }
		role_d=server lib_d=$slib
	else
		spath="/local/domain/@DOMID@/data/vchan/0/$port"
		domid=$(guest_create "$g" "$type" stream "$slib" server 0 "$spath" "$@") ||
			{ SP_WHY="cannot create the $type guest"; return 1; }
		role_d=client lib_d=$clib
	fi
	dpath=${spath//@DOMID@/$domid}
	peer_d=$domid
	local t0 dpid i
	t0=$(now)
	if [ "$side" = dom0 ]; then
		"/opt/vmsg/bin/$lib_d-xen-stream" server "$peer_d" "$dpath" "$@" >"$SP_DOM0" 2>&1 &
		dpid=$!
		guest_unpause "$g"
	else
		guest_unpause "$g"
		# The client needs the server's keys in place (libxenvchan's
		# client does not wait for them).
		for ((i = 0; i < 600; i++)); do
			xenstore-read "$dpath/event-channel" >/dev/null 2>&1 && break
			sleep 0.2
		done
		"/opt/vmsg/bin/$lib_d-xen-stream" client "$peer_d" "$dpath" "$@" >"$SP_DOM0" 2>&1 &
		dpid=$!
	fi
	local grc=0 drc=0
	guest_wait "$g" "${SP_WAIT:-240}" || grc=$?
	# The guest's end is done (or never will be): dom0's gets 30 s more.
	for ((i = 0; i < 150; i++)); do
		kill -0 "$dpid" 2>/dev/null || break
		sleep 0.2
	done
	kill "$dpid" 2>/dev/null && echo "  (dom0's end killed: still running 30 s after the guest's)"
	wait "$dpid" || drc=$?
	guest_grep "$g" '^XS ' >"$SP_GUEST"
	guest_destroy "$g"
	info "$type guest $domid, $side $role_d=$lib_d: $(elapsed "$t0") s"
	sed 's/^/  [dom0 ] /' "$SP_DOM0"
	sed 's/^/  [guest] /' "$SP_GUEST"
	if [ $grc -ne 0 ] || [ $drc -ne 0 ]; then
		guest_log "$g" 30
		xen_says "$domid"
		SP_WHY="dom0 $role_d ($lib_d) rc=$drc, guest end rc=$grc"
		[ $grc -eq 124 ] && SP_WHY+=" (no GUEST-DONE in ${SP_WAIT:-240} s)"
		[ $grc -eq 125 ] && SP_WHY+=" (the guest's domain crashed or vanished: $(xen_says "$domid" 40 | grep -aoE 'Triple fault|crashed|Unhandled[^|]*' | head -n 1))"
		return 1
	fi
	# Each stream: the sender's and the receiver's length and checksum.
	local dir sent recv
	for dir in down up; do
		sent=$(grep -h "^XS sent .*dir=$dir " "$SP_DOM0" "$SP_GUEST" | head -n 1)
		recv=$(grep -h "^XS recv .*dir=$dir " "$SP_DOM0" "$SP_GUEST" | head -n 1)
		[ -z "$sent$recv" ] && continue
		if [ "$(xs_field "$sent" bytes) $(xs_field "$sent" fnv)" != \
			"$(xs_field "$recv" bytes) $(xs_field "$recv" fnv)" ]; then
			SP_WHY="$dir stream differs: sent [$sent] received [$recv]"
			return 1
		fi
	done
	return 0
}

# stream_figures LABEL: one FIGURE line from the last stream_pair: round
# trip (as the server timed it), and each stream's rate at its receiver.
stream_figures() {
	local all rtt down up setup
	all=$(cat "$SP_DOM0" "$SP_GUEST")
	rtt=$(xs_field "$(echo "$all" | grep '^XS rtt ')" us)
	down=$(xs_field "$(echo "$all" | grep '^XS recv .*dir=down ')" MiBps)
	up=$(xs_field "$(echo "$all" | grep '^XS recv .*dir=up ')" MiBps)
	# --setup: the client's median setup (connect to first byte).
	setup=$(xs_field "$(echo "$all" | grep '^XS setup ')" p50_us)
	figure "$1 rtt_us=${rtt:-?} down_MiBps=${down:-?} up_MiBps=${up:-?}${setup:+ setup_us=$setup}"
}
