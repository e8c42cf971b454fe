# Peer death: a PV guest streams to a vmsg server in dom0 without end; dom0
# destroys the guest (xl destroy) mid-stream. The server must see the
# channel closed (its read fails) within a second of the destroy: of xl
# destroy returning, since the domain dies somewhere inside it and xl
# destroy alone took over 3 s on a loaded machine. Both delays are printed;
# the figure is the one from the start.
# timeout: 200
. /opt/vmsg/scenarios/lib.sh
g=$SCENARIO-g
domid=$(guest_create "$g" pv stream vmsg client 0 "/local/domain/0/data/vchan/@DOMID@/death" --up inf) ||
	fail "cannot create the guest"
out=/tmp/$g.dom0
"$XS_VMSG" server "$domid" "/local/domain/0/data/vchan/$domid/death" --up inf >"$out" 2>&1 &
spid=$!
guest_unpause "$g"
if ! wait_file_grep "$out" '^XS progress' 120; then
	guest_log "$g"
	cat "$out"
	fail "the stream never got going"
fi
t0=$(now)
xl destroy "$g"
t1=$(now)
for ((i = 0; i < 50; i++)); do
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.2
done
if kill -0 "$spid" 2>/dev/null; then
	kill "$spid"
	cat "$out"
	fail "dom0's end still reading 10 s after xl destroy"
fi
rc=0
wait "$spid" || rc=$?
cat "$out"
closed=$(grep '^XS closed ' "$out")
[ $rc -eq 0 ] && [ -n "$closed" ] || fail "dom0's end failed (rc=$rc) instead of seeing a close"
at=$(xs_field "$closed" at)
delay=$(awk -v a="$t0" -v b="$at" 'BEGIN { printf "%.3f", b - a }')
after=$(awk -v a="$t1" -v b="$at" 'BEGIN { printf "%.3f", b - a }')
info "xl destroy took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s; close seen $delay s after it began, $after s after it returned"
figure "close_after_destroy_s=$delay"
awk -v d="$after" 'BEGIN { exit !(d < 1.0) }' || fail "close seen $after s after xl destroy returned (limit 1 s)"
pass
