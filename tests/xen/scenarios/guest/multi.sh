# Guest job: two ends of xen-stream exchanges through vmsgd at once, as two
# processes of this guest, each on a control channel of its own (issue 15:
# several processes of a domain).
#   multi.sh ROLE PEER NAME1 NAME2 XS_OPTION...
# Each process's lines come out prefixed "XS[NAME] " when it ends, with its
# exit status as "XS[NAME] rc=N"; the job fails unless both exit 0.
role=$1 peer=$2 n1=$3 n2=$4
shift 4
one() {
	name=$1
	shift
	{
		/opt/vmsg/bin/vmsg-xen-stream "$role" "$peer" "svc/$name" "$@" 2>&1
		echo "XS rc=$?"
	} | sed "s/^XS /XS[$name] /"
}
one "$n1" "$@" >/tmp/multi-1.log &
p1=$!
one "$n2" "$@" >/tmp/multi-2.log &
p2=$!
wait $p1
wait $p2
cat /tmp/multi-1.log /tmp/multi-2.log
grep -q "^XS\[$n1\] rc=0$" /tmp/multi-1.log && grep -q "^XS\[$n2\] rc=0$" /tmp/multi-2.log
