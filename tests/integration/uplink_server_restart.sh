#!/usr/bin/env bash
# uplink_server_restart.sh - the tus server is killed (SIGKILL) mid-upload:
# the uplink backs off (status backing_off, no frame deleted) and, when the
# server is back on the same address, resumes from the server's offset to a
# byte-identical upload. Then the upload vanishes from the server (404):
# the uplink starts a new upload for the frames not yet confirmed, which
# continues the study's stream (no second file header: the server joins a
# study's uploads); together the two cover every frame.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_uplink
need_tus_server

tus_start_enrolled "$T/store" "$T/state"
mapfile -t ALL < <(first_frames 80)
drop_frames "$T/spool" "$T/src" "${ALL[@]:0:40}"
: >"$T/spool/study.end"

ARGS=(run --state "$T/state" --spool "$T/spool" --status-file "$T/status.json"
      --chunk-bytes 64K --backoff-min-ms 100 --backoff-max-ms 800 --low-speed 1000:2)

# --- server killed and restarted --------------------------------------------
"$UPLINK" "${ARGS[@]}" --max-rate 120K >>"$T/uplink.log" 2>&1 &
UPLINK_PID=$!
wait_until 60 "frames_sent >= 10" frames_sent_at_least "$T/status.json" 10
tus_stop KILL
wait_until 30 "state backing_off" status_is "$T/status.json" backing_off
sent=$(json_field "$T/status.json" frames_sent)
left=$(find "$T/spool" -name '*.jpg' | wc -l)
[ "$sent" -lt 40 ] || die "finished before the server was killed; cap the rate lower"
[ $((left + sent)) -eq 40 ] || fail "server down: $left in the spool + $sent sent != 40"
grep -q . <<<"$(json_field "$T/status.json" last_error)" || fail "backing_off without a last_error"
tus_start "$T/store"
wait_until 120 "state finished" status_is "$T/status.json" finished
wait "$UPLINK_PID" || fail "uplink exited non-zero after finishing"
UPLINK_PID=
url=$(json_field "$T/status.json" upload_url)
"$CAPSCREEN" pack "$T/src" "$T/expected.csfs" 2>"$T/e" || die "pack: $(cat "$T/e")"
cmp "$T/store/${url##*/}" "$T/expected.csfs" || fail "upload after a server restart differs from capscreen pack"
ok "server SIGKILLed mid-upload: backing_off, then resumed to a byte-identical upload"

# --- the upload disappears: a new one carries the rest ------------------------
mkdir -p "$T/state2"
cp -p "$T/state/device" "$T/state2/device"
drop_frames "$T/spool2" "$T/src2" "${ALL[@]:40:40}"
: >"$T/spool2/study.end"
ARGS2=(run --state "$T/state2" --spool "$T/spool2" --status-file "$T/status2.json"
       --chunk-bytes 64K --backoff-min-ms 100 --backoff-max-ms 800 --low-speed 1000:2)
"$UPLINK" "${ARGS2[@]}" --max-rate 120K >>"$T/uplink.log" 2>&1 &
UPLINK_PID=$!
wait_until 60 "frames_sent >= 10" frames_sent_at_least "$T/status2.json" 10
tus_stop KILL
old=$(json_field "$T/status2.json" upload_url)
old=${old##*/}
mkdir -p "$T/gone"
mv "$T/store/$old" "$T/store/$old.json" "$T/gone/"
tus_start "$T/store"
wait_until 120 "state finished" status_is "$T/status2.json" finished
wait "$UPLINK_PID" || fail "uplink exited non-zero after finishing"
UPLINK_PID=
new=$(json_field "$T/status2.json" upload_url)
new=${new##*/}
[ "$new" != "$old" ] || fail "no new upload was created"
grep -q "no longer has the upload" <<<"$(json_field "$T/status2.json" last_error)" ||
    fail "last_error does not say the upload was gone: $(json_field "$T/status2.json" last_error)"
csfs_indexes "$T/gone/$old" --allow-truncated >"$T/old.idx" || fail "old upload damaged before its tail"
[ "$(head -c 4 "$T/store/$new")" = CSFR ] || fail "the new upload does not start with a record"
{ head -c 16 "$T/gone/$old"; cat "$T/store/$new"; } >"$T/joined.csfs"
csfs_indexes "$T/joined.csfs" >"$T/new.idx" || fail "the new upload is not whole records"
first=$(head -1 "$T/new.idx")
[ "$(tr '\n' ' ' <"$T/new.idx")" = "$(seq "$first" 39 | tr '\n' ' ')" ] ||
    fail "new upload is not the contiguous rest $first..39: $(tr '\n' ' ' <"$T/new.idx")"
[ "$(sort -n -u "$T/old.idx" "$T/new.idx" | tr '\n' ' ')" = "$(seq 0 39 | tr '\n' ' ')" ] ||
    fail "old and new upload together do not cover frames 0..39"
[ "$(find "$T/spool2" -name '*.jpg' | wc -l)" -eq 0 ] || fail "frames left in the spool"
echo "  old upload: $(wc -l <"$T/old.idx") whole frames; new upload: frames $first..39"
ok "upload gone (404): a new upload continues the stream with frames $first..39"

cs_finish
