#!/usr/bin/env bash
# link_emulator.sh - the link emulator (cs-linkemu, via netlab_delay) gives
# the round-trip time, loss and rate it is asked for, within 10%, and keeps
# packets in order. Measured from outside the emulator, through the two
# namespaces:
#   - RTT: 60 TCP connects hub -> hospital (SYN to SYN-ACK is one round trip)
#     at 100 ms +- 10 ms: median and mean within 10% of 100 ms, none faster
#     than the floor (100 - 10 ms, less 1 ms of timer slack), and the jitter
#     visible (10th to 90th percentile at least 4 ms apart);
#   - loss: 40,000 numbered UDP datagrams each way at 10,000/s with 5% loss
#     asked: the share that arrives is 95% +- 0.5 points (10% of 5%; the
#     binomial sd is 0.11 points), none overtakes an earlier one, the
#     emulator held hundreds at once and the kernel dropped none on its way
#     to the emulator (queue and socket overruns are zero);
#   - rate: a TCP bulk transfer through 100 ms RTT and a 20 Mbit/s htb cap:
#     the wire rate (goodput scaled by 1514/1448 for headers) over seconds
#     4-10 is within 10% of 20 Mbit/s.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
. "$here/netlab.sh"
need_python
netlab_require_delay

NET=csl$(($$ % 100000))
probe() { python3 "$here/linkprobe.py" "$@"; }
trap 'netlab_down "$NET"; cs_cleanup' EXIT
netlab_up "$NET"

# --- RTT -------------------------------------------------------------------
netlab_hospital "$NET" python3 "$here/linkprobe.py" tcp-listen 10.77.0.2 9000 3 >/dev/null &
netlab_hub "$NET" python3 "$here/linkprobe.py" tcp-rtt 10.77.0.2 9000 10 20 >"$T/rtt0.json"
wait
netlab_delay "$NET" 100 10
netlab_hospital "$NET" python3 "$here/linkprobe.py" tcp-listen 10.77.0.2 9000 15 >/dev/null &
listener=$!
netlab_hub "$NET" python3 "$here/linkprobe.py" tcp-rtt 10.77.0.2 9000 60 30 >"$T/rtt.json"
wait "$listener"
py_check "$T/rtt.json" <<'PY' || fail "RTT check failed"
import statistics
r = sorted(d["rtt_ms"])
base = json.load(open(sys.argv[1].replace("rtt.json", "rtt0.json")))["rtt_ms"]
if len(r) != 60: fail("%d connects of 60 completed" % len(r))
q = statistics.quantiles(r, n=10)
print("RTT without the emulator: median %.2f ms; with 100 +- 10 ms asked: min %.1f, p10 %.1f, median %.1f, mean %.1f, p90 %.1f, max %.1f ms"
      % (statistics.median(base), r[0], q[0], statistics.median(r), statistics.mean(r), q[-1], r[-1]))
if not 90 <= statistics.median(r) <= 110: fail("median RTT %.1f ms, not within 10%% of 100" % statistics.median(r))
if not 90 <= statistics.mean(r) <= 110: fail("mean RTT %.1f ms, not within 10%% of 100" % statistics.mean(r))
if r[0] < 89: fail("a round trip of %.1f ms, below the 90 ms floor" % r[0])
if q[-1] - q[0] < 4: fail("no jitter: p10 %.1f, p90 %.1f" % (q[0], q[-1]))
PY
ok "RTT: 100 ms +- 10 ms asked, measured within 10%, with jitter"

# --- loss and order ----------------------------------------------------------
netlab_delay "$NET" 100 10 5
netlab_hospital "$NET" python3 "$here/linkprobe.py" udp-recv 10.77.0.2 9001 2 >"$T/up.json" &
r1=$!
netlab_hub "$NET" python3 "$here/linkprobe.py" udp-recv 10.77.0.1 9001 2 >"$T/down.json" &
r2=$!
sleep 0.3  # both receivers bound (a datagram before that is counted as lost, and fails the check)
netlab_hub "$NET" python3 "$here/linkprobe.py" udp-send 10.77.0.2 9001 40000 10000 >/dev/null &
s1=$!
netlab_hospital "$NET" python3 "$here/linkprobe.py" udp-send 10.77.0.1 9001 40000 10000 >/dev/null
wait "$s1" "$r1" "$r2"
netlab_undelay "$NET"   # final counters written on exit
netlab_emu_stats "$NET" >"$T/emu.json"
for way in up down; do
py_check "$T/$way.json" <<PY || fail "loss check ($way) failed"
got = d["received"]
lost = 100 * (1 - got / 40000)
print("loss $way: %d of 40000 datagrams arrived: %.2f%% lost (5%% asked), %d reordered" % (got, lost, d["reordered"]))
if not 4.5 <= lost <= 5.5: fail("loss %.2f%%, not within 10%% of 5%%" % lost)
if d["reordered"]: fail("%d datagrams overtook earlier ones" % d["reordered"])
PY
done
py_check "$T/emu.json" <<'PY' || fail "emulator counters"
for side in ("hub", "hospital"):
    e = d[side]
    print("emulator in %s: %r" % (side, e))
    q = e["queues"][0]
    if q["queue_dropped"] != 0 or q["user_dropped"] != 0:
        fail("%s: the kernel dropped packets before the emulator: queue_dropped %d user_dropped %d" % (side, q["queue_dropped"], q["user_dropped"]))
    if q["max_held"] < 200: fail("%s: held at most %d packets at once (expected ~500 at 10,000/s and 50 ms)" % (side, q["max_held"]))
    if q["received"] < 40000: fail("%s: saw %d packets, fewer than were sent" % (side, q["received"]))
    if e["socket_overruns"] != 0: fail("%s: %d netlink socket overruns" % (side, e["socket_overruns"]))
PY
ok "loss: 5% asked each way, measured within 10%, nothing reordered, no drops on the way to the emulator"

# --- rate --------------------------------------------------------------------
netlab_delay "$NET" 100 0
netlab_rate "$NET" 20mbit
netlab_hospital "$NET" python3 "$here/linkprobe.py" tcp-sink 10.77.0.2 9002 4 10 >"$T/rate.json" &
sink=$!
netlab_hub "$NET" python3 "$here/linkprobe.py" tcp-source 10.77.0.2 9002 11 >/dev/null
wait "$sink"
py_check "$T/rate.json" <<'PY' || fail "rate check failed"
wire = d["goodput_bps"] * 1514 / 1448
print("rate: 20 Mbit/s asked at 100 ms RTT: goodput %.2f Mbit/s, on the wire %.2f Mbit/s" % (d["goodput_bps"] / 1e6, wire / 1e6))
if not 18e6 <= wire <= 22e6: fail("wire rate %.2f Mbit/s, not within 10%% of 20" % (wire / 1e6))
PY
ok "rate: 20 Mbit/s asked through the delayed link, measured within 10%"
cs_finish
