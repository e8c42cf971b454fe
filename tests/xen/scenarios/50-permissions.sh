# Permissions: dom0 serves a vmsg channel to guest A. Guest B, a third
# domain, must not read the channel's xenstore keys nor map its shared page
# (the grant, whose number dom0 reads and hands to B), nor connect; then A,
# whose channel it is, must read the keys and connect (the positive
# control, so that B's failures mean something).
# timeout: 300
. /opt/vmsg/scenarios/lib.sh
a=$SCENARIO-a
b=$SCENARIO-b
da=$(guest_create "$a" pv stream vmsg client 0 "/local/domain/0/data/vchan/@DOMID@/perm" --rtt 10 --down 1M --up 1M) ||
	fail "cannot create guest A"
path=/local/domain/0/data/vchan/$da/perm
"$XS_VMSG" server "$da" "$path" --rtt 10 --down 1M --up 1M >/tmp/$a.dom0 2>&1 &
spid=$!
for ((i = 0; i < 100; i++)); do
	gref=$(xenstore-read "$path/ring-ref" 2>/dev/null) && break
	sleep 0.1
done
[ -n "${gref:-}" ] || fail "the server did not publish $path/ring-ref"
info "channel for guest A ($da) at $path, ring-ref $gref, perms $(xenstore-ls -p "$path" 2>/dev/null | tr -s ' ' | tr '\n' ' ')"
db=$(guest_create "$b" pv intruder "$path" "$gref") || fail "cannot create guest B"
guest_unpause "$b"
brc=0
guest_wait "$b" 120 || brc=$?
guest_grep "$b" '^INTRUDER' | sed 's/^/  [guest B] /'
guest_destroy "$b"
[ $brc -eq 0 ] || { guest_log "$b"; fail "guest B ($db) got into A's channel (intruder rc=$brc)"; }
guest_unpause "$a"
arc=0
guest_wait "$a" 200 || arc=$?
wait "$spid" || arc=$((arc + 100))
guest_grep "$a" '^XS ' | sed 's/^/  [guest A] /'
[ $arc -eq 0 ] || { guest_log "$a"; cat /tmp/$a.dom0; fail "guest A could not use its own channel (rc=$arc)"; }
pass
