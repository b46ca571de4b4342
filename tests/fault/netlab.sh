#!/usr/bin/env bash
# netlab.sh - a two-host network inside this machine for fault tests:
# namespaces "hub" and "hospital" joined by a veth pair, with real faults
# applied on the hub's side of the link.
#
# Source it, then:
#   netlab_up NAME                 create NAME-hub (10.77.0.1) and
#                                  NAME-hospital (10.77.0.2); addresses are
#                                  private to these namespaces
#   netlab_loss NAME PERCENT       drop PERCENT % of packets both ways (nftables
#                                  numgen random: real IP loss, real TCP retransmits)
#   netlab_rate NAME RATE          cap the link (tc htb), e.g. 5mbit
#   netlab_cut NAME / netlab_mend NAME   take the link down / up
#   netlab_down NAME               remove everything
#   netlab_hub NAME CMD...         run CMD in the hub namespace
#   netlab_hospital NAME CMD...    run CMD in the hospital namespace
#
# Why not tc netem: this machine's kernel is built without sch_netem
# (CONFIG_NET_SCH_NETEM is not set), so delay and loss cannot come from
# netem here. Loss comes from nftables instead; there is no delay element.
# netlab_require checks the kernel features and skips (exit 77) without them.

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

netlab_up() {
  local n=$1
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

netlab_cut() { ip -n "$1-hub" link set "$1-h0" down; }
netlab_mend() { ip -n "$1-hub" link set "$1-h0" up; }
netlab_hub() { local n=$1; shift; ip netns exec "$n-hub" "$@"; }
netlab_hospital() { local n=$1; shift; ip netns exec "$n-hospital" "$@"; }

netlab_down() {
  local n=$1
  ip netns del "$n-hub" 2>/dev/null || true
  ip netns del "$n-hospital" 2>/dev/null || true
}
