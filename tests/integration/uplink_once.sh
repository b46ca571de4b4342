#!/usr/bin/env bash
# uplink_once.sh - `capscreen-uplink run --once` sends what is in the spool
# now and exits 0 only when all of it is confirmed (docs/uplink.md): on a
# fresh state folder (no upload yet) and again after a restart (the upload
# exists, so the run starts with a HEAD), and in stream mode. The status
# never calls frames waiting to be sent "enrolled" or "idle".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_uplink
need_tus_server

tus_start_enrolled "$T/store" "$T/state"
mapfile -t ALL < <(first_frames 15)
ARGS=(run --state "$T/state" --spool "$T/spool" --status-file "$T/status.json" --chunk-bytes 64K)

# sent_once N: run --once; it must exit 0 with N frames confirmed in all,
# none left in the spool.
sent_once() {
    local rc=0 left
    timeout 120 "$UPLINK" "${ARGS[@]}" --once >"$T/o" 2>"$T/e" || rc=$?
    [ "$rc" -eq 0 ] || fail "run --once exited $rc: $(cat "$T/e")"
    [ "$(json_field "$T/status.json" frames_sent)" = "$1" ] ||
        fail "run --once exited $rc with frames_sent $(json_field "$T/status.json" frames_sent), not $1: $(cat "$T/status.json")"
    left=$(find "$T/spool" -name '*.jpg' | wc -l)
    [ "$left" -eq 0 ] || fail "run --once exited $rc with $left frames still in the spool"
}

drop_frames "$T/spool" "$T/src" "${ALL[@]:0:10}"
sent_once 10
ok "run --once on a fresh state folder sends the spool's 10 frames before exiting 0"

drop_frames "$T/spool" "$T/src" "${ALL[@]:10:5}"
sent_once 15
url=$(json_field "$T/status.json" upload_url)
"$CAPSCREEN" pack "$T/src" "$T/expected.csfs" 2>"$T/e" || die "pack: $(cat "$T/e")"
cmp "$T/store/${url##*/}" "$T/expected.csfs" 2>/dev/null ||
    fail "the upload is not byte-identical to capscreen pack of frames 0..14"
ok "run --once after a restart sends the 5 new frames too; the upload is byte-identical"

# Stream mode: a second study (its own state folder) from a stream file.
tus_stop
TUS_PORT= tus_start_enrolled "$T/store2" "$T/state2"
"$CAPSCREEN" pack --fps 4 "$T/src" "$T/full.csfs" 2>"$T/e" || die "pack: $(cat "$T/e")"
RC=0
timeout 120 "$UPLINK" run --state "$T/state2" --stream "$T/full.csfs" --status-file "$T/status2.json" \
    --once >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -eq 0 ] || fail "stream run --once exited $RC: $(cat "$T/e")"
[ "$(json_field "$T/status2.json" frames_sent)" = 15 ] ||
    fail "stream run --once exited $RC with frames_sent $(json_field "$T/status2.json" frames_sent), not 15"
ok "stream mode: run --once sends the file's 15 records before exiting 0"

cs_finish
