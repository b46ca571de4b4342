#!/usr/bin/env bash
# server_alert_atomic.sh - an alert is never lost on a database error
# (docs/care.md, "How they are raised"): a real server on its real store
# (SQLite here; PostgreSQL as integration.server_alert_atomic.pg), and the
# store made to refuse every new alert by a trigger on the alerts table,
# added and dropped beside the running server (no mock):
#   - a finding marked suspected cancer (created, or edited to the mark)
#     is refused whole: 503 with the database's reason, the finding not
#     stored, no alert; once the store takes alerts again the same request
#     stores both the finding and its suspected_cancer alert;
#   - a plain finding is not held up by the alerts table;
#   - a hub report that crosses the spool limit is refused whole: 503, the
#     report not stored; the hub's next report (its retry) still crosses
#     and raises spool_full, once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl

# db_sql SQL: run SQL on the store the server uses, beside it (SQLite's WAL
# lets another connection change the schema; the server's cached statements
# are prepared again by SQLite, and by PostgreSQL, after the change).
PG=
case "${CAPSCREEN_DB:-}" in postgresql:* | postgres:*) PG=1 ;; esac
db_sql() {
    if [ -n "$PG" ]; then
        psql -X -q -v ON_ERROR_STOP=1 -d "$CAPSCREEN_DB" -c "$1" >/dev/null 2>"$T/sql.err" ||
            die "psql: $(cat "$T/sql.err")"
    else
        python3 - "$T/data/capscreen.db" "$1" 2>"$T/sql.err" <<'EOF' || die "sqlite: $(cat "$T/sql.err")"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
db.executescript(sys.argv[2])
db.close()
EOF
    fi
}
refuse_alerts() {
    if [ -n "$PG" ]; then
        db_sql "CREATE OR REPLACE FUNCTION cs_test_refuse() RETURNS trigger LANGUAGE plpgsql AS
                \$\$ BEGIN RAISE EXCEPTION 'injected: the test refuses alerts'; END \$\$;
                CREATE TRIGGER inject BEFORE INSERT ON alerts FOR EACH ROW
                EXECUTE FUNCTION cs_test_refuse();"
    else
        db_sql "CREATE TRIGGER inject BEFORE INSERT ON alerts
                BEGIN SELECT RAISE(ABORT, 'injected: the test refuses alerts'); END;"
    fi
}
take_alerts() {
    if [ -n "$PG" ]; then db_sql "DROP TRIGGER inject ON alerts"; else db_sql "DROP TRIGGER inject"; fi
}
# rows SQL [PARAMS...]: the stored rows as JSON (store_rows.py, either backend).
rows() {
    python3 - "$T/data" "$@" <<'EOF'
import json, os, sys
sys.path.insert(0, os.environ["CS_IT_DIR"])
import store_rows
print(json.dumps(store_rows.query(sys.argv[1], sys.argv[2], tuple(sys.argv[3:]))))
EOF
}
export CS_IT_DIR=$CS_SOURCE_DIR/tests/integration

DEMO="$CS_SOURCE_DIR/samples/demo/frames"
mkdir -p "$T/frames"
for n in 0001 0002 0003 0004; do ln -s "$DEMO/demo-$n.jpg" "$T/frames/"; done
"$CAPSCREEN" pack --fps 4 "$T/frames" "$T/s.csfs" >/dev/null 2>"$T/e" || die "pack: $(cat "$T/e")"
run_cs "$T/o" "$T/e" study import --data "$T/data" --label "alerts" "$T/s.csfs"
[ "$RC" -eq 0 ] || die "study import exited $RC: $(cat "$T/e")"
STUDY=$(tail -n 1 "$T/o" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])')
echo "pw-reader-0123456789" | "$CAPSCREEN" user add --data "$T/data" --name reader --role reader \
    >/dev/null 2>"$T/e" || die "user add: $(cat "$T/e")"
start_server "$T/data"

http POST /api/v1/session -c "$T/reader.jar" -d '{"user": "reader", "password": "pw-reader-0123456789"}'
[ "$CODE" = 200 ] || die "login: $CODE $(cat "$T/body")"
CSRF=$(json_get "$T/body" 'd["csrf_token"]')
as_reader() {
    local method=$1 path=$2
    shift 2
    http "$method" "$path" -b "$T/reader.jar" -H "X-CSRF-Token: $CSRF" "$@"
}
S=/api/v1/studies/$STUDY
analysed() {
    as_reader GET "$S"
    [ "$CODE" = 200 ] && [ "$(json_get "$T/body" 'd["workflow_state"]')" = ready ]
}
wait_until 120 "the study to be analysed" analysed

n_findings() {
    as_reader GET "$S/findings"
    [ "$CODE" = 200 ] || die "findings: $CODE $(cat "$T/body")"
    json_get "$T/body" 'len(d["findings"])'
}
n_alerts() {  # n_alerts STUDY KIND
    http GET "/api/v1/studies/$1/alerts" -H "Authorization: Bearer $ADMIN_TOKEN"
    [ "$CODE" = 200 ] || die "alerts: $CODE $(cat "$T/body")"
    json_get "$T/body" "sum(1 for a in d['alerts'] if a['kind'] == '$2')"
}
# the 503 names the database's refusal
refused_whole() {
    expect_code 503 "$1"
    [ "$(json_get "$T/body" 'd["error"]')" = store_unavailable ] || fail "$1: not store_unavailable: $(cat "$T/body")"
    grep -q 'injected' "$T/body" || fail "$1: the 503 does not say what the database refused: $(cat "$T/body")"
}

# ---- a finding marked suspected cancer -----------------------------------------
CANCER='{"seq_from": 1, "seq_to": 2, "type": "polyp", "segment": "left_colon", "morphology": "0-Is",
         "suspected_cancer": true, "note": "irregular mass"}'
refuse_alerts
as_reader POST "$S/findings" -d "$CANCER"
refused_whole "a suspected-cancer finding whose alert the store refuses"
[ "$(n_findings)" = 0 ] || fail "the finding was stored without its alert: $(cat "$T/body")"
[ "$(n_alerts "$STUDY" suspected_cancer)" = 0 ] || fail "an alert got past the refusal"
as_reader POST "$S/findings" -d '{"seq_from": 0, "type": "erosion"}'
expect_code 201 "a plain finding while the store refuses alerts"
PLAIN=$(json_get "$T/body" 'd["id"]')
as_reader PUT "$S/findings/$PLAIN" -d '{"seq_from": 0, "type": "ulcer", "suspected_cancer": true, "version": 1}'
refused_whole "a finding edited to suspected cancer whose alert the store refuses"
as_reader GET "$S/findings/$PLAIN/history"
[ "$(json_get "$T/body" '(len(d["history"]), d["history"][-1]["suspected_cancer"])')" = "(1, False)" ] ||
    fail "the edit was stored without its alert: $(cat "$T/body")"
ok "a suspected-cancer finding whose alert cannot be stored is refused whole (503, nothing stored)"

take_alerts
as_reader POST "$S/findings" -d "$CANCER"
expect_code 201 "the suspected-cancer finding again, the store taking alerts"
CANCER_ID=$(json_get "$T/body" 'd["id"]')
as_reader PUT "$S/findings/$PLAIN" -d '{"seq_from": 0, "type": "ulcer", "suspected_cancer": true, "version": 1}'
expect_code 200 "the edit to suspected cancer again"
[ "$(n_findings)" = 2 ] || fail "the findings are not both stored: $(cat "$T/body")"
[ "$(n_alerts "$STUDY" suspected_cancer)" = 2 ] || fail "not one alert per finding: $(cat "$T/body")"
keys=$(rows "SELECT key FROM alerts WHERE study = ? AND kind = 'suspected_cancer' ORDER BY key" "$STUDY")
want=$(python3 -c 'import json,sys; print(json.dumps([[k] for k in sorted(sys.argv[1:])]))' \
    "finding-$CANCER_ID" "finding-$PLAIN")
[ "$keys" = "$want" ] || fail "alert keys $keys, not $want"
as_reader PUT "$S/findings/$CANCER_ID" -d '{"seq_from": 1, "seq_to": 3, "type": "polyp", "suspected_cancer": true}'
expect_code 200 "an edit of a finding already marked"
[ "$(n_alerts "$STUDY" suspected_cancer)" = 2 ] || fail "an edit raised its alert twice"
ok "the retry stores the finding and its suspected_cancer alert together, once per finding"

# ---- a hub report crossing the spool limit --------------------------------------
new_device
HUB=$STUDY
status() {  # status SPOOL_PCT
    http POST /api/v1/devices/status -H "Authorization: Bearer $TOKEN" \
        -d "{\"battery_pct\": 80, \"signal_dbm\": -60, \"spool_used_pct\": $1, \"recorder\": \"recording\"}"
}
stored_spool() {
    http GET "/api/v1/studies/$HUB/care" -H "Authorization: Bearer $ADMIN_TOKEN"
    [ "$CODE" = 200 ] || die "care: $CODE $(cat "$T/body")"
    json_get "$T/body" 'd["hub"]["spool_used_pct"]'
}
status 10
expect_code 204 "a first report, spool below the limit"
refuse_alerts
status 95
refused_whole "a report crossing the spool limit whose alert the store refuses"
[ "$(stored_spool)" = 10 ] || fail "the crossing report was stored without its alert: $(cat "$T/body")"
[ "$(n_alerts "$HUB" spool_full)" = 0 ] || fail "spool_full got past the refusal"
ok "a report whose spool_full alert cannot be stored is refused whole (503, report not stored)"
take_alerts
status 95
expect_code 204 "the hub's retry"
[ "$(n_alerts "$HUB" spool_full)" = 1 ] || fail "the retry raised no spool_full: $(cat "$T/body")"
[ "$(stored_spool)" = 95 ] || fail "the retry's report is not stored: $(cat "$T/body")"
status 97
expect_code 204 "a later report, still full"
[ "$(n_alerts "$HUB" spool_full)" = 1 ] || fail "a report while full raised spool_full again"
ok "the hub's retry raises spool_full, once"
cs_finish
