#!/usr/bin/env bash
# uplink_offset_lie.sh - a HEAD answer whose Upload-Offset is beyond every
# byte the uplink ever sent (a garbled header, a proxy's or server's bug)
# is not the truth: the uplink must not count frames as confirmed (and
# delete them from the spool) nor take the server's real offset, asked
# again, as lost bytes and abandon (DELETE) the upload that holds the
# study's first frames. It backs off, asks again, and goes on: the one
# upload ends byte-identical to `capscreen pack` of every frame.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_uplink
need_tus_server

mapfile -t ALL < <(first_frames 20)
ARGS=(run --state "$T/state" --spool "$T/spool" --status-file "$T/status.json"
      --chunk-bytes 64K --backoff-min-ms 100 --backoff-max-ms 400)

# The first HEAD answer claims 1 MB more than the server holds; no other lies.
TUS_LIE=HEAD:1:1000000 tus_start_enrolled "$T/store" "$T/state"

# First run: frames 0..9, sent and confirmed (no HEAD: the upload is new).
drop_frames "$T/spool" "$T/src" "${ALL[@]:0:10}"
RC=0; timeout 120 "$UPLINK" "${ARGS[@]}" --once >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -eq 0 ] || die "first run exited $RC: $(cat "$T/e")"
url=$(json_field "$T/status.json" upload_url)
[ "$(json_field "$T/status.json" frames_sent)" = 10 ] || die "first run: $(cat "$T/status.json")"

# Second run: it starts with a HEAD, which lies; then frames 10..19.
drop_frames "$T/spool" "$T/src" "${ALL[@]:10:10}"
: >"$T/spool/study.end"
RC=0; timeout 120 "$UPLINK" "${ARGS[@]}" >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -eq 0 ] || fail "second run exited $RC: $(cat "$T/e")"
[ "$(wc -l <"$T/lies.log" 2>/dev/null || echo 0)" -eq 1 ] || fail "the server told no lie (test broken)"
status_is "$T/status.json" finished || fail "not finished: $(cat "$T/status.json")"
[ "$(json_field "$T/status.json" upload_url)" = "$url" ] ||
    fail "a new upload was started: $(json_field "$T/status.json" upload_url) (last_error: $(json_field "$T/status.json" last_error))"
[ "$(json_field "$T/status.json" frames_sent)" = 20 ] || fail "frames_sent: $(cat "$T/status.json")"
id=${url##*/}
[ -f "$T/store/$id" ] || fail "the first upload $id is gone from the server (abandoned with DELETE)"
"$CAPSCREEN" pack "$T/src" "$T/expected.csfs" 2>"$T/e" || die "pack: $(cat "$T/e")"
cmp "$T/store/$id" "$T/expected.csfs" 2>/dev/null ||
    fail "the upload is not byte-identical to capscreen pack of frames 0..19"
ok "a HEAD offset beyond the bytes sent: no frame lost, same upload, byte-identical"

cs_finish
