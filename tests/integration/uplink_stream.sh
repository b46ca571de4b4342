#!/usr/bin/env bash
# uplink_stream.sh - stream mode: the uplink follows a frame-stream file
# that grows in pieces cut at arbitrary byte boundaries (mid-header,
# mid-payload), sends only whole intact records, and the server's upload
# ends byte-identical to the source once FILE.end appears.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_uplink
need_tus_server

tus_start_enrolled "$T/store" "$T/state"
mapfile -t FRAMES < <(first_frames 30)
mkdir -p "$T/src"
cp -p "${FRAMES[@]}" "$T/src/"
"$CAPSCREEN" pack --fps 4 --start-us 1700000000000000 "$T/src" "$T/full.csfs" 2>"$T/e" ||
    die "pack: $(cat "$T/e")"
size=$(stat -c %s "$T/full.csfs")

# append FROM COUNT: append bytes FROM .. FROM+COUNT-1 of the source.
append() {
    dd if="$T/full.csfs" bs=64K iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none >>"$S"
}
S=$T/rec/live.csfs
mkdir -p "$T/rec"
append 0 10   # inside the file header
"$UPLINK" run --state "$T/state" --stream "$S" --status-file "$T/status.json" \
    --chunk-bytes 64K --chunk-ms 100 --backoff-min-ms 100 >>"$T/uplink.log" 2>&1 &
UPLINK_PID=$!
cut1=$((size / 3 + 7)) cut2=$((2 * size / 3 + 13))
append 10 $((cut1 - 10))
wait_until 30 "the first third sent" frames_sent_at_least "$T/status.json" 5
append "$cut1" $((cut2 - cut1))
wait_until 30 "the second third sent" frames_sent_at_least "$T/status.json" 15
url=$(json_field "$T/status.json" upload_url)
csfs_indexes "$T/store/${url##*/}" >/dev/null || fail "an incomplete record was sent before its bytes were written"
append "$cut2" $((size - cut2))
: >"$S.end"
wait_until 60 "state finished" status_is "$T/status.json" finished
wait "$UPLINK_PID" || fail "uplink exited non-zero"
UPLINK_PID=
cmp "$T/store/${url##*/}" "$T/full.csfs" || fail "upload differs from the followed stream file"
[ "$(json_field "$T/status.json" frames_sent)" = 30 ] || fail "frames_sent is not 30"
cmp "$S" "$T/full.csfs" || fail "the uplink changed the recorder's file"
ok "followed a growing stream file; upload byte-identical to it"

cs_finish
