#!/usr/bin/env bash
# server_latency_metrics.sh - /metrics measures the server's own request
# durations by route class (Prometheus histogram
# capscreen_request_duration_seconds): each request lands in its class, the
# buckets are cumulative, +Inf equals the count, and the sum is the time
# the requests took (a request held open for a known time shows it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl

start_server "$T/data" --max-upload-size 100000
new_device
AUTH=(-H "Authorization: Bearer $TOKEN")

scrape() { http GET /metrics; expect_code 200 "GET /metrics"; cp "$T/body" "$T/$1"; }
# hist FILE CLASS -> "count sum" after checking the histogram's shape
hist() {
    python3 - "$T/$1" "$2" <<'PY'
import re, sys
path, cls = sys.argv[1], sys.argv[2]
buckets, count, total = [], None, None
for line in open(path):
    m = re.match(r'capscreen_request_duration_seconds_(bucket|sum|count)\{class="([a-z_]+)"(?:,le="([^"]+)")?\} (\S+)$', line)
    if not m or m.group(2) != cls:
        continue
    kind, le, v = m.group(1), m.group(3), float(m.group(4))
    if kind == 'bucket':
        buckets.append((float('inf') if le == '+Inf' else float(le), v))
    elif kind == 'sum':
        total = v
    else:
        count = v
assert buckets and count is not None and total is not None, f"class {cls} missing from /metrics"
bounds = [b for b, _ in buckets]
assert bounds == sorted(bounds) and bounds[-1] == float('inf'), f"{cls}: bounds out of order {bounds}"
vals = [v for _, v in buckets]
assert all(a <= b for a, b in zip(vals, vals[1:])), f"{cls}: buckets not cumulative {vals}"
assert vals[-1] == count, f"{cls}: +Inf bucket {vals[-1]} != count {count}"
print(int(count), total)
PY
}

scrape m0
for cls in tus_patch tus_other frames events api other; do hist m0 $cls >/dev/null; done
read -r p0 _ < <(hist m0 tus_patch)
read -r o0 _ < <(hist m0 tus_other)
read -r a0 _ < <(hist m0 api)

# 5 PATCHes and 7 HEADs on one upload; 3 API calls.
tus_create "$TOKEN" -H "Upload-Length: 50"
U=$UPLOAD
for i in 0 1 2 3 4; do
    http PATCH "$U" "${TUS[@]}" "${AUTH[@]}" "${OCTET[@]}" -H "Upload-Offset: $((i * 10))" \
        --data-binary 0123456789
    expect_code 204 "PATCH $i"
done
for i in 1 2 3 4 5 6 7; do http HEAD "$U" "${TUS[@]}" "${AUTH[@]}"; expect_code 200 "HEAD $i"; done
for i in 1 2 3; do http GET "/api/v1/studies/$STUDY" -H "Authorization: Bearer $ADMIN_TOKEN"; expect_code 200 "GET study"; done

scrape m1
read -r p1 _ < <(hist m1 tus_patch)
read -r o1 _ < <(hist m1 tus_other)
read -r a1 _ < <(hist m1 api)
[ $((p1 - p0)) -eq 5 ] || fail "tus_patch count moved by $((p1 - p0)), expected 5"
# tus_other: 7 HEADs + the creating POST
[ $((o1 - o0)) -eq 8 ] || fail "tus_other count moved by $((o1 - o0)), expected 8"
[ $((a1 - a0)) -ge 3 ] || fail "api count moved by $((a1 - a0)), expected >= 3"
ok "each request counted once in its class (5 PATCH, 8 other tus, 3+ API); buckets cumulative, +Inf = count"

# A PATCH whose body takes ~1.5 s to arrive: the tus_patch sum grows by
# about that much and the request lands above the 1 s bucket.
read -r _ s1 < <(hist m1 tus_patch)
tus_create "$TOKEN" -H "Upload-Length: 4"
SLOW=$UPLOAD
python3 - "${SRV_URL##*:}" "$SLOW" "$TOKEN" <<'PY'
import socket, sys, time
port, path, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
path = path[path.index('/uploads/'):] if '/uploads/' in path else path
s = socket.create_connection(('127.0.0.1', port))
s.sendall((f"PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
           f"Authorization: Bearer {token}\r\nContent-Type: application/offset+octet-stream\r\n"
           f"Upload-Offset: 0\r\nContent-Length: 4\r\n\r\n").encode())
for b in b"abcd":
    time.sleep(0.5)
    s.sendall(bytes([b]))
s.settimeout(10)
reply = s.recv(4096).decode(errors='replace')
assert reply.startswith('HTTP/1.1 204'), reply
PY
scrape m2
read -r p2 s2 < <(hist m2 tus_patch)
[ $((p2 - p1)) -eq 1 ] || fail "the slow PATCH was counted $((p2 - p1)) times"
python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); sys.exit(0 if 1.3 <= d <= 5 else 1)" "$s1" "$s2" ||
    fail "the slow PATCH added $s1 -> $s2 s to the sum, expected about 1.5-2 s"
grep -q '^capscreen_request_duration_seconds_bucket{class="tus_patch",le="1"} '"$p1"'$' "$T/m2" ||
    fail "the slow PATCH fell into the <= 1 s bucket: $(grep 'tus_patch",le="1"' "$T/m2")"
ok "a PATCH whose body takes 1.5 s adds ~1.5 s to the sum and lands above the 1 s bucket"

cs_finish
