#!/usr/bin/env bash
# server_lock_takeover.sh - a PATCH stuck on a dead link (the client sent
# half its body, then went silent with the connection open) does not hold
# the upload's lock past lock_takeover seconds: meanwhile a second PATCH
# gets 423; after it HEAD reports the half body kept (fsynced, persisted),
# a PATCH from there succeeds and the file equals the source. The silent
# request, if it later sends the rest of its body, gets 409 "superseded"
# and writes nothing; closing it leaves the server healthy.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_python
need_curl

TAKEOVER=2
pack_frames 24 "$T/s.csfs"
SIZE=$(stat -c %s "$T/s.csfs")
HALF=$((SIZE / 2))
start_server "$T/data" --lock-takeover "$TAKEOVER"
new_device
AUTH=(-H "Authorization: Bearer $TOKEN")

# silent_patch PATH RELEASE MODE: PATCH at offset 0 announcing the whole
# file, send half of it, then stay silent with the socket open until the
# file RELEASE appears (bounded); MODE close: drop the connection then;
# MODE finish: send the rest of the body and write the status line of the
# answer and its body to $T/answer.
silent_patch() {
    python3 - "$SRV_URL" "$1" "$T/s.csfs" "$2" "$TOKEN" "$HALF" "$3" "$T/answer" <<'EOF2' &
import os, socket, sys, time
url, path, src, release, token, half, mode, answer = sys.argv[1:9]
half = int(half)
host, port = url[len("http://"):].split(":")
data = open(src, "rb").read()
s = socket.create_connection((host, int(port)))
s.sendall(("PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\n"
           "Authorization: Bearer %s\r\nContent-Type: application/offset+octet-stream\r\n"
           "Upload-Offset: 0\r\nContent-Length: %d\r\n\r\n"
           % (path, host, token, len(data))).encode())
s.sendall(data[:half])
for _ in range(1200):
    if os.path.exists(release):
        break
    time.sleep(0.05)
if mode == "finish":
    s.sendall(data[half:])
    s.settimeout(20)
    got = b""
    try:
        while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
            b = s.recv(65536)
            if not b:
                break
            got += b
    except socket.timeout:
        pass
    open(answer, "wb").write(got)
s.close()
EOF2
    SP_PID=$!
}
metric_bytes() {
    curl -s "$SRV_URL/metrics" | awk '$1=="capscreen_bytes_received_total"{print $2}'
}
# wait_metric_bytes N: until the server has written N bytes in all (bounded).
wait_metric_bytes() {
    local i v
    for i in $(seq 1 600); do
        v=$(metric_bytes)
        [ "${v:-0}" -ge "$1" ] && return 0
        sleep 0.05
    done
    die "the server never received $1 bytes (has ${v:-0})"
}
# wait_offset PATH WANT: poll HEAD (bounded, 15 s) until Upload-Offset is WANT.
wait_offset() {
    local i
    for i in $(seq 1 150); do
        http HEAD "$1" "${TUS[@]}" "${AUTH[@]}"
        [ "$(header Upload-Offset)" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
now_ms() { date +%s%3N; }

# --- a silent PATCH is taken over -------------------------------------------------
tus_create "$TOKEN" -H "Upload-Length: $SIZE"
expect_code 201 "create"
U=$UPLOAD
FILE="$T/data/uploads/${U##*/}.bin"
rm -f "$T/release"
BASE=$(metric_bytes)
silent_patch "$U" "$T/release" close
wait_metric_bytes $((BASE + HALF))
T0=$(now_ms)
http HEAD "$U" "${TUS[@]}" "${AUTH[@]}"
OFF=$(header Upload-Offset)
slice "$T/s.csfs" "$OFF" 100 "$T/p"
http PATCH "$U" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: $OFF" --data-binary @"$T/p"
ELAPSED=$(($(now_ms) - T0))
if [ "$ELAPSED" -lt $((TAKEOVER * 1000)) ]; then
    expect_code 423 "a PATCH within the takeover time"
else
    echo "note: the second PATCH came ${ELAPSED} ms after the silence began (machine busy); 423 not checked"
fi
wait_offset "$U" "$HALF" || fail "HEAD never reported the $HALF bytes of the silent PATCH (says $(header Upload-Offset))"
TOOK=$(($(now_ms) - T0))
echo "takeover seen after ${TOOK} ms (lock_takeover ${TAKEOVER} s)"
cmp -s -n "$HALF" "$T/s.csfs" "$FILE" || fail "the kept half differs from the source"
slice "$T/s.csfs" "$HALF" $((SIZE - HALF)) "$T/rest"
http PATCH "$U" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: $HALF" --data-binary @"$T/rest"
expect_code 204 "PATCH from the kept offset after the takeover"
[ "$(header Upload-Offset)" = "$SIZE" ] || fail "the PATCH ended at $(header Upload-Offset), expected $SIZE"
cmp "$T/s.csfs" "$FILE" || fail "the upload file differs from the source"
kill -0 "$SP_PID" 2>/dev/null || fail "the silent client had already gone (the test proves nothing)"
touch "$T/release"
wait "$SP_PID" || true
[ "$(curl -s -o /dev/null -w '%{http_code}' "$SRV_URL/healthz")" = 200 ] || fail "healthz after the silent client closed"
http HEAD "$U" "${TUS[@]}" "${AUTH[@]}"
[ "$(header Upload-Offset)" = "$SIZE" ] || fail "after the silent client closed HEAD says $(header Upload-Offset)"
cmp "$T/s.csfs" "$FILE" || fail "the upload file changed when the silent client closed"
ok "a silent PATCH holds the lock only for lock_takeover: 423 meanwhile, then its $HALF bytes are kept and the upload completes"

# --- the superseded request completes later: 409, nothing written --------------------
tus_create "$TOKEN" -H "Upload-Length: $SIZE"
expect_code 201 "create a second upload"
U2=$UPLOAD
FILE2="$T/data/uploads/${U2##*/}.bin"
rm -f "$T/release2" "$T/answer"
BASE=$(metric_bytes)
silent_patch "$U2" "$T/release2" finish
wait_metric_bytes $((BASE + HALF))
wait_offset "$U2" "$HALF" || fail "second upload: no takeover (HEAD says $(header Upload-Offset))"
http PATCH "$U2" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: $HALF" --data-binary @"$T/rest"
expect_code 204 "second upload: PATCH the rest after the takeover"
touch "$T/release2"
wait "$SP_PID" || true
head -1 "$T/answer" | grep -q '^HTTP/1.1 409' || fail "the superseded request got: $(head -c 300 "$T/answer")"
grep -q 'superseded' "$T/answer" || fail "the 409 does not say superseded: $(head -c 300 "$T/answer")"
cmp "$T/s.csfs" "$FILE2" || fail "the superseded request's late bytes changed the file"
http HEAD "$U2" "${TUS[@]}" "${AUTH[@]}"
[ "$(header Upload-Offset)" = "$SIZE" ] || fail "second upload: HEAD says $(header Upload-Offset) after the superseded request ended"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$SRV_URL/healthz")" = 200 ] || fail "healthz at the end"
ok "a superseded request that completes later gets 409 superseded and writes nothing"

stop_server TERM
cs_finish
