#!/usr/bin/env python3
"""monitor_probe.py URL ADMIN_TOKEN SECONDS WANT_TILES - what the care
team's monitor costs while hubs stream (bench/monitor.sh).

Polls GET /api/v1/monitor once a second (latency, size, tiles) and holds
GET /api/v1/monitor/events open (events, their size, the largest gap
between two events). Prints one JSON line."""
import http.client
import json
import socket
import statistics
import sys
import threading
import time
import urllib.parse

URL, TOKEN, SECONDS, WANT = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
u = urllib.parse.urlparse(URL)
AUTH = {"Authorization": "Bearer " + TOKEN}
events, sizes, gaps, tiles_seen = [], [], [], []
stop = time.time() + SECONDS


def stream():
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(("GET /api/v1/monitor/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Accept: text/event-stream\r\n\r\n" % TOKEN).encode())
    s.settimeout(1.0)
    buf, last = b"", time.time()
    while time.time() < stop:
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            if b"event: monitor" in ev:
                now = time.time()
                events.append(now)
                sizes.append(len(ev))
                gaps.append(now - last)
                last = now
    s.close()


t = threading.Thread(target=stream, daemon=True)
t.start()
lat = []
while time.time() < stop:
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    t0 = time.perf_counter()
    c.request("GET", "/api/v1/monitor", headers=AUTH)
    r = c.getresponse()
    body = r.read()
    lat.append((time.perf_counter() - t0) * 1000)
    c.close()
    if r.status == 200:
        tiles_seen.append(len(json.loads(body)["studies"]))
    time.sleep(max(0.0, 1.0 - lat[-1] / 1000))
t.join(timeout=5)
lat.sort()
q = lambda v, p: v[min(len(v) - 1, int(p * len(v)))] if v else None
print(json.dumps({
    "tiles_max": max(tiles_seen) if tiles_seen else 0, "tiles_wanted": WANT,
    "monitor_ms_p50": round(q(lat, 0.5), 1), "monitor_ms_p99": round(q(lat, 0.99), 1),
    "events": len(events), "events_per_s": round(len(events) / SECONDS, 2),
    "event_kb_median": round(statistics.median(sizes) / 1024, 1) if sizes else None,
    "max_gap_s": round(max(gaps[1:]), 2) if len(gaps) > 1 else None,
}))
