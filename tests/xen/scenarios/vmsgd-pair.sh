# vmsgd-pair.sh - sourced by 70-vmsgd-direct.sh and 71-vmsgd-relayed.sh
# with MODE=direct or MODE=relayed (not a scenario itself: no NN- prefix).
#
# vmsgd in dom0 with two PV guests: guest A offers the service xs.stream,
# guest B opens it through vmsgd and they run the checked exchange: round
# trips, 4 MiB each way as typed messages, both ends' checksums compared.
# While A holds the channel open after the streams, vmsgctl must list
# exactly that channel, open, in MODE, provider A, consumer B:
#   direct   A's library serves it for B under A's own xenstore directory
#            (grants between the two guests, no dom0 copy), and vmsgd named
#            B to A as the consumer;
#   relayed  A serves it for dom0, vmsgd serves B's end under
#            /local/domain/0/data/vmsgd/relay/ and copies every message, so
#            A sees consumer 0 and vmsgd's counters must show the 4 MiB
#            (and more: the round trips) having passed each way.
# Then B is destroyed (xl destroy) and vmsgctl must show its channel and its
# domain gone; A ends cleanly; vmsgd exits 0 on SIGTERM.
#
# With FAN=N (70-vmsgd-direct.sh), before the exchange, on the same
# control channels: B holds N channels of xs.stream.fan at once (1 KiB
# rings: one page each, well inside gntalloc's default limit of 1024
# pages), one echoed message on each (xen_stream --fan); vmsgctl must list
# exactly N open channels of it, from A to B, while B holds them, and none
# once B has closed them all. The service has spare = yes and a limit of
# exactly N: each open after the first takes the spare A's library served
# ahead of it (vmsgctl counts N - 1 such opens), and none is left over
# once B holds N.
. /opt/vmsg/scenarios/lib.sh
a=$SCENARIO-a
b=$SCENARIO-b
svc=xs.stream
xsopts="--msg --rtt 200 --down 4M --up 4M"
[ -n "${FAN:-}" ] && xsopts="$xsopts --fan $FAN --fan-hold 5"
hold=25
conf=/tmp/vmsgd.conf
sock=/run/vmsgd.sock
vlog=/tmp/vmsgd.log
ctl() { vmsgctl --socket "$sock" "$@"; }

# shellcheck disable=SC2086 # the options are words
da=$(guest_create "$a" pv stream vmsg server 0 "svc/$svc" $xsopts --hold $hold) ||
	fail "cannot create guest A"
# shellcheck disable=SC2086
db=$(guest_create "$b" pv stream vmsg client "$da" "svc/$svc" $xsopts) ||
	fail "cannot create guest B"
cat >"$conf" <<-EOF
	[daemon]
	log_level = info
	control_socket = $sock

	[service $svc]
	offer = $da
	open = $db
	mode = $MODE

	[service $svc.fan]
	offer = $da
	open = $db
	mode = $MODE
	ring_size = 1024
	max_channels_per_domain = ${FAN:-9}
	spare = $([ -n "${FAN:-}" ] && echo yes || echo no)
EOF
vmsgd_start "$conf" "$sock" "$vlog"
info "guest A (provider) $da, guest B (consumer) $db; vmsgd up"
t0=$(now)
guest_unpause "$a"
guest_unpause "$b"

# count_fan: the channels of xs.stream.fan that vmsgctl lists.
count_fan() { ctl --json list channels | grep -o "\"service\":\"$svc.fan\"" | wc -l; }
if [ -n "${FAN:-}" ]; then
	if ! wait_file_grep "$CONSOLE_DIR/guest-$b.log" '^XS fan open' 300; then
		guest_log "$a"
		guest_log "$b"
		stop_vmsgd
		fail "guest B did not get $FAN channels of $svc.fan open at once"
	fi
	n=$(count_fan)
	held="\"service\":\"$svc.fan\",\"provider\":$da,\"consumer\":$db,\"state\":\"open\",\"mode\":\"$MODE\""
	m=$(ctl --json list channels | grep -oF -- "$held" | wc -l)
	fo=$(guest_grep "$b" '^XS fan open')
	info "B holds $FAN channels of $svc.fan: vmsgctl lists $n ($m open, $MODE, A to B); $fo"
	if [ "$n" -ne "$FAN" ] || [ "$m" -ne "$FAN" ]; then
		stop_vmsgd
		fail "vmsgctl lists $n channels of $svc.fan ($m open from $da to $db), not $FAN"
	fi
	spares=$(ctl --json list services | grep -o "\"name\":\"$svc.fan\"[^}]*" |
		grep -o '"spare_opens":[0-9]*' | cut -d: -f2)
	info "opens of $svc.fan that took a spare: ${spares:-none}"
	if [ "${spares:-0}" -ne $((FAN - 1)) ]; then
		stop_vmsgd
		fail "vmsgctl counts ${spares:-no} opens of $svc.fan from a spare, not $((FAN - 1))"
	fi
	if ! wait_file_grep "$CONSOLE_DIR/guest-$b.log" '^XS fan closed' 60; then
		guest_log "$b"
		stop_vmsgd
		fail "guest B did not close its $FAN channels of $svc.fan"
	fi
	for ((i = 0; i < 40; i++)); do
		n=$(count_fan)
		[ "$n" -eq 0 ] && break
		sleep 0.1
	done
	[ "$n" -eq 0 ] || { stop_vmsgd; fail "vmsgctl still lists $n channels of $svc.fan after B closed them all"; }
	info "B closed them: vmsgctl lists none"
	figure "fan channels=$FAN open_s=$(xs_field "$fo" secs)"
fi

if ! wait_file_grep "$CONSOLE_DIR/guest-$a.log" '^XS holding' 300 ||
	! wait_file_grep "$CONSOLE_DIR/guest-$b.log" '^XS sent .*dir=up' 30; then
	guest_log "$a"
	guest_log "$b"
	stop_vmsgd
	fail "the exchange through vmsgd did not complete"
fi
info "exchange done after $(elapsed "$t0") s"
guest_grep "$a" '^XS ' >/tmp/$a.xs
guest_grep "$b" '^XS ' >/tmp/$b.xs
sed 's/^/  [guest A] /' /tmp/$a.xs
sed 's/^/  [guest B] /' /tmp/$b.xs

# The channel, as vmsgd sees it, while it is open.
chans=$(ctl --json list channels)
ctl list channels | sed 's/^/  [vmsgctl] /'
ctl list services | sed 's/^/  [vmsgctl] /'
want="\"service\":\"$svc\",\"provider\":$da,\"consumer\":$db,\"state\":\"open\",\"mode\":\"$MODE\",\"path\":\"/local/domain/$da/"
n=$(echo "$chans" | grep -o '"id":' | wc -l)
if ! echo "$chans" | grep -qF -- "$want" || [ "$n" -ne 1 ]; then
	stop_vmsgd
	fail "vmsgctl does not show one open $MODE channel from $da to $db: $chans"
fi
# Who A was told its consumer is: B itself, relayed too (vmsgd's end is
# connected, but Serve names the domain it relays for: relayed_for).
sline=$(grep '^XS service ' /tmp/$a.xs)
consumer=$db
[ "$(xs_field "$sline" peer)" = "$consumer" ] ||
	{ stop_vmsgd; fail "A's channel is for domain $(xs_field "$sline" peer), not $consumer"; }
if [ "$MODE" = relayed ]; then
	# B's end is vmsgd's, and every byte went through vmsgd.
	echo "$chans" | grep -qF '"relay_path":"/local/domain/0/data/vmsgd/relay/' ||
		{ stop_vmsgd; fail "no relay path under /local/domain/0/data/vmsgd/relay/: $chans"; }
	for k in to_provider_bytes to_consumer_bytes; do
		v=$(echo "$chans" | grep -o "\"$k\":[0-9]*" | cut -d: -f2)
		info "vmsgd relayed $k=${v:-?}"
		[ -n "$v" ] && [ "$v" -ge $((4 << 20)) ] ||
			{ stop_vmsgd; fail "vmsgd's $k is ${v:-missing}, not the 4 MiB that passed: $chans"; }
	done
fi

# Each stream: what one guest sent is what the other received.
for dir in down up; do
	sent=$(grep -h "^XS sent .*dir=$dir " /tmp/$a.xs /tmp/$b.xs | head -n 1)
	recv=$(grep -h "^XS recv .*dir=$dir " /tmp/$a.xs /tmp/$b.xs | head -n 1)
	if [ -z "$sent" ] || [ -z "$recv" ] ||
		[ "$(xs_field "$sent" bytes) $(xs_field "$sent" fnv)" != \
			"$(xs_field "$recv" bytes) $(xs_field "$recv" fnv)" ]; then
		stop_vmsgd
		fail "$dir stream: sent [$sent] received [$recv]"
	fi
done
all=$(cat /tmp/$a.xs /tmp/$b.xs)
figure "lib=vmsg guest=pv-pv mode=msg-vmsgd-$MODE" \
	"rtt_us=$(xs_field "$(echo "$all" | grep '^XS rtt ')" us)" \
	"down_MiBps=$(xs_field "$(echo "$all" | grep '^XS recv .*dir=down ')" MiBps)" \
	"up_MiBps=$(xs_field "$(echo "$all" | grep '^XS recv .*dir=up ')" MiBps)"

# Peer death under vmsgd: B goes; its channel and its domain must leave
# vmsgctl's lists (vmsgd watches @releaseDomain).
t1=$(now)
xl destroy "$b"
gone=
for ((i = 0; i < 100; i++)); do
	c=$(ctl --json list channels)
	d=$(ctl --json list domains)
	if ! echo "$c" | grep -q "\"consumer\":$db," && ! echo "$d" | grep -q "\"domid\":$db,"; then
		gone=$(elapsed "$t1")
		break
	fi
	sleep 0.1
done
if [ -z "$gone" ]; then
	stop_vmsgd
	fail "vmsgctl still lists B ($db) 10 s after xl destroy: $c $d"
fi
info "B's channel and domain gone from vmsgctl ${gone} s after xl destroy began"
figure "vmsgctl_gone_after_destroy_s=$gone"

arc=0
guest_wait "$a" $((hold + 60)) || arc=$?
stop_vmsgd
[ $arc -eq 0 ] || { guest_log "$a"; fail "guest A ended with rc=$arc"; }
[ "$vrc" -eq 0 ] || fail "vmsgd exited $vrc on SIGTERM"
pass
