# A unikernel service with many consumers through vmsgd, Linux PV guests
# and unikernels mixed (examples/echo-unikernel: the same appliance source
# as a PVH unikernel and, in the PV guests, as a Linux program over the
# SDK's Linux target; one vmsgd client core, lib/service, in both):
#  1. fan-out: vmsgd in dom0 (direct mode); unikernel `ukfan` offers fan
#     (vmsgd=1 cksum=1 gate=8) and serves its consumers from one wait set,
#     echoing nothing until it holds all 8 channels at once; 4 PV guests
#     and 4 unikernels open fan at the same time and exchange 300
#     typed messages of 1..40000 bytes each, every echo checked; each
#     consumer's checksum of what it sent and got back, and the
#     provider's of what each channel carried to it, must equal `cksum`
#     of the same records written by guest-echo-pattern (an independent
#     source, computed on the host by build-images.sh).
#  2. a layer: unikernel `uklayer` (vmsgd=1 svc=layer forward=fan) is a
#     provider and a consumer at once: a unikernel opens layer, the layer
#     opens fan for it and passes every message on and every echo back;
#     checksums as above, at the consumer, the layer and ukfan.
#  3. vmsgd restarts: a unikernel consumer (again=...) exchanges, pauses,
#     vmsgd is killed (SIGKILL) and started again, ukfan's vmsgd client
#     offers fan again by itself, and the consumer's second open on the
#     same control channel reaches the new vmsgd and checks out. ukfan
#     then has served its 11 channels and powers off cleanly.
# timeout: 600
. /opt/vmsg/scenarios/lib.sh

ELF=/boot/echo-unikernel.elf
sock=/run/vmsgd.sock
conf=/tmp/vmsgd-uk.conf
vlog=/tmp/vmsgd-uk.log
[ -f "$ELF" ] || fail "no $ELF in the image"
[ -x /opt/vmsg/bin/echo-appliance ] || fail "no echo-appliance in the image (examples/echo-unikernel not built)"
want=$(cat /opt/vmsg/echo-300x40000.cksum 2>/dev/null)
[ -n "$want" ] || fail "no /opt/vmsg/echo-300x40000.cksum (build-images.sh writes it from guest-echo-pattern)"
ctl() { vmsgctl --socket "$sock" "$@"; }

# uk NAME CMDLINE: create a unikernel (paused); prints its domid.
uk() {
	uk_cfg "$1" "$2"
	xl create -p /tmp/$1.cfg >/tmp/$1.create 2>&1 || { cat /tmp/$1.create >&2; return 1; }
	xl domid "$1"
}
uk_log() { tr -d '\r' <"$CONSOLE_DIR/guest-$1.log" 2>/dev/null; }
# uk_wait NAME PATTERN SECS: until the console shows PATTERN.
uk_wait() {
	for ((i = 0; i < $3 * 5; i++)); do
		uk_log "$1" | grep -aq -- "$2" && return 0
		sleep 0.2
	done
	return 1
}
# why NAME: the end of a console, for a FAIL, and Xen's view of the
# domain: its state and CPU seconds tell a guest asleep (waiting for an
# event) from one spinning.
why() {
	uk_log "$1" | tail -n 8 | sed 's/^/  | /'
	xl list "$1" 2>/dev/null | tail -n 1 | sed 's/^/  [xl list] /'
	local d
	d=$(xl domid "$1" 2>/dev/null) || return 0
	xen_says "$d" 4
	xen_evtchns "$d"
}
start_vmsgd() {
	vmsgd --foreground --config "$conf" >>"$vlog" 2>&1 &
	vpid=$!
	for ((i = 0; i < 100; i++)); do
		ctl list domains >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
cleanup() { kill "$vpid" 2>/dev/null; wait "$vpid" 2>/dev/null; sed 's/^/  [vmsgd] /' "$vlog" | tail -n 30; }

cat >"$conf" <<-EOF
	[daemon]
	log_level = info
	control_socket = $sock

	[service fan]
	offer = *
	open = *
	mode = direct
	ring_size = 65536
	max_msg = 65536

	[service layer]
	offer = *
	open = *
	mode = direct
	ring_size = 65536
	max_msg = 65536
EOF
start_vmsgd || { cleanup; fail "vmsgd did not answer vmsgctl"; }

# ---- 1. fan-out
dfan=$(uk ukfan "vmsgd=1 svc=fan cksum=1 clients=11 gate=8") || { cleanup; fail "cannot create ukfan"; }
xl unpause ukfan
uk_wait ukfan "^ECHO offering 'fan'" 120 || { why ukfan; cleanup; fail "ukfan did not offer fan"; }
info "ukfan (domain $dfan) offers fan"
pv=() ukc=()
for i in 1 2 3 4; do
	GUEST_MEM=160 guest_create "pvfan$i" pv appliance open=fan count=300 size=40000 >/dev/null ||
		{ cleanup; fail "cannot create PV guest pvfan$i"; }
	pv+=("pvfan$i")
	uk "ukc$i" "open=fan count=300 size=40000" >/dev/null || { cleanup; fail "cannot create ukc$i"; }
	ukc+=("ukc$i")
done
t0=$(now)
for g in "${pv[@]}" "${ukc[@]}"; do guest_unpause "$g"; done
bad=
for g in "${pv[@]}"; do
	guest_wait "$g" 300
	rc=$?
	line=$(uk_log "$g" | grep -a '^OPEN ok 300 messages' | head -n 1)
	if [ $rc -ne 0 ] || [[ $line != *" received cksum $want, "* ]]; then
		guest_log "$g" 15
		bad+=" $g(rc=$rc)"
	fi
done
for g in "${ukc[@]}"; do
	if ! uk_wait "$g" 'app_main returned' 120 ||
		! uk_log "$g" | grep -aq "^OPEN ok 300 messages.* received cksum $want, "; then
		why "$g"
		bad+=" $g"
	fi
	xl destroy "$g" 2>/dev/null
done
info "8 consumers done after $(elapsed "$t0") s"
if [ -n "$bad" ]; then
	# What ukfan saw of each channel (opened, done, errors).
	uk_log ukfan | grep -a '^ECHO' | tail -n 24 | sed 's/^/  [ukfan] /'
	why ukfan
	cleanup
	fail "consumers without a checked exchange:$bad"
fi
uk_wait ukfan '^ECHO channel .* done: ' 10
n=$(uk_log ukfan | grep -ac "^ECHO channel .* done: 5967450 bytes, 300 messages, received cksum $want$")
[ "$n" -eq 8 ] || { why ukfan; cleanup; fail "ukfan's record: $n of 8 channels carried the 300 records (cksum $want)"; }
# The most channels ukfan held at once, from its console's order.
max=0 cur=0
while IFS= read -r line; do
	case $line in
	*" opened 'fan'") cur=$((cur + 1)); [ $cur -gt $max ] && max=$cur ;;
	*" done: "*) cur=$((cur - 1)) ;;
	esac
done <<<"$(uk_log ukfan | grep -a '^ECHO channel ')" # (dom0 has no /dev/fd for <(...))
# gate=8 held every echo until the 8 were open, so none could finish
# before the last came: the 8 were open together.
[ "$max" -eq 8 ] && uk_log ukfan | grep -aq '^ECHO gate open: 8 channels open at once' ||
	{ why ukfan; cleanup; fail "ukfan never held the 8 channels at once (most: $max)"; }
figure "fan_out consumers=8 pv=4 unikernels=4 most_open_at_once=$max seconds=$(elapsed "$t0")"
info "fan-out: 8 consumers (4 PV, 4 unikernels), every exchange cksum $want both ways; at most $max channels open together"

# ---- 2. a layer: provider of layer and consumer of fan at once
dl=$(uk uklayer "vmsgd=1 svc=layer forward=fan cksum=1 clients=1") || { cleanup; fail "cannot create uklayer"; }
xl unpause uklayer
uk_wait uklayer "^ECHO offering 'layer' through vmsgd, forwarding to fan" 120 || { why uklayer; cleanup; fail "uklayer did not offer layer"; }
{ uk ukl "open=layer count=300 size=40000" >/dev/null && xl unpause ukl; } || { cleanup; fail "cannot create ukl"; }
uk_wait ukl 'app_main returned' 180 || true
uk_log ukl | grep -aq "^OPEN ok 300 messages.* received cksum $want, " || { why ukl; why uklayer; cleanup; fail "the layer's consumer has no checked exchange"; }
uk_wait uklayer 'app_main returned 0' 30 || { why uklayer; cleanup; fail "uklayer did not end cleanly"; }
uk_log uklayer | grep -aq "^ECHO channel .* done: 5967450 bytes, 300 messages, received cksum $want$" ||
	{ why uklayer; cleanup; fail "uklayer's record of its channel is not the 300 records"; }
uk_log ukfan | grep -aq "domain $dl opened 'fan'" || { why ukfan; cleanup; fail "uklayer (domain $dl) did not open fan"; }
xl destroy ukl 2>/dev/null; xl destroy uklayer 2>/dev/null
info "layer: uklayer (domain $dl) served layer over fan, 300 records through both (cksum $want)"

# ---- 3. vmsgd restarts under the provider and a consumer
dr=$(uk ukr "open=fan count=300 size=40000 again=20000") || { cleanup; fail "cannot create ukr"; }
xl unpause ukr
uk_wait ukr '^OPEN again in' 120 || { why ukr; cleanup; fail "ukr's first exchange did not finish"; }
kill -KILL "$vpid"; wait "$vpid" 2>/dev/null
echo "---- vmsgd killed, started again" >>"$vlog"
t1=$(now)
start_vmsgd || { cleanup; fail "vmsgd did not come back"; }
for ((i = 0; i < 300; i++)); do
	ctl --json list services 2>/dev/null | grep -q "\"name\":\"fan\",\"provider\":$dfan" && break
	sleep 0.2
done
ctl --json list services 2>/dev/null | grep -q "\"name\":\"fan\",\"provider\":$dfan" ||
	{ why ukfan; cleanup; fail "ukfan did not offer fan again to the restarted vmsgd"; }
reoffer=$(elapsed "$t1")
uk_wait ukr 'app_main returned' 120 || true
n=$(uk_log ukr | grep -ac "^OPEN ok 300 messages.* received cksum $want, ")
[ "$n" -eq 2 ] || { why ukr; cleanup; fail "ukr: $n of 2 checked exchanges across the restart"; }
sed -n '/^---- vmsgd killed/,$p' "$vlog" | grep -q "domain $dr -> 'fan'" ||
	{ cleanup; fail "ukr's second open did not reach the restarted vmsgd"; }
uk_wait ukfan 'app_main returned 0' 60 || { why ukfan; cleanup; fail "ukfan did not end cleanly after its 11 channels"; }
xl destroy ukr 2>/dev/null; xl destroy ukfan 2>/dev/null
figure "vmsgd_restart reoffer_s=$reoffer"
info "vmsgd restart: fan offered again after $reoffer s, ukr's second open went through the new vmsgd (cksum $want)"
cleanup
pass
