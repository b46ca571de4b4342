#!/usr/bin/env bash
# uplink_crash_confirm.sh - the uplink dies after the server confirmed a
# chunk and its first frame left the spool, before the progress file
# records the new offset; the outbox file (a cache, not fsynced) is lost
# too, as a power cut just after packing leaves it. The restart must not
# refuse to start because a frame that the server already holds is gone
# from the spool: it asks the server's offset first, rebuilds the outbox
# from there and finishes, every frame once, byte-identical to `capscreen
# pack`. The kill lands exactly there: strace stops the process as it
# removes the second frame.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_uplink
need_tus_server
command -v strace >/dev/null 2>&1 || skip "strace not installed (needed to kill at one syscall)"

tus_start_enrolled "$T/store" "$T/state"
mapfile -t ALL < <(first_frames 10)
drop_frames "$T/spool" "$T/src" "${ALL[@]}"
: >"$T/spool/study.end"
ARGS=(run --state "$T/state" --spool "$T/spool" --status-file "$T/status.json"
      --chunk-bytes 1M --backoff-min-ms 100 --backoff-max-ms 400)

second=$T/spool/$(basename "${ALL[1]}")
RC=0
timeout 120 strace -f -qq -o /dev/null -P "$second" -e trace=unlink -e inject=unlink:signal=KILL \
    "$UPLINK" "${ARGS[@]}" >"$T/o" 2>"$T/e" || RC=$?
[ ! -e "$T/spool/$(basename "${ALL[0]}")" ] && [ -e "$second" ] ||
    die "the uplink was not stopped between removing the first and the second frame (rc $RC)"
grep -q "^offset 0$" "$T/state/progress" || die "the progress recorded the confirmation (test broken)"
rm -f "$T/state/outbox.csfs"

RC=0; timeout 120 "$UPLINK" "${ARGS[@]}" >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -eq 0 ] || fail "the restart exited $RC: $(cat "$T/e")"
status_is "$T/status.json" finished || fail "not finished: $(cat "$T/status.json")"
[ "$(json_field "$T/status.json" frames_sent)" = 10 ] || fail "frames_sent: $(cat "$T/status.json")"
url=$(json_field "$T/status.json" upload_url)
"$CAPSCREEN" pack "$T/src" "$T/expected.csfs" 2>"$T/e" || die "pack: $(cat "$T/e")"
cmp "$T/store/${url##*/}" "$T/expected.csfs" 2>/dev/null ||
    fail "the upload is not byte-identical to capscreen pack of frames 0..9"
[ "$(find "$T/spool" -name '*.jpg' | wc -l)" -eq 0 ] || fail "frames left in the spool"
ok "killed between releasing confirmed frames and storing the offset, outbox lost: resumed, every frame once"

cs_finish
