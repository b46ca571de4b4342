"""The reader's side of bench/pg-studies.sh: log in as "reader", then time,
warm, one request at a time on one keep-alive connection: the worklist, the
frame index of random studies and random frames of random studies.

Prints one JSON object: latencies in ms (p50/p95/p99/max, n), the
worklist's size, errors (non-200 answers), the server's RSS after the
worklist (from /proc/PID/status), and with --xact-db and --pg-log the
SQL statements of one worklist and of one idle second, from PostgreSQL's
log. Standard library only; the random choices
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


def psql(sql):
    subprocess.run(["psql", "-X", "-q", "-A", "-t", "-d", "postgres", "-c", sql],
                   check=True, capture_output=True, text=True)


def wait_for(path, needle, start):
    """Wait (bounded) until `needle` is in the log past byte `start`."""
    for _ in range(200):
        with open(path, errors="replace") as f:
            f.seek(start)
            if needle in f.read():
                return
        time.sleep(0.05)
    sys.exit(f"pg_studies_client: {needle} never reached {path}")


def statements(db, log, request):
    """The SQL statements one `request()` makes, from PostgreSQL's own log
    (log_statement = all for the run, by ALTER SYSTEM and a reload, which
    the server's open connection applies before its next query), grouped
    by text: {"total": N, "top": [[count, sql], ...]}. Statements that
    other threads of the server make meanwhile count too (there are few:
    an idle server makes almost none)."""
    import collections
    import os
    import re
    psql("ALTER SYSTEM SET log_statement = 'all'")
    psql("SELECT pg_reload_conf()")
    start = os.path.getsize(log)
    psql("SELECT 'cs-bench-mark-begin'")
    wait_for(log, "cs-bench-mark-begin", start)
    begin = os.path.getsize(log)
    request()
    psql("SELECT 'cs-bench-mark-end'")
    wait_for(log, "cs-bench-mark-end", begin)
    psql("ALTER SYSTEM RESET log_statement")
    psql("SELECT pg_reload_conf()")
    with open(log, errors="replace") as f:
        f.seek(begin)
        text = f.read()
    text = text[:text.index("cs-bench-mark-end")]
    text = text[:text.rfind("\n") + 1]  # not the marker's own line
    kinds = collections.Counter()
    for m in re.finditer(r"LOG:  (?:execute [^:]*|statement): (.*)", text):
        sql = m.group(1).strip()
        if "cs-bench-mark" not in sql:
            kinds[re.sub(r"\s+", " ", sql)[:160]] += 1
    return {"total": sum(kinds.values()), "top": [[n, q] for q, n in kinds.most_common(8)]}


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
    ap.add_argument("--pg-log")
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
    if a.xact_db and a.pg_log:
        out["worklist_statements"] = statements(a.xact_db, a.pg_log,
                                                lambda: get("/api/v1/worklist"))
        # What the server makes by itself meanwhile: a second with no request.
        out["idle_second_statements"] = statements(a.xact_db, a.pg_log,
                                                   lambda: time.sleep(1.0))
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
