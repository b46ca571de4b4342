"""store_rows.py - read rows of the store that `capscreen` uses, whichever
backend it is, for the integration scripts that check stored analysis
columns directly (imported by them; not a test of its own).

query(data_dir, sql, params) returns a list of row lists. The store is
PostgreSQL when CAPSCREEN_DB names one (tests/lib/with-pg.sh
--capscreen-db; psql with libpq's PG* variables, one JSON object per row
so numbers and NULLs keep their types), else DATA_DIR/capscreen.db, opened
read-only beside the running server (WAL). `?` marks a parameter in either
case; on PostgreSQL each is passed as a psql variable (quoted by psql).
"""
import json
import os
import sqlite3
import subprocess


def _pg(url, sql, params):
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        raise ValueError("%d parameters for %d placeholders" % (len(params), len(parts) - 1))
    text = parts[0] + "".join(":'p%d'%s" % (i, p) for i, p in enumerate(parts[1:]))
    args = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url]
    for i, v in enumerate(params):
        args += ["-v", "p%d=%s" % (i, v)]
    script = "SELECT row_to_json(t) FROM (%s) t;\n" % text
    out = subprocess.run(args, input=script, capture_output=True, text=True, check=True).stdout
    return [[v for _, v in json.loads(line, object_pairs_hook=list)]
            for line in out.splitlines() if line.strip()]


def query(data_dir, sql, params=()):
    url = os.environ.get("CAPSCREEN_DB", "")
    if url.startswith(("postgresql:", "postgres:")):
        return _pg(url, sql, params)
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(data_dir, "capscreen.db"), uri=True)
    try:
        return [list(r) for r in db.execute(sql, params)]
    finally:
        db.close()
