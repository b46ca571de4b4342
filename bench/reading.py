#!/usr/bin/env python3
"""Readers playing studies at 40 frames/s against one capscreen server.

usage: bench/reading.py --url URL --study ID --frames N --cookie-file F
                        [--readers 20] [--fps 40] [--seconds 20]
                        [--ref-prefix /bench-ref/] [--server-pid PID]

Each simulated reader logs in once (the cookie comes from --cookie-file:
one "cs_session=..." line per reader, made by bench/reading.sh), then on
two keep-alive connections, as the viewer does: every 1/fps s it asks for
the next frame (GET /api/v1/studies/ID/frames/SEQ.jpg, the study played in
a loop from a random start) and every 10th tick a thumbnail of a frame
ahead (the flag strip). Requests are paced open-loop: a slow answer does not
slow the schedule, it counts as a stall (an answer later than one frame
period). With --ref-prefix the same pattern is run a second time against
plain static files of the same bytes (the server's web folder: no session,
no database), the reference measured in the same run.

Prints one JSON object: per kind (frame, thumb, ref) the count, errors,
p50/p99/max latency in ms, stalls; and the server's CPU seconds and peak RSS
when --server-pid is given. Standard library only.
"""
import argparse
import asyncio
import json
import os
import random
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load_hubs import Conn  # noqa: E402  (keep-alive HTTP/1.1 client)


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))], 2)


def proc_stats(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(parts[11]) + int(parts[12])) / ticks
    hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return cpu, hwm


async def reader(i, args, host, port, cookie, paths, stats, start_at, period):
    frames = Conn(host, port, {"reconnects": 0})
    thumbs = Conn(host, port, {"reconnects": 0})
    headers = {"Cookie": cookie} if cookie else {}
    rng = random.Random(i)
    seq = rng.randrange(args.frames)
    await asyncio.sleep(max(0.0, start_at - time.monotonic()) + rng.random() * period)
    t0 = time.monotonic()
    tick = 0
    pending = set()

    async def one(conn, kind, path):
        sent = time.monotonic()
        try:
            status, _ = await conn.request("GET", path, headers)
        except Exception:
            stats[kind]["errors"] += 1
            return
        ms = (time.monotonic() - sent) * 1000.0
        if status != 200:
            stats[kind]["errors"] += 1
            return
        stats[kind]["ms"].append(ms)
        if ms > period * 1000.0:
            stats[kind]["stalls"] += 1

    while time.monotonic() - t0 < args.seconds:
        due = t0 + tick * period
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        # One request per connection at a time (HTTP/1.1): a slow answer
        # delays the next one on that connection, as in a browser.
        pending = {p for p in pending if not p.done()}
        if not any(getattr(p, "kind", "") == "frame" for p in pending):
            t = asyncio.ensure_future(one(frames, paths[0], paths[1](seq)))
            t.kind = "frame"
            pending.add(t)
        else:
            stats[paths[0]]["stalls"] += 1
        if paths[2] and tick % 10 == 0 and not any(getattr(p, "kind", "") == "thumb" for p in pending):
            t = asyncio.ensure_future(one(thumbs, "thumb", paths[2]((seq + 40) % args.frames)))
            t.kind = "thumb"
            pending.add(t)
        seq = (seq + 1) % args.frames
        tick += 1
    if pending:
        await asyncio.wait(pending)
    frames.close()
    thumbs.close()


async def run_pattern(args, host, port, cookies, kind, frame_path, thumb_path):
    stats = {k: {"ms": [], "errors": 0, "stalls": 0} for k in (kind, "thumb")}
    period = 1.0 / args.fps
    start_at = time.monotonic() + 0.2
    await asyncio.gather(*[
        reader(i, args, host, port, cookies[i % len(cookies)] if cookies else None,
               (kind, frame_path, thumb_path), stats, start_at, period)
        for i in range(args.readers)])
    return stats


def summary(s):
    return {"count": len(s["ms"]), "errors": s["errors"], "stalls": s["stalls"],
            "p50_ms": pct(s["ms"], 50), "p99_ms": pct(s["ms"], 99),
            "max_ms": round(max(s["ms"]), 2) if s["ms"] else None}


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--study", required=True)
    ap.add_argument("--frames", type=int, required=True)
    ap.add_argument("--cookie-file", required=True)
    ap.add_argument("--readers", type=int, default=20)
    ap.add_argument("--fps", type=float, default=40.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--ref-prefix")
    ap.add_argument("--server-pid", type=int)
    args = ap.parse_args()
    u = urllib.parse.urlparse(args.url)
    cookies = [line.strip() for line in open(args.cookie_file) if line.strip()]
    out = {"readers": args.readers, "fps": args.fps, "seconds": args.seconds}
    before = proc_stats(args.server_pid) if args.server_pid else None
    base = f"/api/v1/studies/{args.study}/frames/"
    st = await run_pattern(args, u.hostname, u.port, cookies, "frame",
                           lambda s: f"{base}{s}.jpg", lambda s: f"{base}{s}/thumb.jpg")
    out["frame"], out["thumb"] = summary(st["frame"]), summary(st["thumb"])
    if args.server_pid:
        after = proc_stats(args.server_pid)
        out["server_cpu_s"] = round(after[0] - before[0], 2)
        out["server_peak_rss_kib"] = after[1]
    if args.ref_prefix:
        st = await run_pattern(args, u.hostname, u.port, None, "ref",
                               lambda s: f"{args.ref_prefix}{s}.jpg", None)
        out["ref"] = summary(st["ref"])
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
