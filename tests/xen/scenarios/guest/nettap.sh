# Guest job: the inside of scenario network (96-network.sh). A TAP device
# eth1 with ADDR/24, bridged by vmsg-tap --service SERVICE (the firewall
# unikernel's inside port, brokered by vmsgd in dom0); iperf3 servers on
# TCP 5201 (allowed) and 5202 (refused by the firewall); then SECS seconds
# of service, the bridge's counters and the end.
# usage: nettap.sh SERVICE ADDR SECS
svc=$1 addr=$2 secs=$3
vmsg-tap --service "$svc" --dev eth1 --mac 02:00:5e:00:02:02 --retry-ms 200 &
tap=$!
for i in $(seq 100); do [ -e /sys/class/net/eth1 ] && break; sleep 0.1; done
ip link set lo up
ip addr add "$addr/24" dev eth1 || { echo "NETTAP no eth1"; kill "$tap"; exit 1; }
iperf3 -s -p 5201 --forceflush >/tmp/iperf3-5201.log 2>&1 &
iperf3 -s -p 5202 --forceflush >/tmp/iperf3-5202.log 2>&1 &
for i in $(seq 100); do
	grep -q "Server listening on 5202" /tmp/iperf3-5202.log 2>/dev/null &&
		grep -q "Server listening on 5201" /tmp/iperf3-5201.log 2>/dev/null && break
	sleep 0.1
done
grep -q "Server listening on 5202" /tmp/iperf3-5202.log 2>/dev/null ||
	{ echo "NETTAP no iperf3 server"; cat /tmp/iperf3-*.log; kill "$tap"; exit 1; }
echo "NETTAP ready: eth1 $addr, iperf3 on 5201 and 5202"
sleep "$secs"
kill -USR1 "$tap"
sleep 0.5
kill "$tap"
wait "$tap"
