"""The reader's side of bench/pg-studies.sh: log in as "reader", then time,
warm, one request at a time on one keep-alive connection: the worklist, the
frame index of random studies and random frames of random studies.

Prints one JSON object: latencies in ms (p50/p95/p99/max, n), the
worklist's size, errors (non-200 answers), the server's RSS after the
worklist (from /proc/PID/status), and with --xact-db the PostgreSQL
transactions one worklist costs. Standard library only; the random choices
are seeded (--seed) so two backends get the same requests."""
import argparse
import http.client
import json
import random
import subprocess
import sys
import time
import urllib.parse


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def summary(xs):
    return {"n": len(xs), "p50": round(pct(xs, 50), 2), "p95": round(pct(xs, 95), 2),
            "p99": round(pct(xs, 99), 2), "max": round(max(xs), 2)}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def xact_commit(db):
    out = subprocess.run(["psql", "-X", "-A", "-t", "-d", "postgres", "-c",
                          f"SELECT xact_commit + xact_rollback FROM pg_stat_database "
                          f"WHERE datname = '{db}'"],
                         check=True, capture_output=True, text=True).stdout
    return int(out.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--studies", type=int, required=True)
    ap.add_argument("--frames", type=int, required=True)
    ap.add_argument("--wl", type=int, default=30)
    ap.add_argument("--index", type=int, default=60)
    ap.add_argument("--fetch", type=int, default=1000)
    ap.add_argument("--xact-db")
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conn.request("POST", "/api/v1/session",
                 body=json.dumps({"user": "reader", "password": "pw-reader-0123456789"}),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"login: {r.status} {body[:200]!r}")
    cookie = "; ".join(c.split(";", 1)[0] for k, c in r.getheaders() if k.lower() == "set-cookie")
    hdrs = {"Cookie": cookie}
    errors = 0

    def get(path):
        nonlocal errors
        t0 = time.perf_counter()
        conn.request("GET", path, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        ms = (time.perf_counter() - t0) * 1000
        if resp.status != 200:
            errors += 1
            print(f"pg_studies_client: GET {path}: {resp.status} {data[:200]!r}", file=sys.stderr)
        return ms, data

    # Warm: the caches (page cache, PostgreSQL's buffers, SQLite's pages).
    for _ in range(3):
        _, wl = get("/api/v1/worklist")
    ids = [s["study"] for s in json.loads(wl)["studies"]]
    if len(ids) != a.studies:
        sys.exit(f"the worklist shows {len(ids)} studies, not {a.studies}")
    out = {"worklist_bytes": len(wl)}
    if a.xact_db:
        # Transactions of one worklist. The server also commits a few in
        # the background (leases, notifications) and a connection reports
        # its counts at most once a second: so count over windows, each
        # read 1.5 s after the last request, and take off the background
        # rate measured over an idle window.
        time.sleep(1.5)
        i0, t_i0 = xact_commit(a.xact_db), time.monotonic()
        time.sleep(3)
        i1, t_i1 = xact_commit(a.xact_db), time.monotonic()
        idle_rate = (i1 - i0) / (t_i1 - t_i0)
        for _ in range(5):
            get("/api/v1/worklist")
        time.sleep(1.5)
        x1, t_x1 = xact_commit(a.xact_db), time.monotonic()
        out["worklist_xacts"] = round((x1 - i1 - idle_rate * (t_x1 - t_i1)) / 5, 1)
        out["background_xacts_per_s"] = round(idle_rate, 2)
    wl_ms = [get("/api/v1/worklist")[0] for _ in range(a.wl)]
    rss_mid = rss_kib(a.pid)
    rnd = random.Random(a.seed)
    index_ms = []
    for _ in range(a.index):
        ms, data = get(f"/api/v1/studies/{rnd.choice(ids)}/frames")
        index_ms.append(ms)
    index_bytes = len(data)
    some = rnd.sample(ids, min(50, len(ids)))
    frame_ms, frame_bytes = [], 0
    for _ in range(a.fetch):
        ms, data = get(f"/api/v1/studies/{rnd.choice(some)}/frames/{rnd.randrange(a.frames)}.jpg")
        frame_ms.append(ms)
        frame_bytes += len(data)
    out.update({"worklist_ms": summary(wl_ms), "index_ms": summary(index_ms),
                "index_bytes": index_bytes, "frame_ms": summary(frame_ms),
                "frame_mean_bytes": frame_bytes // max(1, a.fetch), "errors": errors,
                "rss_kib_mid": {"after_worklist": rss_mid}})
    print(json.dumps(out))


main()
