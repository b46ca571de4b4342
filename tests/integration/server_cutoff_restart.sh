#!/usr/bin/env bash
# server_cutoff_restart.sh - a PATCH cut off mid-body keeps what was
# written (HEAD reports it) and its lock does not outlive the connection
# (a second PATCH meanwhile gets 423, one after the cut succeeds); a
# server killed with SIGKILL mid-upload restarts, reports the bytes it
# kept, takes the rest, and its analysis resumes to all 60 frames with a
# study file identical to the source.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_python
need_curl

pack_frames 60 "$T/s.csfs"
SIZE=$(stat -c %s "$T/s.csfs")
HALF=$((SIZE / 2))
start_server "$T/data"
new_device
AUTH=(-H "Authorization: Bearer $TOKEN")

# partial_patch PATH OFFSET SENDBYTES: PATCH announcing the whole rest of the
# file but sending only SENDBYTES, then hold the connection until the file
# $T/release appears (bounded), then drop it without finishing.
partial_patch() {
    python3 - "$SRV_URL" "$1" "$2" "$3" "$T/s.csfs" "$T/release" "$TOKEN" "$SIZE" <<'EOF2' &
import os, socket, sys, time
url, path, off, send, src, release, token, size = sys.argv[1:9]
off, send, size = int(off), int(send), int(size)
host, port = url[len("http://"):].split(":")
data = open(src, "rb").read()
s = socket.create_connection((host, int(port)))
s.sendall(("PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\n"
           "Authorization: Bearer %s\r\nContent-Type: application/offset+octet-stream\r\n"
           "Upload-Offset: %d\r\nContent-Length: %d\r\n\r\n"
           % (path, host, token, off, size - off)).encode())
s.sendall(data[off:off + send])
for _ in range(600):
    if os.path.exists(release):
        break
    time.sleep(0.05)
s.close()
EOF2
    PP_PID=$!
}
# wait_metric_bytes N: until the server has written N bytes in all (bounded).
wait_metric_bytes() {
    local i v
    for i in $(seq 1 600); do
        v=$(curl -s "$SRV_URL/metrics" | awk '$1=="capscreen_bytes_received_total"{print $2}')
        [ "${v:-0}" -ge "$1" ] && return 0
        sleep 0.05
    done
    fail "the server never received $1 bytes (has ${v:-0})"
}

# --- cut off mid-body ----------------------------------------------------------
tus_create "$TOKEN" -H "Upload-Length: $SIZE"
expect_code 201 "create"
U=$UPLOAD
rm -f "$T/release"
partial_patch "$U" 0 "$HALF"
wait_metric_bytes "$HALF"
slice "$T/s.csfs" "$HALF" 100 "$T/p"
http PATCH "$U" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: 0" --data-binary @"$T/p"
expect_code 423 "a second PATCH while one is in flight"
touch "$T/release"
wait "$PP_PID" || true
for i in $(seq 1 200); do
    http HEAD "$U" "${TUS[@]}" "${AUTH[@]}"
    [ "$(header Upload-Offset)" = "$HALF" ] && break
    sleep 0.05
done
[ "$(header Upload-Offset)" = "$HALF" ] || fail "after the cut HEAD says $(header Upload-Offset), expected $HALF"
cmp -s -n "$HALF" "$T/s.csfs" "$T/data/uploads/${U##*/}.bin" || fail "the kept bytes differ from the source"
ok "a PATCH cut off mid-body keeps its $HALF bytes; a concurrent PATCH got 423"

# --- kill -9 mid-upload, restart, resume ------------------------------------------
SENT=$((HALF + SIZE / 4))
rm -f "$T/release"
partial_patch "$U" "$HALF" $((SENT - HALF))
wait_metric_bytes "$SENT"
stop_server KILL
touch "$T/release"
wait "$PP_PID" || true
# On SQLite the restart's reconcile records the bytes the killed request
# wrote past the stored offset; they were never fsynced, so it must fsync
# the file before it records them (a power cut after the HEAD below must
# not lose bytes the hub was told are stored). strace records the fsync
# (-D: the server keeps its pid, strace ends with it).
TRACE=
case "${CAPSCREEN_DB:-}" in
postgresql:* | postgres:*) ;; # shared store: no reconcile, the stored offset holds
*)
    if command -v strace >/dev/null 2>&1; then
        TRACE=$T/restart.trace
        printf '#!/bin/sh\nexec strace -D -f -qq -y -e trace=fsync,fdatasync -o "%s" "%s" "$@"\n' \
            "$TRACE" "$CAPSCREEN" >"$T/traced-capscreen"
        chmod +x "$T/traced-capscreen"
    fi
    ;;
esac
CS_REAL=$CAPSCREEN
[ -z "$TRACE" ] || CAPSCREEN=$T/traced-capscreen
start_server "$T/data"
CAPSCREEN=$CS_REAL
http HEAD "$U" "${TUS[@]}" "${AUTH[@]}"
expect_code 200 "HEAD after the restart"
KEPT=$(header Upload-Offset)
[ "$KEPT" -ge "$HALF" ] && [ "$KEPT" -le "$SENT" ] || fail "after kill -9 HEAD says $KEPT (sent $SENT)"
if [ -n "$TRACE" ] && [ "$KEPT" -gt "$HALF" ]; then
    FILE=$(realpath "$T/data/uploads/${U##*/}.bin")
    for i in $(seq 1 100); do # strace may write its lines a little later
        grep -qF "<$FILE>) = 0" "$TRACE" && break
        sleep 0.05
    done
    grep -qF "<$FILE>) = 0" "$TRACE" ||
        fail "the restart recorded $KEPT bytes (stored before: $HALF) without fsyncing $FILE"
fi
cmp -s -n "$KEPT" "$T/s.csfs" "$T/data/uploads/${U##*/}.bin" || fail "the bytes kept across kill -9 differ"
slice "$T/s.csfs" "$KEPT" $((SIZE - KEPT)) "$T/rest"
http PATCH "$U" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: $KEPT" --data-binary @"$T/rest"
expect_code 204 "PATCH the rest after the restart"
for i in $(seq 1 600); do
    http GET "/api/v1/studies/$STUDY" -H "Authorization: Bearer $ADMIN_TOKEN"
    [ "$(json_get "$T/body" 'd["progress"]["frames_analysed"]')" -ge 60 ] && break
    sleep 0.1
done
py_check "$T/body" <<'EOF2' || fail "analysis after the restart"
if d["counts"]["analysed"] != 60 or d["counts"]["failed"] != 0 or d["state"] != "complete":
    fail("counts %r state %r errors %r" % (d["counts"], d["state"], d["errors"][:3]))
EOF2
cmp "$T/s.csfs" "$T/data/uploads/${U##*/}.bin" || fail "the study file differs from the source"
ok "kill -9 mid-upload: restart reports $KEPT bytes kept, resumes, 60 frames analysed, file identical"

stop_server TERM
grep -q stopping "$T/srv.err" || fail "SIGTERM did not stop the server cleanly"
ok "SIGTERM stops the server"
cs_finish
