# Guest job: two ends of xen-stream exchanges through vmsgd at once, as two
# processes of this guest, each on a control channel of its own (issue 15:
# several processes of a domain).
#   multi.sh ROLE PEER NAME1 NAME2 XS_OPTION...
# Each process's lines come out prefixed "XS[NAME] " when both have ended,
# with its exit status as "XS[NAME] rc=N"; while they run, every 30 s, what
# each has printed so far ("MULTI ..."), for a scenario that finds one
# stuck. The job fails unless both exit 0.
role=$1 peer=$2 n1=$3 n2=$4
shift 4
one() {
	name=$1
	shift
	/opt/vmsg/bin/vmsg-xen-stream "$role" "$peer" "svc/$name" "$@" 2>&1
	echo "XS rc=$?"
}
one "$n1" "$@" >/tmp/multi-1.log &
p1=$!
one "$n2" "$@" >/tmp/multi-2.log &
p2=$!
t=0
while kill -0 $p1 2>/dev/null || kill -0 $p2 2>/dev/null; do
	sleep 1
	t=$((t + 1))
	if [ $((t % 30)) -eq 0 ]; then
		echo "MULTI after ${t} s:"
		sed "s/^/MULTI [$n1] /" /tmp/multi-1.log
		sed "s/^/MULTI [$n2] /" /tmp/multi-2.log
	fi
done
wait $p1
wait $p2
sed "s/^XS /XS[$n1] /" /tmp/multi-1.log
sed "s/^XS /XS[$n2] /" /tmp/multi-2.log
grep -q "^XS rc=0$" /tmp/multi-1.log && grep -q "^XS rc=0$" /tmp/multi-2.log
