"""store_rows.py - read rows of the store that `capscreen` uses, whichever
backend it is, for the integration scripts that check stored analysis
columns directly (imported by them; not a test of its own).

query(data_dir, sql, params) returns a list of row lists. execute(data_dir,
sql, params) runs one statement that writes (a test that plants a row as
an older server wrote it), beside the running server. The store is
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


def _psql(url, sql, params, extra=()):
    """The psql command and the statement with each `?` a psql variable."""
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        raise ValueError("%d parameters for %d placeholders" % (len(params), len(parts) - 1))
    text = parts[0] + "".join(":'p%d'%s" % (i, p) for i, p in enumerate(parts[1:]))
    args = ["psql", "-X", "-q", *extra, "-v", "ON_ERROR_STOP=1", "-d", url]
    for i, v in enumerate(params):
        args += ["-v", "p%d=%s" % (i, v)]
    return args, text


def _pg(url, sql, params):
    args, text = _psql(url, sql, params, ("-A", "-t"))
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


def execute(data_dir, sql, params=()):
    url = os.environ.get("CAPSCREEN_DB", "")
    if url.startswith(("postgresql:", "postgres:")):
        args, text = _psql(url, sql, params)
        subprocess.run(args, input=text + ";\n", capture_output=True, text=True, check=True)
        return
    db = sqlite3.connect(os.path.join(data_dir, "capscreen.db"), timeout=10)
    try:
        with db:
            db.execute(sql, params)
    finally:
        db.close()
