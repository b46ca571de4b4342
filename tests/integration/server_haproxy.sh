#!/usr/bin/env bash
# server_haproxy.sh - several servers, one service (docs/deploy.md, "Several
# servers"): a real PostgreSQL (tests/lib/pg.sh), two `capscreen serve`
# processes sharing it and one study folder, and Debian's HAProxy in front
# (round robin, health checks on /healthz).
#
#  1. A session made on server A works on server B directly and through
#     HAProxy, CSRF included; failed logins count across the servers.
#  2. A hub (capscreen-uplink) uploads a study through HAProxy. HAProxy
#     first sends everything to A (B in maintenance through its admin
#     socket). With the hub paused, a slow PATCH of junk at the upload's
#     offset holds the upload's lease on A (B answers 423 to a PATCH for
#     the same upload meanwhile); A is killed with kill -9 mid-body, B is
#     made ready, the hub resumes, and the upload completes through B: B
#     takes the dead server's lease over and cuts its unacknowledged bytes.
#     Meanwhile an event stream opened on B shows A's analysis progress
#     (the servers' signals travel by LISTEN/NOTIFY, core/relay.h).
#  3. The study file is byte-identical to `capscreen pack` of the frames,
#     and the store holds every frame exactly once (one row per seq and per
#     frame index, none failed), each with its analysis results.
#
# Without haproxy or PostgreSQL binaries: skip (77), but fail under CI=true
# (both are in scripts/apt-packages.txt).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_uplink
need_python
need_curl
"$CAPSCREEN" serve --help >/dev/null 2>&1 || skip "capscreen serve is not built"
if ! command -v haproxy >/dev/null 2>&1; then
    [ "${CI:-}" = true ] && die "haproxy not found; install the 'haproxy' package (scripts/apt-packages.txt)"
    skip "haproxy not found; install the 'haproxy' package"
fi
. "$CS_LIB_DIR/../lib/pg.sh"
pg_start # sets its own EXIT trap; ours below calls pg_stop too

PIDS=()
ha_cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    pg_stop
    cs_cleanup
}
trap ha_cleanup EXIT
trap 'ha_cleanup; exit 130' INT
trap 'ha_cleanup; exit 143' TERM

psql -X -q -d postgres -c "CREATE DATABASE capscreen" || die "cannot create the database"
export CAPSCREEN_DB="postgresql:///capscreen?host=$CS_PG_DIR&port=$CS_PG_PORT"
sql() { psql -X -q -A -t -d capscreen -c "$1"; }
ADMIN_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$T/data"
for u in boss:admin; do
    echo "pw-${u%%:*}-0123456789" | "$CAPSCREEN" user add --data "$T/data" --name "${u%%:*}" \
        --role "${u##*:}" >/dev/null 2>"$T/e" || die "user add ${u%%:*}: $(cat "$T/e")"
done

# serve NAME: a server on a free port sharing the database and $T/data;
# sets NAME_PID and NAME_URL.
serve() {
    local name=$1
    : >"$T/$name.out"
    CAPSCREEN_ADMIN_TOKEN=$ADMIN_TOKEN "$CAPSCREEN" serve --listen 127.0.0.1:0 \
        --data "$T/data" >"$T/$name.out" 2>>"$T/$name.err" &
    local pid=$!
    PIDS+=("$pid")
    wait_until 60 "server $name to listen" grep -q listening "$T/$name.out"
    local addr
    addr=$(json_field "$T/$name.out" listening)
    printf -v "${name}_PID" '%s' "$pid"
    printf -v "${name}_URL" '%s' "http://$addr"
    wait_until 30 "server $name's /healthz" curl -sf -o /dev/null "http://$addr/healthz"
}
serve A
serve B

HA_PORT=$(pg_free_port)
HA_URL=http://127.0.0.1:$HA_PORT
cat >"$T/haproxy.cfg" <<EOF
global
    maxconn 256
    stats socket $T/haproxy.sock mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
frontend capscreen
    bind 127.0.0.1:$HA_PORT
    default_backend servers
backend servers
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 200ms fall 2 rise 2
    server a ${A_URL#http://} check
    server b ${B_URL#http://} check
EOF
haproxy -c -f "$T/haproxy.cfg" >"$T/e" 2>&1 || die "haproxy refuses its configuration: $(cat "$T/e")"
haproxy -db -f "$T/haproxy.cfg" >>"$T/haproxy.log" 2>&1 &
PIDS+=($!)
wait_until 30 "HAProxy to answer /healthz" curl -sf -o /dev/null "$HA_URL/healthz"

# ha_cmd CMD: one command on HAProxy's admin socket; prints the answer.
ha_cmd() {
    "$CS_PY" - "$T/haproxy.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
print(out.decode(), end="")
PY
}
# server_status NAME: HAProxy's view of backend server NAME (UP, DOWN, MAINT).
server_status() {
    ha_cmd "show servers state servers" | awk -v n="$1" '$4 == n {print $6}'
}
up_in_haproxy() { [ "$(server_status "$1")" = 2 ]; } # srv_op_state 2: running
wait_until 30 "server a up in HAProxy" up_in_haproxy a
wait_until 30 "server b up in HAProxy" up_in_haproxy b

# Requests through HAProxy reach both servers in turn: HAProxy's own
# counts of each server's 2xx answers (health checks are not counted).
served() {
    ha_cmd "show stat" | "$CS_PY" -c 'import csv, sys
rows = list(csv.reader(line.lstrip("# ") for line in sys.stdin if line.strip()))
col = rows[0].index("hrsp_2xx")
print(next(int(r[col] or 0) for r in rows[1:] if r[0] == "servers" and r[1] == sys.argv[1]))' "$1"
}
a0=$(served a); b0=$(served b)
for _ in 1 2 3 4 5 6; do curl -sf -o /dev/null "$HA_URL/healthz" || fail "/healthz through HAProxy"; done
a1=$(served a); b1=$(served b)
[ "$((a1 - a0))" -ge 2 ] && [ "$((b1 - b0))" -ge 2 ] && [ "$((a1 - a0 + b1 - b0))" = 6 ] ||
    fail "round robin: A answered $((a1 - a0)) and B $((b1 - b0)) of 6 requests"
ok "two servers on one PostgreSQL behind HAProxy; round robin reaches both"

# ---- 1. a session made on A, used on B and through HAProxy ---------------
SRV_URL=$A_URL
http POST /api/v1/session -c "$T/boss.jar" -d '{"user": "boss", "password": "pw-boss-0123456789"}'
[ "$CODE" = 200 ] || die "login on A: $CODE $(cat "$T/body")"
CSRF=$(json_get "$T/body" 'd["csrf_token"]')
for url in "$B_URL" "$HA_URL" "$HA_URL"; do
    SRV_URL=$url
    http GET /api/v1/worklist -b "$T/boss.jar"
    expect_code 200 "the worklist on $url with A's session"
done
SRV_URL=$B_URL
http POST /api/v1/studies -b "$T/boss.jar" -H "X-CSRF-Token: wrong" -d '{"label": "x"}'
expect_code 403 "a wrong CSRF token on B"
http POST /api/v1/studies -b "$T/boss.jar" -H "X-CSRF-Token: $CSRF" -d '{"label": "via-b"}'
expect_code 201 "study create on B with A's session and CSRF token"
SRV_URL=$HA_URL
http POST /api/v1/studies -b "$T/boss.jar" -H "X-CSRF-Token: $CSRF" -d '{"label": "hub-study"}'
expect_code 201 "study create through HAProxy with A's session and CSRF token"
STUDY=$(json_get "$T/body" 'd["study"]')
ENROL=$(json_get "$T/body" 'd["enrolment_code"]')
ok "a session made on A works on B and through HAProxy (CSRF checked on B)"

# Failed logins count in the database: four failures spread over A and B
# (the first three are free) delay the fifth attempt on either server.
for url in "$A_URL" "$B_URL" "$A_URL" "$B_URL"; do
    SRV_URL=$url
    http POST /api/v1/session -d '{"user": "boss", "password": "wrong-password"}'
    expect_code 401 "a wrong password on $url"
done
SRV_URL=$A_URL
http POST /api/v1/session -d '{"user": "boss", "password": "pw-boss-0123456789"}'
expect_code 429 "a login on A after four failures spread over A and B"
[ "$(sql "SELECT fails FROM login_limits WHERE kind = 'pair' AND user_name = 'boss'")" = 4 ] ||
    fail "login_limits does not hold the pair's 4 failures"
ok "failed logins count across servers (the fifth attempt waits)"

# ---- 2. an upload through HAProxy; A killed mid-upload --------------------
ha_cmd "set server servers/b state maint" >/dev/null
b_out() { [ "$(server_status b)" != 2 ]; }
wait_until 10 "b in maintenance" b_out
NF=120
mapfile -t FRAMES < <(first_frames $NF)
drop_frames "$T/spool" "$T/src" "${FRAMES[@]}"
: >"$T/spool/study.end"
# A browser's event stream on B, while only A receives and analyses: it
# hears of A's progress through PostgreSQL's LISTEN/NOTIFY.
curl -sN "$B_URL/api/v1/studies/$STUDY/events" -H "Authorization: Bearer $ADMIN_TOKEN" \
    >"$T/b-events" 2>/dev/null &
PIDS+=($!)
# events_on_b_show N: B's stream has sent a progress event with >= N frames analysed.
events_on_b_show() {
    "$CS_PY" - "$T/b-events" "$1" <<'PY'
import json, sys
best = -1
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("data:"):
        try:
            best = max(best, json.loads(line[5:])["progress"]["frames_analysed"])
        except Exception:
            pass
sys.exit(0 if best >= int(sys.argv[2]) else 1)
PY
}
wait_until 30 "B's event stream to open" events_on_b_show 0
got=$("$UPLINK" enrol --server "$HA_URL" --code "$ENROL" --state "$T/state" 2>"$T/e") ||
    die "enrol through HAProxy: $(cat "$T/e")"
[ "$got" = "$STUDY" ] || fail "enrol printed study '$got', expected '$STUDY'"
"$UPLINK" run --state "$T/state" --spool "$T/spool" --status-file "$T/status.json" \
    --chunk-bytes 64K --backoff-min-ms 100 --backoff-max-ms 1000 --low-speed 1000:2 \
    --max-rate 64K >>"$T/uplink.log" 2>&1 &
UPLINK_PID=$!
PIDS+=("$UPLINK_PID")
lease_on_a() {
    [ -n "$(sql "SELECT 1 FROM upload_leases l JOIN uploads u ON u.id = l.upload_id WHERE u.study = '$STUDY'")" ]
}
analysed() { sql "SELECT n_frames FROM studies WHERE id = '$STUDY'"; }
analysed_at_least() { [ "$(analysed)" -ge "$1" ]; }
wait_until 120 "frames_sent >= 20" frames_sent_at_least "$T/status.json" 20
wait_until 60 "A to analyse some frames" analysed_at_least 1
wait_until 30 "B's event stream to show A's analysis" events_on_b_show 1
still_sending() { [ "$(json_field "$T/status.json" frames_sent)" -lt "$NF" ] || die "the upload finished before A was killed; cap the rate lower"; }
still_sending
# A body in flight on A when it dies: the hub's PATCHes are short bursts
# (curl paces between them), so hold one open ourselves. The hub is
# stopped; a slow PATCH of junk at the upload's offset goes to A directly
# (the admin token may upload) and holds the upload's lease there. Its
# bytes reach A's file but never the stored offset: they must not survive.
head -c 200000 /dev/urandom >"$T/junk"
slow_patch() {
    curl -s -o "$T/slow.body" -w '%{http_code}' -X PATCH "$A_URL/uploads/$UP_ID" \
        -H "Authorization: Bearer $ADMIN_TOKEN" "${TUS[@]}" "${OCTET[@]}" \
        -H "Upload-Offset: $UP_OFF" --limit-rate 4K --data-binary @"$T/junk" >"$T/slow.code" 2>/dev/null
}
lease_held() { [ -n "$(sql "SELECT 1 FROM upload_leases WHERE upload_id = '$UP_ID'")" ]; }
file_size() { stat -c %s "$T/data/uploads/$UP_ID.bin"; }
# slow_patch_writing: true once the slow PATCH is alive, the lease is held
# and A's file grows (the hub is stopped, so the growth is ours); false
# when it was answered at once (the stopped hub's own body held the lock:
# then the hub runs on and we try again).
slow_patch_writing() {
    kill -STOP "$UPLINK_PID"
    read -r UP_ID UP_OFF < <(sql "SELECT id || ' ' || \"offset\" FROM uploads WHERE study = '$STUDY'")
    slow_patch &
    SLOW_PID=$!
    PIDS+=("$SLOW_PID")
    local size0 i
    size0=$(file_size)
    for ((i = 0; i < 400; i++)); do
        kill -0 "$SLOW_PID" 2>/dev/null || break
        [ "$(file_size)" -gt "$size0" ] && lease_held && kill -0 "$SLOW_PID" 2>/dev/null && return 0
        sleep 0.05
    done
    kill "$SLOW_PID" 2>/dev/null || true
    wait "$SLOW_PID" 2>/dev/null || true
    kill -CONT "$UPLINK_PID"
    still_sending
    return 1
}
wait_until 120 "a slow PATCH writing on A with the hub stopped" slow_patch_writing
# Two servers see PATCHes for one upload: B refuses while A's lease lives.
SRV_URL=$B_URL
http PATCH "/uploads/$UP_ID" -H "Authorization: Bearer $ADMIN_TOKEN" "${TUS[@]}" "${OCTET[@]}" \
    -H "Upload-Offset: $UP_OFF" --data-binary @"$T/junk"
expect_code 423 "a PATCH on B while A holds the upload's lease"
[ "$(sql "SELECT \"offset\" FROM uploads WHERE id = '$UP_ID'")" = "$UP_OFF" ] ||
    fail "the stored offset moved while a body was in flight"
[ "$(sql "SELECT COUNT(*) FROM ingest_claims WHERE study = '$STUDY'")" = 1 ] ||
    fail "no analysis claim row for the study"
ha_cmd "set server servers/b state ready" >/dev/null
kill -KILL "$A_PID"
wait "$A_PID" 2>/dev/null || true
kill -CONT "$UPLINK_PID"
wait "$SLOW_PID" 2>/dev/null || true
[ "$(cat "$T/slow.code")" != 204 ] || fail "the slow PATCH to the killed server succeeded"
SENT_AT_KILL=$(json_field "$T/status.json" frames_sent)
wait_until 240 "the uplink to finish through B" status_is "$T/status.json" finished
wait "$UPLINK_PID" || fail "the uplink exited non-zero"
ok "an event stream on B showed A's progress (LISTEN/NOTIFY); B refused a PATCH while A held the lease; A killed (kill -9) mid-body at $SENT_AT_KILL of $NF frames; the upload finished through B"

# ---- 3. every frame once, byte-identical, analysed once -------------------
mapfile -t BINS < <(ls "$T/data/uploads/" | grep '\.bin$')
[ "${#BINS[@]}" -eq 1 ] || fail "expected one upload file, found: ${BINS[*]:-none}"
"$CAPSCREEN" pack "$T/src" "$T/expected.csfs" 2>"$T/e" || die "pack: $(cat "$T/e")"
cmp "$T/data/uploads/${BINS[0]}" "$T/expected.csfs" || fail "the shared study file differs from capscreen pack"
[ "$(sql "SELECT \"offset\" = length AND state = 1 FROM uploads WHERE study = '$STUDY'")" = t ] ||
    fail "the upload is not complete at its full length"
wait_until 180 "B to analyse all $NF frames" analysed_at_least "$NF"
got=$(sql "SELECT COUNT(*) || ' ' || COUNT(DISTINCT seq) || ' ' || COUNT(DISTINCT frame_index)
                  || ' ' || MIN(seq) || ' ' || MAX(seq) || ' ' || SUM(ok)
                  || ' ' || COUNT(bleeding_probability) || ' ' || COUNT(polyp)
           FROM frames WHERE study = '$STUDY'")
want="$NF $NF $NF 0 $((NF - 1)) $NF $NF $NF"
[ "$got" = "$want" ] ||
    fail "frames (rows, seqs, frame indexes, min, max, ok, bleeding, polyp): '$got', want '$want'"
[ "$(sql "SELECT n_frames || ' ' || next_seq FROM studies WHERE id = '$STUDY'")" = "$NF $NF" ] ||
    fail "the study's counters: $(sql "SELECT n_frames, next_seq FROM studies WHERE id = '$STUDY'")"
SRV_URL=$HA_URL
http GET "/api/v1/studies/$STUDY" -H "Authorization: Bearer $ADMIN_TOKEN"
[ "$(json_get "$T/body" 'd["progress"]["frames_analysed"]')" = "$NF" ] ||
    fail "the API through HAProxy reports $(json_get "$T/body" 'd["progress"]["frames_analysed"]') frames analysed"
[ "$(sql "SELECT COUNT(*) FROM upload_leases")" = 0 ] || fail "an upload lease outlived its upload"
ok "study file byte-identical; every frame stored once with its analysis ($NF rows, none failed)"

cs_finish
