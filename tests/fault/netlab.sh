#!/usr/bin/env bash
# netlab.sh - a two-host network inside this machine for fault tests:
# namespaces "hub" and "hospital" joined by a veth pair, with real faults
# applied to the link (loss, rate and cuts on the hub's side; delay where
# each side receives).
#
# Source it, then:
#   netlab_up NAME                 create NAME-hub (10.77.0.1) and
#                                  NAME-hospital (10.77.0.2); addresses are
#                                  private to these namespaces
#   netlab_loss NAME PERCENT       drop PERCENT % of packets both ways (nftables
#                                  numgen random: real IP loss, real TCP retransmits)
#   netlab_rate NAME RATE          cap the link (tc htb), e.g. 5mbit
#   netlab_delay NAME RTT_MS JITTER_MS [LOSS_PERCENT]
#                                  add RTT_MS to every round trip (half on the
#                                  way out, half on the way in), wandering by up
#                                  to +-JITTER_MS, and drop LOSS_PERCENT % of
#                                  packets each way, by the link emulator
#                                  cs-linkemu (tests/fault/linkemu.c), one in
#                                  each namespace holding what it receives
#   netlab_undelay NAME            remove the emulators
#   netlab_emu_stats NAME          the emulators' latest counters (JSON)
#   netlab_cut NAME / netlab_mend NAME   take the link down / up
#   netlab_down NAME               remove everything
#   netlab_hub NAME CMD...         run CMD in the hub namespace
#   netlab_hospital NAME CMD...    run CMD in the hospital namespace
#
# Why not tc netem: this machine's kernel is built without sch_netem
# (CONFIG_NET_SCH_NETEM is not set), so delay and loss cannot come from
# netem here. Loss comes from nftables (netlab_loss) or from the link
# emulator; delay comes from the emulator, to which the kernel hands every
# packet a namespace receives from the link, through NFQUEUE (iptables;
# nftables' own `queue` statement needs CONFIG_NFT_QUEUE, which this kernel
# lacks, while iptables-nft's NFQUEUE target works through nft_compat). The
# rate cap (tc htb on the hub's egress) acts before the hospital's hold: a
# bottleneck queue, then the time in flight.
# netlab_require checks the kernel features and skips (exit 77) without them;
# netlab_require_delay does the same for the emulator.

netlab_require() {
  if [ "$(id -u)" -ne 0 ]; then echo "SKIP: fault tests need root (network namespaces)"; exit 77; fi
  for tool in ip nft tc; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
  done
  local probe="csprobe$$"
  if ! ip netns add "$probe" 2>/dev/null; then echo "SKIP: cannot create network namespaces"; exit 77; fi
  if ! ip netns exec "$probe" nft add table inet probe 2>/dev/null; then
    ip netns del "$probe"; echo "SKIP: nftables unavailable in namespaces"; exit 77
  fi
  ip netns del "$probe"
}

# The emulator binary: NETLAB_LINKEMU, else the build's tests/cs-linkemu.
NETLAB_LINKEMU=${NETLAB_LINKEMU:-${CS_BUILD_DIR:+$CS_BUILD_DIR/tests/cs-linkemu}}

netlab_require_delay() {
  netlab_require
  if [ -z "$NETLAB_LINKEMU" ] || [ ! -x "$NETLAB_LINKEMU" ]; then
    echo "SKIP: link emulator cs-linkemu not built (needs libnetfilter-queue-dev at configure time; NETLAB_LINKEMU=${NETLAB_LINKEMU:-unset})"
    exit 77
  fi
  command -v iptables >/dev/null || { echo "SKIP: iptables not installed (NFQUEUE rules for the link emulator)"; exit 77; }
  local probe="csprobe$$"
  ip netns add "$probe" 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
  if ! ip netns exec "$probe" iptables -w -A OUTPUT -o lo -j NFQUEUE --queue-num 0 2>/dev/null; then
    ip netns del "$probe"; echo "SKIP: the kernel cannot queue packets to user space (NFQUEUE)"; exit 77
  fi
  ip netns del "$probe"
}

netlab_up() {
  local n=$1
  mkdir -p "${TMPDIR:-/tmp}/netlab.$n"
  ip netns add "$n-hub"
  ip netns add "$n-hospital"
  ip link add "$n-h0" type veth peer name "$n-s0"
  ip link set "$n-h0" netns "$n-hub"
  ip link set "$n-s0" netns "$n-hospital"
  ip -n "$n-hub" addr add 10.77.0.1/24 dev "$n-h0"
  ip -n "$n-hospital" addr add 10.77.0.2/24 dev "$n-s0"
  for ns in "$n-hub" "$n-hospital"; do ip -n "$ns" link set lo up; done
  ip -n "$n-hub" link set "$n-h0" up
  ip -n "$n-hospital" link set "$n-s0" up
  ip netns exec "$n-hub" nft add table inet fault
  ip netns exec "$n-hub" nft "add chain inet fault out { type filter hook output priority 0; }"
  ip netns exec "$n-hub" nft "add chain inet fault in { type filter hook input priority 0; }"
}

netlab_loss() {
  local n=$1 pct=$2
  ip netns exec "$n-hub" nft flush chain inet fault out
  ip netns exec "$n-hub" nft flush chain inet fault in
  if [ "$pct" != 0 ]; then
    ip netns exec "$n-hub" nft add rule inet fault out oifname "$n-h0" numgen random mod 100 "<" "$pct" drop
    ip netns exec "$n-hub" nft add rule inet fault in iifname "$n-h0" numgen random mod 100 "<" "$pct" drop
  fi
}

netlab_rate() {
  local n=$1 rate=$2
  ip netns exec "$n-hub" tc qdisc replace dev "$n-h0" root handle 1: htb default 10
  ip netns exec "$n-hub" tc class replace dev "$n-h0" parent 1: classid 1:10 htb rate "$rate"
}

# netlab_delay NAME RTT_MS JITTER_MS [LOSS_PERCENT]: each namespace queues
# the packets it receives from the link (iptables INPUT -> NFQUEUE 0) to its
# own cs-linkemu, which holds each for RTT_MS/2 (+- JITTER_MS/2, a slow
# random walk that never reorders) and drops LOSS_PERCENT % of them. So both
# directions are delayed and a round trip gains RTT_MS.
# Why on the receiving side, not on the hub's way out: a packet held before
# it leaves the sending host still counts against its socket, and TCP's
# small-queue limit (about 1 ms of data at the pacing rate) then stalls the
# sender: a held outgoing flow ran at 0.5 Mbit/s through a 20 Mbit/s link.
# (netem avoids this by orphaning the packets it holds; NFQUEUE cannot.)
# Once a packet has crossed the veth pair it belongs to no socket, and the
# receiver's hold models the time in flight. The htb cap on the hub's egress
# acts before that: a bottleneck queue, then the propagation delay.
# Calling it again replaces the emulators. Rules go in only once an emulator
# listens: a queue without a listener drops every packet.
netlab_delay() {
  local n=$1 rtt=$2 jitter=$3 loss=${4:-0} dir="${TMPDIR:-/tmp}/netlab.$1" side dev i pid seed
  netlab_undelay "$n"
  seed=${NETLAB_SEED:-1}
  for side in hub hospital; do
    rm -f "$dir/emu-$side.ready"
    ip netns exec "$n-$side" "$NETLAB_LINKEMU" --queue 0 \
      --delay-ms "$(awk -v r="$rtt" 'BEGIN { print r / 2 }')" \
      --jitter-ms "$(awk -v j="$jitter" 'BEGIN { print j / 2 }')" \
      --loss "$loss" --seed "$seed" \
      --stats "$dir/emu-$side.json" --ready "$dir/emu-$side.ready" 2>>"$dir/emu-$side.err" &
    pid=$!
    echo "$pid" >"$dir/emu-$side.pid"
    seed=$((seed + 1))
    for i in $(seq 1 300); do
      [ -e "$dir/emu-$side.ready" ] && break
      kill -0 "$pid" 2>/dev/null || { echo "netlab: cs-linkemu ($side) exited: $(cat "$dir/emu-$side.err")" >&2; return 1; }
      sleep 0.01
    done
    [ -e "$dir/emu-$side.ready" ] || { echo "netlab: cs-linkemu ($side) never became ready" >&2; return 1; }
  done
  for side in hub hospital; do
    dev=$n-h0
    [ "$side" = hospital ] && dev=$n-s0
    ip netns exec "$n-$side" iptables -w -A INPUT -i "$dev" -j NFQUEUE --queue-num 0
  done
}

# netlab_undelay NAME: rules out, emulators stopped (their last counters
# stay for netlab_emu_stats).
netlab_undelay() {
  local n=$1 dir="${TMPDIR:-/tmp}/netlab.$1" side pid i
  for side in hub hospital; do
    ip netns exec "$n-$side" iptables -w -F INPUT 2>/dev/null || true
    [ -f "$dir/emu-$side.pid" ] || continue
    pid=$(cat "$dir/emu-$side.pid")
    rm -f "$dir/emu-$side.pid"
    kill -TERM "$pid" 2>/dev/null || continue
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# netlab_emu_stats NAME: {"hub": counters of what the hub received,
# "hospital": ...}, the latest each emulator wrote (about once a second, and
# when it stops).
netlab_emu_stats() {
  local dir="${TMPDIR:-/tmp}/netlab.$1"
  printf '{"hub": %s, "hospital": %s}\n' "$(cat "$dir/emu-hub.json" 2>/dev/null || echo null)" \
    "$(cat "$dir/emu-hospital.json" 2>/dev/null || echo null)"
}

netlab_cut() { ip -n "$1-hub" link set "$1-h0" down; }
netlab_mend() { ip -n "$1-hub" link set "$1-h0" up; }
netlab_hub() { local n=$1; shift; ip netns exec "$n-hub" "$@"; }
netlab_hospital() { local n=$1; shift; ip netns exec "$n-hospital" "$@"; }

netlab_down() {
  local n=$1
  netlab_undelay "$n"
  ip netns del "$n-hub" 2>/dev/null || true
  ip netns del "$n-hospital" 2>/dev/null || true
  rm -rf "${TMPDIR:-/tmp}/netlab.$n"
}
