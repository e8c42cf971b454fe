# Guest job: try to get into a channel that is not this guest's.
#   intruder.sh PATH GREF
# Exit 0 when every attempt was refused; 1 when any succeeded.
path=$1 gref=$2 rc=0
for key in ring-ref event-channel; do
	if v=$(xenstore-read "$path/$key" 2>&1); then
		echo "INTRUDER read $path/$key = $v"
		rc=1
	else
		echo "INTRUDER refused read $path/$key: $v"
	fi
done
if out=$(xenstore-ls "$path" 2>&1); then
	echo "INTRUDER listed $path: $(echo "$out" | tr '\n' ' ')"
	[ -n "$out" ] && rc=1
else
	echo "INTRUDER refused list $path"
fi
out=$(xen-grant-probe 0 "$gref" 2>&1)
prc=$?
echo "INTRUDER $out"
[ $prc -eq 1 ] || rc=1
# The vmsg client fails to find readable keys (it must not hang or connect).
out=$(vmsg-xen-stream client 0 "$path" --rtt 1 --wait 5 2>&1)
crc=$?
echo "INTRUDER connect rc=$crc: $(echo "$out" | tail -n 1)"
[ $crc -ne 0 ] || rc=1
exit $rc
