#!/usr/bin/env bash
# uplink_crash_resume.sh - the uplink is killed with SIGKILL three times
# mid-upload (mid-PATCH: the upload rate is capped so each kill lands inside
# a transfer); each restart asks the server for its offset and re-sends from
# there. The server's upload ends byte-identical to `capscreen pack` of the
# frames: every frame exactly once, in order, none lost.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_uplink
need_tus_server

tus_start_enrolled "$T/store" "$T/state"
mapfile -t FRAMES < <(first_frames 40)
drop_frames "$T/spool" "$T/src" "${FRAMES[@]}"
: >"$T/spool/study.end"

ARGS=(run --state "$T/state" --spool "$T/spool" --status-file "$T/status.json"
      --chunk-bytes 64K --backoff-min-ms 100 --backoff-max-ms 1000)
MID=0
for target in 6 16 26; do
    "$UPLINK" "${ARGS[@]}" --max-rate 120K >>"$T/uplink.log" 2>&1 &
    UPLINK_PID=$!
    wait_until 60 "frames_sent >= $target" frames_sent_at_least "$T/status.json" "$target"
    kill -KILL "$UPLINK_PID" 2>/dev/null || true # gone already: checked below
    wait "$UPLINK_PID" 2>/dev/null || true
    UPLINK_PID=
    sent=$(json_field "$T/status.json" frames_sent)
    [ "$sent" -lt 40 ] || die "the upload finished before kill at $target; cap the rate lower"
    off=$(json_field "$T/status.json" upload_offset)
    url=$(json_field "$T/status.json" upload_url)
    have=$(stat -c %s "$T/store/${url##*/}" 2>/dev/null || echo 0)
    echo "  kill at $target frames: server holds $have bytes, $((have - off)) past the last confirmed offset $off"
    [ "$have" -gt "$off" ] && MID=$((MID + 1))
    # No frame may leave the spool before the server holds its whole
    # record: every source frame missing from the spool must be, byte for
    # byte, a record in the server's file. (The status file's frames_sent
    # can lag one step behind the deletions, when the kill lands between a
    # confirmation's deletions and the status write, so it is not the
    # measure here; the server's bytes are.)
    held=$(mktemp "$T/held.XXXXXX")
    [ -s "$T/store/${url##*/}" ] &&
        csfs_indexes "$T/store/${url##*/}" --allow-truncated --sha256 | cut -d' ' -f2 >"$held"
    lost=0
    for f in "$T/src"/*.jpg; do
        [ -e "$T/spool/$(basename "$f")" ] && continue
        grep -qx "$(sha256sum "$f" | cut -d' ' -f1)" "$held" || lost=$((lost + 1))
    done
    [ "$lost" -eq 0 ] ||
        fail "after kill at $target: $lost frame(s) left the spool without a whole record on the server"
done
[ "$MID" -ge 1 ] || fail "no kill landed inside a PATCH (server never held unconfirmed bytes)"
ok "three SIGKILLs mid-upload; no unsent frame left the spool"

RC=0
timeout 120 "$UPLINK" "${ARGS[@]}" >>"$T/uplink.log" 2>&1 || RC=$?
[ "$RC" -eq 0 ] || die "final run exited $RC: $(tail -3 "$T/uplink.log")"
status_is "$T/status.json" finished || fail "status not finished: $(cat "$T/status.json")"
url=$(json_field "$T/status.json" upload_url)
id=${url##*/}
[ "$(ls "$T/store" | grep -vc '\.json$')" -eq 1 ] || fail "the server holds more than one upload: $(ls "$T/store")"
"$CAPSCREEN" pack "$T/src" "$T/expected.csfs" 2>"$T/e" || die "pack: $(cat "$T/e")"
[ "$(csfs_indexes "$T/store/$id" | tr '\n' ' ')" = "$(seq 0 39 | tr '\n' ' ')" ] ||
    fail "server records are not frames 0..39 exactly once: $(csfs_indexes "$T/store/$id" | tr '\n' ' ')"
cmp "$T/store/$id" "$T/expected.csfs" || fail "the uploaded stream differs from capscreen pack"
[ "$(find "$T/spool" -name '*.jpg' | wc -l)" -eq 0 ] || fail "frames left in the spool"
ok "resumed to a byte-identical upload: frames 0..39 exactly once"

cs_finish
