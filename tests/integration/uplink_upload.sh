#!/usr/bin/env bash
# uplink_upload.sh - capscreen-uplink enrols once, uploads a spool of 40
# real frames with tus (creation-defer-length, then Upload-Length at the
# end), and the server's stored upload is byte-identical to `capscreen pack`
# of the same frames; sent frames leave the spool, the status file says
# finished. Also: --help, one-line errors, a reused enrolment code.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_uplink
need_tus_server

# --- usage and bad input: one line, non-zero ------------------------------
"$UPLINK" --help >"$T/o" 2>&1 || fail "--help exited non-zero"
grep -q "enrol" "$T/o" || fail "--help does not mention enrol"
"$UPLINK" run --help >"$T/o" 2>&1 || fail "run --help exited non-zero"
grep -q -- "--spool-max-bytes" "$T/o" || fail "run --help lacks --spool-max-bytes"
RC=0; "$UPLINK" run --state "$T/nostate" >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -eq 2 ] || fail "run without --spool exited $RC, expected 2"
expect_one_line "$T/e" "run without --spool" || true
RC=0; "$UPLINK" run --state "$T/nostate" --spool "$T" --chunk-bytes 12x >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -eq 2 ] || fail "bad --chunk-bytes exited $RC, expected 2"
expect_one_line "$T/e" "bad --chunk-bytes" || true
RC=0; "$UPLINK" run --state "$T/nostate" --spool "$T" >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -ne 0 ] || fail "run before enrolment exited 0"
grep -q "not enrolled" "$T/e" || fail "run before enrolment: $(cat "$T/e")"
expect_one_line "$T/e" "run before enrolment" || true
ok "usage and bad input"

# --- enrol -------------------------------------------------------------------
TUS_CODE=CODE-1234 tus_start "$T/store"
STUDY=$("$UPLINK" enrol --server "$TUS_URL" --code CODE-1234 --state "$T/state" 2>"$T/e") ||
    die "enrol failed: $(cat "$T/e")"
[ "$STUDY" = study-1 ] || fail "enrol printed '$STUDY', expected the study id"
[ "$(stat -c %a "$T/state/device")" = 600 ] || fail "device file mode is not 0600"
grep -q "^token test-token$" "$T/state/device" || fail "device file lacks the token"
RC=0; "$UPLINK" enrol --server "$TUS_URL" --code CODE-1234 --state "$T/state2" >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -ne 0 ] || fail "a reused enrolment code was accepted"
expect_one_line "$T/e" "reused code" || true
RC=0; "$UPLINK" enrol --server "$TUS_URL" --code CODE-1234 --state "$T/state" >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -ne 0 ] || fail "enrolling twice into one state folder was accepted"
ok "enrol stores token and study (0600); a code works once"

# --- upload 40 frames ------------------------------------------------------
mapfile -t FRAMES < <(first_frames 40)
drop_frames "$T/spool" "$T/src" "${FRAMES[@]}"
: >"$T/spool/study.end"
RC=0
timeout 120 "$UPLINK" run --state "$T/state" --spool "$T/spool" --status-file "$T/status.json" \
    --chunk-bytes 96K --device hub-7 >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -eq 0 ] || die "run exited $RC: $(cat "$T/e")"
status_is "$T/status.json" finished || fail "status is not finished: $(cat "$T/status.json")"
[ "$(json_field "$T/status.json" frames_sent)" = 40 ] || fail "frames_sent is not 40: $(cat "$T/status.json")"
[ "$(json_field "$T/status.json" frames_queued)" = 0 ] || fail "frames_queued is not 0"
left=$(find "$T/spool" -name '*.jpg' | wc -l)
[ "$left" -eq 0 ] || fail "$left sent frames are still in the spool"

url=$(json_field "$T/status.json" upload_url)
id=${url##*/}
[ -f "$T/store/$id" ] || die "the server has no upload $id"
"$CAPSCREEN" pack "$T/src" "$T/expected.csfs" 2>"$T/e" || die "pack: $(cat "$T/e")"
cmp "$T/store/$id" "$T/expected.csfs" || fail "the uploaded stream differs from capscreen pack of the same frames"
[ "$(csfs_indexes "$T/store/$id" | tr '\n' ' ')" = "$(seq 0 39 | tr '\n' ' ')" ] ||
    fail "uploaded records are not frames 0..39 in order"
py_check "$T/store/$id.json" "$(stat -c %s "$T/store/$id")" <<'EOF' || fail "upload metadata"
import base64
size = int(sys.argv[2])
if d.get("size") != size:
    fail("Upload-Length %r was not set to the %d bytes sent" % (d.get("size"), size))
m = d.get("metadata", {})
if m.get("study") != "study-1" or m.get("device") != "hub-7":
    fail("metadata %r lacks study and device" % m)
EOF
ok "40 frames uploaded, byte-identical to capscreen pack, upload closed, spool emptied"

# --- a finished study stays finished ------------------------------------------
RC=0; timeout 30 "$UPLINK" run --state "$T/state" --spool "$T/spool" >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -eq 0 ] || fail "run on a finished study exited $RC: $(cat "$T/e")"
ok "run on a finished study exits 0 at once"

# --- checksums: sent when the server offers sha256, and right -----------------
tus_stop
TUS_CHECKSUM_LOG=$T/checksums.log tus_start "$T/store"
mkdir -p "$T/state3"
cp -p "$T/state/device" "$T/state3/device"
drop_frames "$T/spool3" "$T/src3" "${FRAMES[@]:0:10}"
: >"$T/spool3/study.end"
RC=0
timeout 120 "$UPLINK" run --state "$T/state3" --spool "$T/spool3" --status-file "$T/status3.json" \
    --chunk-bytes 32K >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -eq 0 ] || fail "run against a checksum server exited $RC: $(cat "$T/e")"
status_is "$T/status3.json" finished || fail "checksum run not finished: $(cat "$T/status3.json")"
n_ok=$(grep -c '^ok$' "$T/checksums.log" 2>/dev/null || true)
n_bad=$(grep -c '^mismatch$' "$T/checksums.log" 2>/dev/null || true)
[ "${n_ok:-0}" -ge 3 ] || fail "expected several PATCHes with a verified sha256 Upload-Checksum, got ${n_ok:-0}"
[ "${n_bad:-0}" -eq 0 ] || fail "$n_bad PATCHes carried a wrong Upload-Checksum"
ok "checksum discovered by OPTIONS; ${n_ok} PATCH checksums verified by the server"

cs_finish
