#!/usr/bin/env bash
# server_tus.sh - the tus 1.0.0 protocol at /uploads/ with curl: discovery,
# creation (length, deferred length, with upload), core HEAD/PATCH, checksum
# (sha1, sha256), termination, expiration and every refusal the spec
# prescribes (412, 401, 400, 409, 413, 415, 460, 404, 410), each with a
# JSON error; /metrics counts them; nothing received is lost.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl

start_server "$T/data" --max-upload-size 100000
new_device
AUTH=(-H "Authorization: Bearer $TOKEN")
head -c 3000 /dev/urandom >"$T/blob"

# --- discovery --------------------------------------------------------------
http OPTIONS /uploads/
expect_code 204 "OPTIONS"
[ "$(header Tus-Version)" = 1.0.0 ] || fail "OPTIONS: Tus-Version is '$(header Tus-Version)'"
[ "$(header Tus-Max-Size)" = 100000 ] || fail "OPTIONS: Tus-Max-Size is '$(header Tus-Max-Size)'"
for ext in creation creation-defer-length creation-with-upload checksum termination expiration; do
    header Tus-Extension | tr ',' '\n' | grep -qx "$ext" || fail "OPTIONS: Tus-Extension lacks $ext"
done
header Tus-Checksum-Algorithm | grep -q sha1 || fail "OPTIONS: no sha1 in Tus-Checksum-Algorithm"
ok "OPTIONS lists version, extensions, max size, checksum algorithms"

# --- refusals before any upload exists ----------------------------------------
http POST /uploads/ "${AUTH[@]}" -H "Upload-Length: 10"
expect_code 412 "POST without Tus-Resumable"
[ "$(header Tus-Version)" = 1.0.0 ] || fail "412 without Tus-Version header"
http POST /uploads/ -H "Tus-Resumable: 0.2.2" "${AUTH[@]}" -H "Upload-Length: 10"
expect_code 412 "POST with Tus-Resumable 0.2.2"
tus_create nobody -H "Upload-Length: 10"
expect_code 401 "POST with an unknown token"
http POST /uploads/ "${TUS[@]}" -H "Upload-Length: 10"
expect_code 401 "POST without a token"
tus_create "$TOKEN"
expect_code 400 "POST with neither Upload-Length nor Upload-Defer-Length"
tus_create "$TOKEN" -H "Upload-Length: 10" -H "Upload-Defer-Length: 1"
expect_code 400 "POST with both lengths"
tus_create "$TOKEN" -H "Upload-Length: -5"
expect_code 400 "POST with Upload-Length -5"
tus_create "$TOKEN" -H "Upload-Length: 12abc"
expect_code 400 "POST with Upload-Length 12abc"
tus_create "$TOKEN" -H "Upload-Defer-Length: 2"
expect_code 400 "POST with Upload-Defer-Length 2"
tus_create "$TOKEN" -H "Upload-Length: 100001"
expect_code 413 "POST over Tus-Max-Size"
tus_create "$TOKEN" -H "Upload-Length: 10" -H "Upload-Metadata: filename !!notbase64"
expect_code 400 "POST with bad Upload-Metadata base64"
tus_create "$TOKEN" -H "Upload-Length: 10" -H "Upload-Metadata: a YQ==,a Yg=="
expect_code 400 "POST with a repeated metadata key"
http HEAD /uploads/0123456789abcdef0123456789abcdef "${TUS[@]}" "${AUTH[@]}"
[ "$CODE" = 404 ] || fail "HEAD of an unknown upload: $CODE, expected 404"
http PATCH /uploads/0123456789abcdef0123456789abcdef "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" \
    -H "Upload-Offset: 0" --data-binary x
expect_code 404 "PATCH of an unknown upload"
ok "creation refusals: 412, 401, 400 (lengths, metadata), 413, 404"

# --- creation and core ----------------------------------------------------------
tus_create "$TOKEN" -H "Upload-Length: 3000" -H "Upload-Metadata: filename c3R1ZHkuY3Nmcw==,is_live"
expect_code 201 "POST Upload-Length 3000"
case "$UPLOAD" in /uploads/*) ;; *) fail "Location is '$UPLOAD'" ;; esac
[ -n "$(header Tus-Resumable)" ] || fail "201 without Tus-Resumable"
http HEAD "$UPLOAD" "${TUS[@]}" "${AUTH[@]}"
expect_code 200 "HEAD of a new upload"
[ "$(header Upload-Offset)" = 0 ] || fail "HEAD: Upload-Offset '$(header Upload-Offset)'"
[ "$(header Upload-Length)" = 3000 ] || fail "HEAD: Upload-Length '$(header Upload-Length)'"
[ "$(header Upload-Metadata)" = "filename c3R1ZHkuY3Nmcw==,is_live" ] || fail "HEAD: metadata '$(header Upload-Metadata)'"
[ "$(header Cache-Control)" = no-store ] || fail "HEAD: Cache-Control '$(header Cache-Control)'"
[ -n "$(header Upload-Expires)" ] || fail "HEAD: no Upload-Expires on an incomplete upload"

slice "$T/blob" 0 1000 "$T/p1"
slice "$T/blob" 1000 1000 "$T/p2"
slice "$T/blob" 2000 1000 "$T/p3"
http PATCH "$UPLOAD" "${TUS[@]}" "${AUTH[@]}" -H "Content-Type: text/plain" -H "Upload-Offset: 0" --data-binary @"$T/p1"
expect_code 415 "PATCH with Content-Type text/plain"
http PATCH "$UPLOAD" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" --data-binary @"$T/p1"
expect_code 400 "PATCH without Upload-Offset"
for junk in -1 "+0" "0x0" "1e3" "99999999999999999999" ""; do
    http PATCH "$UPLOAD" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: $junk" --data-binary @"$T/p1"
    [ "$CODE" = 400 ] || fail "PATCH with Upload-Offset '$junk': $CODE, expected 400"
done
http PATCH "$UPLOAD" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 5" --data-binary @"$T/p1"
expect_code 409 "PATCH at the wrong offset"
http PATCH "$UPLOAD" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 0" --data-binary @"$T/p1"
expect_code 204 "PATCH 1000 bytes at 0"
[ "$(header Upload-Offset)" = 1000 ] || fail "PATCH: Upload-Offset '$(header Upload-Offset)'"
ok "core: HEAD headers, 415, 400 on junk offsets, 409, 204"

# --- checksum ---------------------------------------------------------------------
b64() { python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.new(sys.argv[1], open(sys.argv[2],"rb").read()).digest()).decode())' "$@"; }
http PATCH "$UPLOAD" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 1000" \
    -H "Upload-Checksum: sha1 $(b64 sha1 "$T/p1")" --data-binary @"$T/p2"
expect_code 460 "PATCH with a wrong sha1"
http HEAD "$UPLOAD" "${TUS[@]}" "${AUTH[@]}"
[ "$(header Upload-Offset)" = 1000 ] || fail "after 460 the offset moved to '$(header Upload-Offset)'"
http PATCH "$UPLOAD" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 1000" \
    -H "Upload-Checksum: md5 $(b64 md5 "$T/p2")" --data-binary @"$T/p2"
expect_code 400 "PATCH with checksum algorithm md5"
http PATCH "$UPLOAD" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 1000" \
    -H "Upload-Checksum: sha1 AAAA" --data-binary @"$T/p2"
expect_code 400 "PATCH with a short sha1 digest"
http PATCH "$UPLOAD" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 1000" \
    -H "Upload-Checksum: sha1 $(b64 sha1 "$T/p2")" --data-binary @"$T/p2"
expect_code 204 "PATCH with the right sha1"
[ "$(header Upload-Offset)" = 2000 ] || fail "sha1 PATCH: offset '$(header Upload-Offset)'"
cat "$T/p3" "$T/p3" >"$T/p3x2"
http PATCH "$UPLOAD" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 2000" --data-binary @"$T/p3x2"
expect_code 413 "PATCH past Upload-Length"
http PATCH "$UPLOAD" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 2000" \
    -H "Upload-Checksum: sha256 $(b64 sha256 "$T/p3")" --data-binary @"$T/p3"
expect_code 204 "PATCH with the right sha256"
[ "$(header Upload-Offset)" = 3000 ] || fail "sha256 PATCH: offset '$(header Upload-Offset)'"
[ -z "$(header Upload-Expires)" ] || fail "a complete upload still has Upload-Expires"
ID=${UPLOAD##*/}
cmp -s "$T/blob" "$T/data/uploads/$ID.bin" || fail "the stored upload differs from the bytes sent"
ok "checksum: 460 keeps the offset, 400 on md5 and short digests, sha1 and sha256 accepted; 413; file identical"

# --- deferred length, creation-with-upload ---------------------------------------------
tus_create "$TOKEN" -H "Upload-Defer-Length: 1"
expect_code 201 "POST Upload-Defer-Length: 1"
D=$UPLOAD
http HEAD "$D" "${TUS[@]}" "${AUTH[@]}"
[ "$(header Upload-Defer-Length)" = 1 ] || fail "HEAD of a deferred upload: no Upload-Defer-Length: 1"
http PATCH "$D" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 0" --data-binary @"$T/p1"
expect_code 204 "PATCH a deferred upload"
http PATCH "$D" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 1000" -H "Upload-Length: 2000" --data-binary @"$T/p2"
expect_code 204 "PATCH setting Upload-Length 2000"
http HEAD "$D" "${TUS[@]}" "${AUTH[@]}"
[ "$(header Upload-Length)" = 2000 ] && [ "$(header Upload-Offset)" = 2000 ] \
    || fail "deferred upload: length '$(header Upload-Length)' offset '$(header Upload-Offset)'"
tus_create "$TOKEN" -H "Upload-Length: 1000" "${OCTET[@]}" --data-binary @"$T/p1"
expect_code 201 "POST with a body (creation-with-upload)"
[ "$(header Upload-Offset)" = 1000 ] || fail "creation-with-upload: Upload-Offset '$(header Upload-Offset)'"
ok "creation-defer-length and creation-with-upload"

# --- termination, expiration ----------------------------------------------------------
tus_create "$TOKEN" -H "Upload-Length: 10"
T1=$UPLOAD
http DELETE "$T1" "${TUS[@]}" "${AUTH[@]}"
expect_code 204 "DELETE"
http HEAD "$T1" "${TUS[@]}" "${AUTH[@]}"
[ "$CODE" = 410 ] || fail "HEAD after DELETE: $CODE, expected 410"
http PATCH "$T1" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 0" --data-binary x
expect_code 410 "PATCH after DELETE"
# --- metrics -------------------------------------------------------------------------------
http GET /metrics
expect_code 200 "GET /metrics"
for m in capscreen_uploads_active capscreen_bytes_received_total capscreen_frames_analysed_total \
         'capscreen_errors_total{kind="checksum"} [1-9]' 'capscreen_errors_total{kind="conflict"} [1-9]'; do
    grep -q "^$m" "$T/body" || fail "/metrics lacks '$m'"
done
http GET /healthz
expect_code 200 "/healthz still answers"
ok "/metrics counts uploads, bytes, frames and errors by kind; server still up"
# Expiry: the same data on a server whose uploads expire after 1 s idle.
stop_server TERM
start_server "$T/data" --max-upload-size 100000 --upload-expiry 1
tus_create "$TOKEN" -H "Upload-Length: 10" "${OCTET[@]}" --data-binary 12345
expect_code 201 "create with 5 bytes"
E1=$UPLOAD
for i in $(seq 1 100); do   # --upload-expiry 1: poll until it expires (bounded)
    http HEAD "$E1" "${TUS[@]}" "${AUTH[@]}"
    [ "$CODE" = 410 ] && break
    sleep 0.1
done
[ "$CODE" = 410 ] || fail "an idle upload did not expire: HEAD $CODE"
http PATCH "$E1" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 5" --data-binary 67890
expect_code 410 "PATCH after expiry"
[ "$(head -c 5 "$T/data/uploads/${E1##*/}.bin")" = 12345 ] || fail "expiry lost the received bytes"
ok "termination 204 then 410; expiry 410; received bytes kept"

cs_finish
