#!/usr/bin/env python3
"""Many hubs uploading at once to one capscreen server, on loopback.

usage: bench/load_hubs.py --url URL --admin-token TOKEN --stream FILE
                          [--hubs 500] [--seconds 30] [--frames-per-patch 2]
                          [--interval 1.0] [--server-pid PID]

Each simulated hub gets its own study and device token (admin API, then
enrolment), opens one keep-alive connection, creates a deferred-length tus
upload, and every --interval seconds PATCHes --frames-per-patch new
frame-stream records (frames taken in turn from FILE, a packed stream, with
their own increasing frame indexes). It reports PATCH latency percentiles
(request sent to answer read), errors, goodput, and, with --server-pid, the
server's CPU time and peak RSS (VmHWM) over the run. Standard library only.
"""
import argparse
import asyncio
import json
import os
import struct
import sys
import time
import urllib.request

# The frame-stream CRC-32C, shared with the tests' strict reader.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from csfs import crc32c  # noqa: E402


def read_stream(path):
    """File header and (payload + payload CRC bytes, length) of each record."""
    b = open(path, "rb").read()
    if b[:4] != b"CSFS":
        sys.exit("%s is not a frame-stream file" % path)
    hlen, = struct.unpack_from("<H", b, 6)
    pos, records = hlen, []
    while pos + 32 <= len(b):
        rh, = struct.unpack_from("<H", b, pos + 4)
        pl, = struct.unpack_from("<I", b, pos + 24)
        records.append(b[pos + rh:pos + rh + pl + 4])  # payload and its CRC
        pos += rh + pl + 4
    return b[:hlen], records


def record(index, time_us, payload_and_crc):
    """A v1 record header (docs/frame-stream.md) in front of a payload."""
    head = struct.pack("<4sHHQqI", b"CSFR", 32, 0, index, time_us, len(payload_and_crc) - 4)
    return head + struct.pack("<I", crc32c(head)) + payload_and_crc


def api(url, path, body, token):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


async def http(reader, writer, method, path, headers, body=b""):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: bench"]
    lines += ["%s: %s" % kv for kv in headers.items()]
    lines.append("Content-Length: %d" % len(body))
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("server closed the connection")
    status = int(status_line.split()[1])
    resp_headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode().partition(":")
        resp_headers[k.strip().lower()] = v.strip()
    n = int(resp_headers.get("content-length", "0"))
    if n:
        await reader.readexactly(n)
    return status, resp_headers


class Conn:
    """One hub's keep-alive connection; reopened when the server closes it."""

    def __init__(self, host, port, stats):
        self.host, self.port, self.stats = host, port, stats
        self.reader = self.writer = None

    async def request(self, method, path, headers, body=b""):
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                status, h = await http(self.reader, self.writer, method, path, headers, body)
                if h.get("connection", "").lower() == "close":
                    self.close()
                return status, h
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                self.stats["reconnects"] += 1
                if attempt == 2:
                    raise

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def hub(i, args, host, port, token, file_header, records, stats, start_at):
    conn = Conn(host, port, stats)
    auth = {"Authorization": "Bearer " + token, "Tus-Resumable": "1.0.0"}
    status, h = await conn.request("POST", "/uploads/", {**auth, "Upload-Defer-Length": "1"})
    if status != 201:
        stats["errors"] += 1
        conn.close()
        return
    location = h["location"]
    path = location[location.index("/uploads/"):] if "://" in location else location
    offset, index = 0, 0
    first = True
    await asyncio.sleep(max(0.0, start_at - time.monotonic()) + (i % 100) * args.interval / 100)
    end = start_at + args.seconds
    while time.monotonic() < end:
        tick = time.monotonic()
        body = file_header if first else b""
        first = False
        for _ in range(args.frames_per_patch):
            body += record(index, index * 250000, records[(i + index) % len(records)])
            index += 1
        t0 = time.perf_counter()
        status, h = await conn.request("PATCH", path,
                                       {**auth, "Content-Type": "application/offset+octet-stream",
                                        "Upload-Offset": str(offset)}, body)
        stats["latency"].append(time.perf_counter() - t0)
        if status == 204:
            offset += len(body)
            stats["bytes"] += len(body)
            stats["frames"] += args.frames_per_patch
        else:
            stats["errors"] += 1
        await asyncio.sleep(max(0.0, args.interval - (time.monotonic() - tick)))
    conn.close()


def proc_stats(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    hwm = rss = 0
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return ticks, hwm, rss


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--admin-token", required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--hubs", type=int, default=500)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--frames-per-patch", type=int, default=2)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--server-pid", type=int)
    args = p.parse_args()
    host, port = args.url.split("://")[1].rstrip("/").split(":")
    file_header, records = read_stream(args.stream)

    tokens = []
    for _ in range(args.hubs):
        s = api(args.url, "/api/v1/studies", {"label": "load"}, args.admin_token)
        tokens.append(api(args.url, "/api/v1/devices/enrol", {"code": s["enrolment_code"]}, None)["token"])

    stats = {"latency": [], "errors": 0, "bytes": 0, "frames": 0, "reconnects": 0}
    before = proc_stats(args.server_pid) if args.server_pid else None
    start_at = time.monotonic() + 1.0
    t0 = time.monotonic()
    await asyncio.gather(*(hub(i, args, host, int(port), tokens[i], file_header, records, stats,
                               start_at) for i in range(args.hubs)))
    wall = time.monotonic() - t0
    lat = sorted(stats["latency"])
    pct = lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 2) if lat else None
    out = {"hubs": args.hubs, "seconds": round(wall, 1), "patches": len(lat),
           "errors": stats["errors"], "reconnects": stats["reconnects"], "frames": stats["frames"],
           "goodput_mbit_s": round(8 * stats["bytes"] / wall / 1e6, 2),
           "patch_ms_p50": pct(0.50), "patch_ms_p90": pct(0.90), "patch_ms_p99": pct(0.99),
           "patch_ms_max": round(1000 * lat[-1], 2) if lat else None}
    if before:
        after = proc_stats(args.server_pid)
        hz = 100.0
        out["server_cpu_seconds"] = round((after[0] - before[0]) / hz, 2)
        out["server_cpu_percent"] = round(100 * (after[0] - before[0]) / hz / wall, 1)
        out["server_peak_rss_kib"] = after[1]
        out["server_rss_kib_at_end"] = after[2]
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
