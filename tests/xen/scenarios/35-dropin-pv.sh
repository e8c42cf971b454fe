# The drop-in libxenvchan (dropin/, docs/libxenvchan.md) on real Xen:
# Debian's unmodified vchan-socket-proxy runs in dom0 on the drop-in
# (LD_LIBRARY_PATH), as the vchan client, against the same program on
# Debian's own libxenvchan in a PV guest, the vchan server in front of a
# UNIX echo socket. 4 MiB written into dom0's proxy socket must come back
# through both proxies and the echo, every byte in order (unix-check),
# and dom0's proxy must have mapped the drop-in, not Debian's library.
# timeout: 300
. /opt/vmsg/scenarios/lib.sh

PROXY=/usr/lib/xen-4.17/bin/vchan-socket-proxy
DROPIN=/opt/vmsg/vchan-dropin
[ -x "$PROXY" ] || fail "no $PROXY in dom0 (xen-utils-4.17)"
[ -e "$DROPIN/libxenvchan.so.4.17" ] || fail "no drop-in in $DROPIN (dropin/ not built)"
g=$SCENARIO-g
d=$(GUEST_MEM=160 guest_create "$g" pv proxy) || fail "cannot create the guest"
guest_unpause "$g"
path=/local/domain/$d/data/vchan/0/proxy
for ((i = 0; i < 600; i++)); do
	xenstore-read "$path/event-channel" >/dev/null 2>&1 && break
	sleep 0.2
done
xenstore-read "$path/event-channel" >/dev/null 2>&1 ||
	{ guest_log "$g" 20; guest_destroy "$g"; fail "the guest's proxy did not publish $path"; }
LD_LIBRARY_PATH=$DROPIN:/opt/vmsg/lib "$PROXY" -m client "$d" "$path" /tmp/dropin-cli.sock \
	>/tmp/dropin-proxy.log 2>&1 &
ppid=$!
out=$(timeout 120 /opt/vmsg/bin/unix-check send /tmp/dropin-cli.sock $((4 << 20)) 2>&1)
rc=$?
maps=$(grep -o '/[^ ]*libxenvchan[^ ]*' "/proc/$ppid/maps" 2>/dev/null | sort -u)
# Whether dom0's proxy was still there when unix-check ended, and how it
# ends: a proxy that waited through unix-check's timeout dies of SIGPIPE
# (141) on its next write to the socket unix-check left, one that failed
# says so in its log (printed below).
pstate=$(sed -n 's/^State:[[:space:]]*//p' "/proc/$ppid/status" 2>/dev/null)
pwchan=$(cat "/proc/$ppid/wchan" 2>/dev/null)
kill "$ppid" 2>/dev/null; wait "$ppid" 2>/dev/null; pst=$?
info "dom0: $out"
info "dom0's proxy mapped: ${maps:-nothing}; state ${pstate:-gone}${pwchan:+ in $pwchan}; exit status $pst"
guest_destroy "$g"
if [ $rc -ne 0 ]; then
	sed 's/^/  [proxy] /' /tmp/dropin-proxy.log | tail -n 10
	guest_log "$g" 20
	fail "unix-check rc=$rc"
fi
[[ $maps == "$DROPIN/libxenvchan.so"* ]] || fail "dom0's proxy ran on [${maps:-?}], not the drop-in"
figure "lib=dropin guest=pv-debian $(echo "$out" | grep -o 'secs=.*') bytes=$((4 << 20))"
pass
