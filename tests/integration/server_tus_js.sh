#!/usr/bin/env bash
# server_tus_js.sh - tus-js-client from npm, an independent tus client,
# uploads a 40-frame study to `capscreen serve` in 64 KiB chunks, aborts
# after a few chunks, resumes from the upload URL and finishes (issue 3,
# item 2). The server's upload file equals the source and the study's
# analysis covers all 40 frames.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_python
need_curl
need_tus_js_client

N=40
pack_frames "$N" "$T/s.csfs"
SIZE=$(stat -c %s "$T/s.csfs")
[ "$SIZE" -gt $((5 * 65536)) ] || die "the study ($SIZE bytes) is too small to abort after 3 chunks of 64 KiB"
start_server "$T/data"
new_device

node "$NODE_DIR/tus_js_upload.mjs" --endpoint "$SRV_URL/uploads/" --token "$TOKEN" \
    --file "$T/s.csfs" --abort-after 3 >"$T/js.out" 2>"$T/js.err" ||
    die "tus-js-client failed: $(tail -5 "$T/js.err")"
cat "$T/js.out"
py_check "$T/js.out" <<'EOF2' || fail "tus-js-client's report"
if d["aborted_at"] != 3 * 65536:
    fail("aborted after %r bytes, expected 3 chunks" % d["aborted_at"])
if d["resumed_from"] != d["aborted_at"]:
    fail("resumed from %r, aborted at %r" % (d["resumed_from"], d["aborted_at"]))
if "/uploads/" not in d["upload_url"]:
    fail("upload URL %r" % d["upload_url"])
EOF2
URL_PATH=$(json_get "$T/js.out" 'd["upload_url"]')
ID=${URL_PATH##*/}
cmp "$T/s.csfs" "$T/data/uploads/$ID.bin" || fail "the server's upload file differs from the source"
AUTH=(-H "Authorization: Bearer $TOKEN")
http HEAD "/uploads/$ID" "${TUS[@]}" "${AUTH[@]}"
[ "$(header Upload-Offset)" = "$SIZE" ] || fail "HEAD says $(header Upload-Offset), expected $SIZE"
ok "tus-js-client: abort after 3 chunks, resume from the upload URL, file identical ($SIZE bytes)"

for i in $(seq 1 600); do
    http GET "/api/v1/studies/$STUDY" -H "Authorization: Bearer $ADMIN_TOKEN"
    [ "$(json_get "$T/body" 'd["progress"]["frames_analysed"]')" -ge "$N" ] && break
    sleep 0.1
done
N=$N py_check "$T/body" <<'EOF2' || fail "the study's analysis"
import os
n = int(os.environ["N"])
if d["counts"]["analysed"] != n or d["counts"]["failed"] != 0:
    fail("counts %r errors %r" % (d["counts"], d["errors"][:3]))
EOF2
ok "the study uploaded by tus-js-client analysed all $N frames"
stop_server TERM
cs_finish
