#!/usr/bin/env bash
# server_sign.sh - signing is exact (docs/workstation.md, "Signing"): a
# study can be signed only when complete (every upload finished and
# analysed, or closed by a coordinator: 409 ingest_incomplete before);
# POST .../close ends intake (409 study_closed twice; the devices and any
# upload to the study are refused after); 300 saves raced against signs
# never sign content the signer did not name; a version and basis stamp
# shown for one study never sign another; every refused tus request
# changes nothing, and a revoked device's body in flight is cut; frames
# analysed after a report was shown change its basis stamp.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl

for u in cons:consultant coord:coordinator reader:reader; do
    echo "pw-${u%%:*}-0123456789" | "$CAPSCREEN" user add --data "$T/data" --name "${u%%:*}" \
        --role "${u##*:}" >/dev/null 2>"$T/e" || die "user add ${u%%:*}: $(cat "$T/e")"
done
start_server "$T/data" --max-upload-size 100000000
ADM=(-H "Authorization: Bearer $ADMIN_TOKEN")
login() {
    http POST /api/v1/session -c "$T/$1.jar" -d "{\"user\": \"$1\", \"password\": \"pw-$1-0123456789\"}"
    [ "$CODE" = 200 ] || die "login $1: $CODE $(cat "$T/body")"
    printf -v "CSRF_$1" '%s' "$(json_get "$T/body" 'd["csrf_token"]')"
}
as() {
    local who=$1 method=$2 path=$3 tokvar="CSRF_$1"
    shift 3
    http "$method" "$path" -b "$T/$who.jar" -H "X-CSRF-Token: ${!tokvar}" "$@"
}
login cons
login coord
login reader
is_complete() { http GET "/api/v1/studies/$1" "${ADM[@]}"; [ "$(json_get "$T/body" 'd["state"]')" = complete ]; }
pack_frames 12 "$T/frames.csfs"
SIZE=$(stat -c %s "$T/frames.csfs")
# With every Nyborg 2025 field signing needs (docs/clinical-record.md).
REPORT='{"content": {"findings_text": "x", "recommendation": "no_further_test", "recommendation_reason": "test", "prep_checklist": "Taken.", "cc_clear": {"right_colon": 3, "transverse_colon": 3, "left_colon": 3}, "extracolonic": "None seen.", "follow_up_months": 24, "upper_gi_disclaimer_ack": true}, "state": "read"}'

# --- a study still receiving cannot be signed; closing it makes it complete ---
new_device "$STUDY_WITH_PATIENT"
S1=$STUDY T1=$TOKEN
tus_create "$T1" -H "Upload-Defer-Length: 1"
expect_code 201 "a deferred-length upload"
U1=$UPLOAD
http PATCH "$U1" "${TUS[@]}" -H "Authorization: Bearer $T1" "${OCTET[@]}" -H "Upload-Offset: 0" \
    --data-binary @"$T/frames.csfs"
expect_code 204 "the frames, length still deferred"
as cons PUT "/api/v1/studies/$S1/report" -d "$REPORT"
expect_code 200 "a report on a study still receiving"
V=$(json_get "$T/body" 'd["version"]')
B=$(basis_now cons "/api/v1/studies/$S1")
as cons POST "/api/v1/studies/$S1/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 409 "signing while an upload is open"
[ "$(json_get "$T/body" 'd["error"]')" = ingest_incomplete ] || fail "no ingest_incomplete: $(cat "$T/body")"
as cons GET "/api/v1/studies/$S1/report"
[ "$(json_get "$T/body" 'd["state"]')" = read ] || fail "a refused sign changed the report"
as cons POST "/api/v1/studies/$S1/close"
expect_code 403 "a consultant closing a study"
as reader POST "/api/v1/studies/$S1/close"
expect_code 403 "a reader closing a study"
as coord POST "/api/v1/studies/nosuchstudy/close"
expect_code 404 "closing an unknown study"
as coord POST "/api/v1/studies/$S1/close"
expect_code 200 "the coordinator closing the study"
[ "$(json_get "$T/body" 'd["closed_by"]')" = coord ] || fail "close: closed_by $(cat "$T/body")"
as coord POST "/api/v1/studies/$S1/close"
expect_code 409 "closing twice"
[ "$(json_get "$T/body" 'd["error"]')" = study_closed ] || fail "closing twice: $(cat "$T/body")"
json_get "$T/body" 'd["reason"]' | grep -q 'coord' || fail "closing twice: the reason does not say who closed it"
http POST "/api/v1/studies/$S1/close" "${ADM[@]}"
expect_code 409 "the admin token closing a closed study"
http GET "/api/v1/audit?study=$S1&action=study.close" "${ADM[@]}"
expect_code 200 "the audit log"
[ "$(json_get "$T/body" '[x["user"] for x in d["entries"]]')" = "['coord']" ] ||
    fail "study.close is not audited once, by coord: $(cat "$T/body")"
ok "close: coordinators and admins only, 404 unknown, 409 study_closed the second time; audited as study.close"

# After the close nothing more can be appended, by the device or the admin.
http PATCH "$U1" "${TUS[@]}" -H "Authorization: Bearer $T1" "${OCTET[@]}" -H "Upload-Offset: $SIZE" \
    --data-binary @"$T/frames.csfs"
[ "$CODE" = 401 ] || [ "$CODE" = 403 ] || fail "the device's PATCH after close: $CODE $(cat "$T/body")"
expect_code "$CODE" "the device's PATCH after close"
tus_create "$T1" -H "Upload-Length: 10"
[ "$CODE" = 401 ] || [ "$CODE" = 403 ] || fail "the device's POST after close: $CODE"
http PATCH "$U1" "${TUS[@]}" "${ADM[@]}" "${OCTET[@]}" -H "Upload-Offset: $SIZE" --data-binary @"$T/frames.csfs"
expect_code 409 "an admin PATCH after close"
[ "$(json_get "$T/body" 'd["error"]')" = study_closed ] || fail "admin PATCH after close: $(cat "$T/body")"
# A refusal on the headers reaches a client that writes its whole body
# before it reads (32 MB: more than every socket buffer on the way holds):
# the server drains what follows its answer instead of resetting the
# connection (docs/server.md, "Lingering close"). Once as the admin (409),
# once with a token that does not exist (401).
lingered() { curl -s "$SRV_URL/metrics" | awk '$1 == "capscreen_connections_lingered_total" {print $2}'; }
L0=$(lingered)
python3 - "$SRV_URL" "$U1" "$ADMIN_TOKEN" "$SIZE" <<'PY' || fail "an early refusal did not reach a client still writing its body"
import json, socket, sys, urllib.parse
url, up, admin, size = sys.argv[1:5]
host, port = urllib.parse.urlparse(url).netloc.rsplit(":", 1)
body = 32 << 20
for token, status, error in ((admin, 409, "study_closed"), ("nosuchtoken", 401, "unauthorised")):
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall((f"PATCH {up} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
               f"Authorization: Bearer {token}\r\nContent-Type: application/offset+octet-stream\r\n"
               f"Upload-Offset: {size}\r\nContent-Length: {body}\r\n\r\n").encode())
    chunk = b"z" * (1 << 20)
    for _ in range(body // len(chunk)):
        s.sendall(chunk)  # a reset here is the fault under test
    answer = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        answer += b
    head, _, rest = answer.partition(b"\r\n\r\n")
    got = int(head.split()[1])
    assert got == status, (token[:6], head)
    assert json.loads(rest)["error"] == error, rest
    s.close()
PY
[ "$(lingered)" -ge $((L0 + 2)) ] || fail "capscreen_connections_lingered_total did not count the two: $L0 -> $(lingered)"
http POST /uploads/ "${TUS[@]}" "${ADM[@]}" -H "Upload-Length: 10" \
    -H "Upload-Metadata: study $(printf %s "$S1" | base64 -w0)"
expect_code 409 "an admin upload to a closed study"
[ "$(json_get "$T/body" 'd["error"]')" = study_closed ] || fail "admin POST after close: $(cat "$T/body")"
http POST /api/v1/devices/enrol -d "{\"code\": \"$CODE_\"}"
[ "$CODE" != 200 ] || fail "a closed study's enrolment code still enrols a device"
http GET "/api/v1/studies/$S1" "${ADM[@]}"
[ "$(json_get "$T/body" 'd["progress"]["bytes_received"]')" = "$SIZE" ] ||
    fail "bytes after close: $(json_get "$T/body" 'd["progress"]')"
ok "after close: device PATCH/POST refused (401/403), admin PATCH/POST 409 study_closed (read by a client still writing 32 MB), the code is used"

# The close woke the analysis: the last bytes are analysed and the study is complete.
wait_until 60 "the closed study to be complete" is_complete "$S1"
B=$(basis_now cons "/api/v1/studies/$S1")
as cons POST "/api/v1/studies/$S1/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 200 "signing the closed, analysed study"
ok "a closed study is complete once analysed, and then signs"

# --- frames analysed after the report was shown change its stamp --------------
# The report is shown while the study is still arriving; the rest arrives
# and is analysed; a sign naming the stamp shown then is refused, since
# the frames (perhaps flagged) that came since were never on screen.
new_device "$STUDY_WITH_PATIENT"
S7=$STUDY
tus_create "$TOKEN" -H "Upload-Defer-Length: 1"
expect_code 201 "a deferred-length upload"
HALF=$((SIZE / 2))
slice "$T/frames.csfs" 0 "$HALF" "$T/half1"
slice "$T/frames.csfs" "$HALF" $((SIZE - HALF)) "$T/half2"
http PATCH "$UPLOAD" "${TUS[@]}" -H "Authorization: Bearer $TOKEN" "${OCTET[@]}" -H "Upload-Offset: 0" \
    --data-binary @"$T/half1"
expect_code 204 "the first half of the frames"
some_analysed() { http GET "/api/v1/studies/$1" "${ADM[@]}"; [ "$(json_get "$T/body" 'd["progress"]["frames_analysed"]')" -gt 0 ]; }
wait_until 60 "the first frames to be analysed" some_analysed "$S7"
as cons PUT "/api/v1/studies/$S7/report" -d "$REPORT"
expect_code 200 "the report, shown while frames are still arriving"
V7=$(json_get "$T/body" 'd["version"]')
B7=$(basis_now cons "/api/v1/studies/$S7")
http PATCH "$UPLOAD" "${TUS[@]}" -H "Authorization: Bearer $TOKEN" "${OCTET[@]}" -H "Upload-Offset: $HALF" \
    -H "Upload-Length: $SIZE" --data-binary @"$T/half2"
expect_code 204 "the rest of the frames"
wait_until 60 "the study to be complete" is_complete "$S7"
as cons POST "/api/v1/studies/$S7/report/sign" -d "{\"version\": $V7, \"basis\": \"$B7\"}"
expect_code 409 "signing with the stamp shown before the last frames were analysed"
[ "$(json_get "$T/body" 'd["error"]')" = basis_changed ] || fail "late frames: $(cat "$T/body")"
B7B=$(basis_now cons "/api/v1/studies/$S7")
as cons POST "/api/v1/studies/$S7/report/sign" -d "{\"version\": $V7, \"basis\": \"$B7B\"}"
expect_code 200 "signing with the stamp of the whole study"
http GET "/api/v1/audit?study=$S7&action=report.sign" "${ADM[@]}"
expect_code 200 "the audit log"
[ "$(json_get "$T/body" '[x["detail"] for x in d["entries"]]')" = "['version $V7; basis $B7B']" ] ||
    fail "report.sign is not audited once with the version and stamp signed: $(cat "$T/body")"
ok "frames analysed after the report was shown change its stamp (409 basis_changed), then it signs (audited with its stamp)"

# --- a study whose uploads all finished is complete without a close -----------
new_device "$STUDY_WITH_PATIENT"
S2=$STUDY
tus_create "$TOKEN" -H "Upload-Length: $SIZE"
http PATCH "$UPLOAD" "${TUS[@]}" -H "Authorization: Bearer $TOKEN" "${OCTET[@]}" -H "Upload-Offset: 0" \
    --data-binary @"$T/frames.csfs"
expect_code 204 "a whole upload"
wait_until 60 "the finished study to be complete" is_complete "$S2"
COOKIE=$(awk '$6 == "cs_session" {print $7}' "$T/cons.jar")
python3 "$(dirname "$0")/server_sign_race.py" "$SRV_URL" "$S2" "$COOKIE" "$CSRF_cons" ||
    fail "saves raced against signs"
ok "300 saves raced against signs: the signature is on exactly the version named"

# --- a stamp is bound to its study --------------------------------------------
# Two complete studies of the same patient (a repeat capsule), neither with
# findings or marks, both reports at version 1: the consultant is shown S5;
# a sign of S6 naming S5's version and stamp (a second tab, a replay) must
# not sign S6's content, which was never shown.
twin() {
    new_device "$STUDY_WITH_PATIENT"
    tus_create "$TOKEN" -H "Upload-Length: $SIZE"
    http PATCH "$UPLOAD" "${TUS[@]}" -H "Authorization: Bearer $TOKEN" "${OCTET[@]}" \
        -H "Upload-Offset: 0" --data-binary @"$T/frames.csfs"
    expect_code 204 "a whole upload"
}
twin
S5=$STUDY
twin
S6=$STUDY
wait_until 60 "the first twin to be complete" is_complete "$S5"
wait_until 60 "the second twin to be complete" is_complete "$S6"
as cons PUT "/api/v1/studies/$S5/report" -d "$REPORT"
expect_code 200 "the shown study's report"
V5=$(json_get "$T/body" 'd["version"]')
as cons PUT "/api/v1/studies/$S6/report" \
    -d "${REPORT/\"findings_text\": \"x\"/\"findings_text\": \"never shown\"}"
expect_code 200 "the other study's report"
V6=$(json_get "$T/body" 'd["version"]')
[ "$V5" = "$V6" ] || die "the twins' reports are at versions $V5 and $V6"
B5=$(basis_now cons "/api/v1/studies/$S5")
as cons POST "/api/v1/studies/$S6/report/sign" -d "{\"version\": $V5, \"basis\": \"$B5\"}"
expect_code 409 "signing a study with another study's version and stamp"
[ "$(json_get "$T/body" 'd["error"]')" = basis_changed ] || fail "cross-study sign: $(cat "$T/body")"
as cons GET "/api/v1/studies/$S6/report"
[ "$(json_get "$T/body" 'd["state"]')" = read ] || fail "a cross-study sign signed the report"
B6=$(json_get "$T/body" 'd["basis"]')
[ "$B6" != "$B5" ] || fail "two studies share a basis stamp: $B5"
as cons POST "/api/v1/studies/$S6/report/sign" -d "{\"version\": $V6, \"basis\": \"$B6\"}"
expect_code 200 "signing the study with its own stamp"
ok "a basis stamp names its study: another study's version and stamp sign nothing (409 basis_changed)"

# --- tus refusals change nothing; a revoked device's body is cut ---------------
new_device
python3 "$(dirname "$0")/server_tus_refusals.py" "$SRV_URL" "$ADMIN_TOKEN" "$TOKEN" "$STUDY" ||
    fail "tus refusals / revocation in flight"
ok "tus: refused requests change nothing; a revoked device's body is cut, its offset kept"

# --- close cuts a device's body in flight -------------------------------------
new_device
S4=$STUDY
tus_create "$TOKEN" -H "Upload-Defer-Length: 1"
U4=$UPLOAD
python3 - "$SRV_URL" "$U4" "$TOKEN" "$T/coord.jar" "$CSRF_coord" "$S4" <<'PY' || fail "close did not cut the body in flight"
import http.client, socket, sys, time, urllib.parse
url, up, tok, jar, csrf, study = sys.argv[1:7]
host, port = urllib.parse.urlparse(url).netloc.rsplit(":", 1)
cookie = [l.split("\t")[6].strip() for l in open(jar) if "\tcs_session\t" in l][0]
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall((f"PATCH {up} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer {tok}\r\n"
           "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
           "Content-Length: 4000000\r\n\r\n").encode() + b"z" * 8192)
c = http.client.HTTPConnection(host, int(port), timeout=30)
c.request("POST", f"/api/v1/studies/{study}/close",
          headers={"Cookie": "cs_session=" + cookie, "X-CSRF-Token": csrf})
r = c.getresponse(); r.read()
assert r.status == 200, r.status
t0 = time.monotonic()
while time.monotonic() - t0 < 5:
    try:
        s.sendall(b"z" * 4096)
    except OSError:
        break
    s.setblocking(False)
    try:
        s.recv(65536)
        break  # the server answered or closed the connection
    except BlockingIOError:
        pass
    except OSError:
        break
    finally:
        s.setblocking(True)
    time.sleep(0.02)  # a slow device
took = time.monotonic() - t0
print(f"# the body was cut {took:.2f} s after the close")
sys.exit(0 if took < 2.0 else 1)
PY
http GET "/api/v1/studies/$S4" "${ADM[@]}"
[ "$(json_get "$T/body" 'd["progress"]["uploads_open"]')" = 0 ] || fail "an upload is open after close"
ok "close cuts a device's body in flight"

cs_finish
