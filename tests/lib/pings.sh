# pings NS ADDR COUNT [INTERVAL]: the pings of the network tests (sourced;
# the caller defines fail). First one reply, within 15 s: Linux applies a
# carrier change up to a second late (linkwatch) and drops what a device
# sends meanwhile, so a ping sent right after a link came up could be
# lost without any fault of ours (net_ns_xen, 1 run in 12). Then COUNT
# pings INTERVAL (0.01) s apart, each waited for up to 30 s in all (-w: a
# late reply is not counted lost): one lost fails. Prints the summary and
# the p50 of the round trips.
pings() {
	local ns=$1 to=$2 count=$3 end=$((SECONDS + 15)) out
	until ip netns exec "$ns" ping -c 1 -W 1 "$to" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || fail "no ping from $ns to $to in 15 s"
	done
	out=$(ip netns exec "$ns" ping -c "$count" -i "${4:-0.01}" -w 30 "$to") ||
		fail "ping: $out"
	echo "$out" | grep -q " 0% packet loss" || fail "ping lost packets: $out"
	echo "$out" | tail -1
	echo "ping p50: $(echo "$out" | sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -n |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }') ms"
}
