#!/usr/bin/env bash
# uplink_spool_full.sh - with the server unreachable, a spool at its cap
# signals "full" (status spool_full, the spool.full marker, exit status 3
# from run --once) and keeps every frame; once the server is back the
# frames go out, the signal clears, and only then are they deleted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_uplink
need_tus_server

tus_start_enrolled "$T/store" "$T/state"
tus_stop   # the port stays reserved in TUS_PORT; nothing listens now

mapfile -t FRAMES < <(first_frames 8)
drop_frames "$T/spool" "$T/src" "${FRAMES[@]}"
ARGS=(run --state "$T/state" --spool "$T/spool" --status-file "$T/status.json"
      --spool-max-frames 5 --backoff-min-ms 100 --backoff-max-ms 500 --connect-timeout 2)

RC=0
timeout 60 "$UPLINK" "${ARGS[@]}" --once >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -eq 3 ] || fail "run --once on a full spool exited $RC, expected 3: $(cat "$T/e")"
[ -e "$T/spool/spool.full" ] || fail "no spool.full marker"
ok "run --once: exit 3 and spool.full on a full spool"

"$UPLINK" "${ARGS[@]}" >>"$T/uplink.log" 2>&1 &
UPLINK_PID=$!
wait_until 30 "state spool_full" status_is "$T/status.json" spool_full
[ "$(json_field "$T/status.json" frames_queued)" = 8 ] || fail "frames_queued is not 8: $(cat "$T/status.json")"
# Give the uplink several failed tries (bounded) and check nothing is lost.
wait_until 30 "a recorded failure" grep -q '"last_error": "' "$T/status.json"
[ "$(find "$T/spool" -name '*.jpg' | wc -l)" -eq 8 ] || fail "a frame left the spool while the server was down"
ok "server down: spool_full, 8 frames kept"

# SIGTERM stops it cleanly (exit 0) while it backs off; a restart goes on.
kill -TERM "$UPLINK_PID"
wait_until 10 "the uplink to stop on SIGTERM" bash -c "! kill -0 $UPLINK_PID 2>/dev/null"
RC=0; wait "$UPLINK_PID" || RC=$?
UPLINK_PID=
[ "$RC" -eq 0 ] || fail "run exited $RC on SIGTERM, expected 0"
[ "$(find "$T/spool" -name '*.jpg' | wc -l)" -eq 8 ] || fail "frames lost on SIGTERM"
"$UPLINK" "${ARGS[@]}" >>"$T/uplink.log" 2>&1 &
UPLINK_PID=$!
ok "SIGTERM: exit 0, nothing lost"

: >"$T/spool/study.end"
tus_start "$T/store"
wait_until 60 "state finished" status_is "$T/status.json" finished
wait "$UPLINK_PID" || fail "uplink exited non-zero"
UPLINK_PID=
[ ! -e "$T/spool/spool.full" ] || fail "spool.full marker still there"
[ "$(find "$T/spool" -name '*.jpg' | wc -l)" -eq 0 ] || fail "sent frames still in the spool"
url=$(json_field "$T/status.json" upload_url)
[ "$(csfs_indexes "$T/store/${url##*/}" | tr '\n' ' ')" = "$(seq 0 7 | tr '\n' ' ')" ] ||
    fail "server upload is not frames 0..7"
ok "server back: frames sent, full signal cleared, spool emptied"

cs_finish
