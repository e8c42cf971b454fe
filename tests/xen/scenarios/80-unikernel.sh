# The echo unikernel (examples/echo-unikernel, a PVH appliance of a few
# tens of KiB, docs/unikernel.md) in the same boot as the Linux PV guests,
# so that its figures stand beside theirs: xl create of the appliance, then
# dom0's guest-echo-client (tests/guest/echo_client.c, libvmsg's Xen
# backend) connects to its channel, times 500 round trips of 64-byte typed
# messages (dom0's end timing, as vmsg-pv's --rtt 500 --msg), and sends
# 16 MiB in 32 KiB typed messages that the appliance echoes back: 16 MiB
# each way, every echo compared byte for byte in dom0, and the appliance's
# own count of what it echoed must match to the byte. A last message of the
# echo's quit type ends the service and the appliance powers itself off.
# Figures: the image size, xl create to the first echoed message in dom0,
# the round trip (rtt_us, the format of vmsg-pv's line; run-scenarios.sh
# prints it next to the Linux PV guest's) and the lock-step echo rate.
# timeout: 300
. /opt/vmsg/scenarios/lib.sh

ELF=/boot/echo-unikernel.elf
CLIENT=/opt/vmsg/bin/guest-echo-client
RTT_N=500
BYTES=$((16 << 20))
[ -f "$ELF" ] || fail "no $ELF in the image (the build has no echo-unikernel target: x86-64 GCC, guest/)"
[ -x "$CLIENT" ] || fail "no $CLIENT in the image (tests/guest.cmake builds it with the unikernel)"

name=ukecho
cfg=/tmp/$name.cfg
# As tests/guest/dom0-init.sh boots it (lib.sh's uk_cfg).
uk_cfg "$name" "port=echo peer=0 clients=1"

# True when the domain is gone or has shut itself down.
uk_down() {
	local st
	st=$(xl list "$name" 2>/dev/null | awk 'NR == 2 {print $5}')
	[ -z "$st" ] || [[ $st == *s* ]]
}

figure "image_bytes=$(stat -c %s "$ELF")"
t0=$(now)
if ! xl create "$cfg" >/tmp/$name.create 2>&1; then
	# xl can report failure for a domain that did come up.
	sed 's/^/  [xl] /' /tmp/$name.create
	xl domid "$name" >/dev/null 2>&1 || fail "xl create failed"
fi
tc=$(now)
domid=$(xl domid "$name") || fail "no domain $name after xl create"
info "unikernel domain $domid, xl create took $(awk -v a="$t0" -v b="$tc" 'BEGIN { printf "%.1f", b - a }') s"

out=$(timeout 240 "$CLIENT" "$domid" "/local/domain/$domid/data/vchan/0/echo" "$BYTES" quit rtt=$RTT_N 2>&1)
rc=$?
echo "$out" | sed 's/^/  [dom0 ] /'
if [ $rc -ne 0 ]; then
	guest_log "$name" 30
	xen_says "$domid"
	guest_destroy "$name"
	fail "guest-echo-client rc=$rc"
fi

# The appliance powers off after the quit message.
for ((i = 0; i < 300; i++)); do
	uk_down && break
	sleep 0.2
done
uk_down || { guest_log "$name" 30; guest_destroy "$name"; fail "the unikernel did not power off after the quit message"; }
guest_grep "$name" '^ECHO ' | sed 's/^/  [uk   ] /'
guest_destroy "$name"

# What it echoed, by its own count: the first round trip, the timed ones,
# the stream in 32 KiB messages, the 4-byte quit.
want_b=$(((RTT_N + 1) * 64 + BYTES + 4))
want_m=$((RTT_N + 1 + (BYTES + 32767) / 32768 + 1))
done_line=$(guest_grep "$name" '^ECHO client 1 done: ')
[[ $done_line == *" done: $want_b bytes, $want_m messages "* ]] ||
	{ guest_log "$name" 30; fail "the unikernel echoed [${done_line:-nothing}], not $want_b bytes in $want_m messages"; }
guest_grep "$name" 'app_main returned 0' >/dev/null ||
	{ guest_log "$name" 30; fail "no clean exit of the unikernel"; }

field() { echo "$out" | grep '^ECHO-CLIENT ok ' | tr ' ' '\n' | sed -n "s/^$1=//p"; }
first=$(field first_reply_at)
uptime_us=$(guest_grep "$name" '^ECHO first message at uptime ' | sed -n 's/.* uptime \([0-9]*\) us.*/\1/p' | head -n 1)
figure "create_s=$(awk -v a="$t0" -v b="$tc" 'BEGIN { printf "%.2f", b - a }')" \
	"create_to_first_message_s=$(awk -v a="$t0" -v b="$first" 'BEGIN { printf "%.2f", b - a }')" \
	"uk_uptime_at_first_message_us=${uptime_us:-?}"
figure "lib=vmsg guest=unikernel mode=msg rtt_us=$(field rtt_us) echo_MiBps=$(field MiBps) (16 MiB echoed in 32 KiB messages, lock-step)"
pass
