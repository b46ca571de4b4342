#!/usr/bin/env bash
# uplink_real_server.sh - capscreen-uplink against `capscreen serve` itself:
# enrolment with a code from `capscreen study create`, sha256 checksums
# (offered by the server), a kill -9 of the uplink and a kill -9 of the
# server mid-upload (restarted on the same address). The server's upload
# file is byte-identical to `capscreen pack` of the frames and the server
# analyses all 40 frames with no frame error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_uplink
need_python
"$CAPSCREEN" serve --help >/dev/null 2>&1 || skip "capscreen serve is not built"
command -v curl >/dev/null 2>&1 || skip "curl not installed"

UPLINK_PID=
real_cleanup() {
    [ -z "$UPLINK_PID" ] || kill -KILL "$UPLINK_PID" 2>/dev/null || true
    [ -z "${SRV_PID:-}" ] || kill -KILL "$SRV_PID" 2>/dev/null || true
    cs_cleanup
}
trap real_cleanup EXIT

# serve_on PORT: start the server on 127.0.0.1:PORT (0: any), wait for
# /healthz; sets SRV_PID, SRV_PORT, SRV_URL.
serve_on() {
    : >"$T/srv.out"
    CAPSCREEN_ADMIN_TOKEN=$ADMIN_TOKEN "$CAPSCREEN" serve --listen "127.0.0.1:$1" \
        --data "$T/data" >"$T/srv.out" 2>>"$T/srv.err" &
    SRV_PID=$!
    wait_until 30 "the server to listen" grep -q listening "$T/srv.out"
    SRV_PORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"].rsplit(":",1)[1])' "$T/srv.out")
    SRV_URL=http://127.0.0.1:$SRV_PORT
    wait_until 30 "/healthz" curl -sf -o /dev/null "$SRV_URL/healthz"
}
study_field() {  # study_field KEY: a progress member of GET /api/v1/studies/ID
    curl -s "$SRV_URL/api/v1/studies/$STUDY" -H "Authorization: Bearer $ADMIN_TOKEN" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["progress"][sys.argv[1]])' "$1" 2>/dev/null
}
frames_analysed_is() { [ "$(study_field frames_analysed)" = "$1" ]; }

mkdir -p "$T/data"
"$CAPSCREEN" study create --data "$T/data" --label uplink-test >"$T/study.out" 2>"$T/e" ||
    die "study create: $(cat "$T/e")"
STUDY=$(tail -1 "$T/study.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])')
CODE=$(tail -1 "$T/study.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enrolment_code"])')
serve_on 0
got=$("$UPLINK" enrol --server "$SRV_URL" --code "$CODE" --state "$T/state" 2>"$T/e") ||
    die "enrol against capscreen serve failed: $(cat "$T/e")"
[ "$got" = "$STUDY" ] || fail "enrol printed study '$got', expected '$STUDY'"
RC=0; "$UPLINK" enrol --server "$SRV_URL" --code "$CODE" --state "$T/state2" >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -ne 0 ] || fail "capscreen serve accepted a used enrolment code"
expect_one_line "$T/e" "used code" || true
ok "enrolled with capscreen serve (study $STUDY); a used code is refused"

mapfile -t FRAMES < <(first_frames 40)
drop_frames "$T/spool" "$T/src" "${FRAMES[@]}"
: >"$T/spool/study.end"
ARGS=(run --state "$T/state" --spool "$T/spool" --status-file "$T/status.json"
      --chunk-bytes 64K --backoff-min-ms 100 --backoff-max-ms 1000 --low-speed 1000:2)

"$UPLINK" "${ARGS[@]}" --max-rate 150K >>"$T/uplink.log" 2>&1 &
UPLINK_PID=$!
wait_until 60 "frames_sent >= 8" frames_sent_at_least "$T/status.json" 8
kill -0 "$UPLINK_PID" || { echo DEAD; cat "$T/uplink.log"; cat "$T/status.json"; }; kill -KILL "$UPLINK_PID"; wait "$UPLINK_PID" 2>/dev/null || true
"$UPLINK" "${ARGS[@]}" --max-rate 150K >>"$T/uplink.log" 2>&1 &
UPLINK_PID=$!
wait_until 60 "frames_sent >= 20" frames_sent_at_least "$T/status.json" 20
kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true
SRV_PID=
wait_until 30 "state backing_off" status_is "$T/status.json" backing_off
[ "$(json_field "$T/status.json" frames_sent)" -lt 40 ] || die "finished before the server was killed"
serve_on "$SRV_PORT"
wait_until 120 "state finished" status_is "$T/status.json" finished
wait "$UPLINK_PID" || fail "uplink exited non-zero"
UPLINK_PID=
ok "uplink and server each killed mid-upload; the uplink finished"

mapfile -t BINS < <(ls "$T/data/uploads/" 2>/dev/null | grep '\.bin$')
[ "${#BINS[@]}" -eq 1 ] || fail "expected one upload file in data/uploads, found: ${BINS[*]:-none}"
"$CAPSCREEN" pack "$T/src" "$T/expected.csfs" 2>"$T/e" || die "pack: $(cat "$T/e")"
cmp "$T/data/uploads/${BINS[0]}" "$T/expected.csfs" || fail "the server's study file differs from capscreen pack"
wait_until 120 "the server to analyse 40 frames" frames_analysed_is 40
[ "$(study_field frames_failed)" = 0 ] || fail "the server reports failed frames: $(study_field frames_failed)"
ok "server file byte-identical to capscreen pack; 40 frames analysed, none failed"

kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true
SRV_PID=

cs_finish
