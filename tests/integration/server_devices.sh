#!/usr/bin/env bash
# server_devices.sh - studies and devices: `capscreen study create` prints
# its JSON last; a code is exchanged once for a token (unknown 404, reused
# 409, expired 410); a device token uploads to its own study only: it cannot
# read any study (403) nor touch another study's upload (403); revoked
# tokens are refused (401).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl

run_cs "$T/o" "$T/e" study create --data "$T/data" --label "cli study"
[ "$RC" -eq 0 ] || die "study create exited $RC: $(cat "$T/e")"
tail -n 1 "$T/o" >"$T/last.json"
CLI_STUDY=$(json_get "$T/last.json" 'd["study"]') || fail "last line is not the study JSON: $(cat "$T/o")"
CLI_CODE=$(json_get "$T/last.json" 'd["enrolment_code"]')
CLI_PATIENT=$(json_get "$T/last.json" 'd["patient_code"]') || fail "no patient_code in: $(cat "$T/last.json")"
[[ "$CLI_PATIENT" =~ ^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$ ]] || fail "patient code '$CLI_PATIENT' is not XXXX-XXXX-XXXX"
[ "$CLI_PATIENT" != "$CLI_CODE" ] || fail "the patient code is the enrolment code"
run_cs "$T/o2" "$T/e2" study create --data "$T/data" --code-ttl 1
EXPIRED_CODE=$(tail -n 1 "$T/o2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enrolment_code"])')
ok "study create prints {study, enrolment_code, patient_code} last"

start_server "$T/data"
http POST /api/v1/devices/enrol -d "{\"code\": \"$CLI_CODE\"}"
expect_code 200 "enrol with the CLI's code"
A_TOKEN=$(json_get "$T/body" 'd["token"]')
[ "$(json_get "$T/body" 'd["study"]')" = "$CLI_STUDY" ] || fail "enrol returned another study"
http POST /api/v1/devices/enrol -d "{\"code\": \"$CLI_CODE\"}"
expect_code 409 "the same code again"
http POST /api/v1/devices/enrol -d '{"code": "AAAA-BBBB-CCCC"}'
expect_code 404 "an unknown code"
http POST /api/v1/devices/enrol -d '{"code": 12}'
expect_code 400 "a code that is not a string"
http POST /api/v1/devices/enrol -d 'not json'
expect_code 400 "a body that is not JSON"
for i in $(seq 1 60); do   # code_ttl 1 s: poll until it is past (bounded)
    http POST /api/v1/devices/enrol -d "{\"code\": \"$EXPIRED_CODE\"}"
    [ "$CODE" = 410 ] && break
    [ "$CODE" = 200 ] && break
    sleep 0.1
done
[ "$CODE" = 410 ] || [ "$CODE" = 200 ] || fail "expired code: $CODE"
ok "enrolment: once, unknown 404, reused 409, malformed 400, expired 410"

new_device   # study B via the admin API
B_STUDY=$STUDY
B_TOKEN=$TOKEN
http POST /api/v1/studies -H "Authorization: Bearer $A_TOKEN" -d '{}'
expect_code 403 "a device creating a study"
http POST /api/v1/studies -d '{}'
expect_code 401 "creating a study without a token"
http GET "/api/v1/studies/$CLI_STUDY" -H "Authorization: Bearer $A_TOKEN"
expect_code 403 "a device reading its own study"
http GET "/api/v1/studies/$B_STUDY" -H "Authorization: Bearer $A_TOKEN"
expect_code 403 "a device reading another study"
http GET "/api/v1/studies/$B_STUDY/events" -H "Authorization: Bearer $A_TOKEN"
expect_code 403 "a device reading another study's events"
http GET "/api/v1/studies/$B_STUDY" -H "Authorization: Bearer $ADMIN_TOKEN"
expect_code 200 "the admin reading a study"
ok "a device token cannot read any study (403)"

tus_create "$B_TOKEN" -H "Upload-Length: 10"
expect_code 201 "device B creates an upload"
BU=$UPLOAD
http PATCH "$BU" "${TUS[@]}" -H "Authorization: Bearer $B_TOKEN" "${OCTET[@]}" -H "Upload-Offset: 0" --data-binary 12345
expect_code 204 "device B appends to its upload"
http HEAD "$BU" "${TUS[@]}" -H "Authorization: Bearer $A_TOKEN"
expect_code 403 "device A HEADs B's upload"
http PATCH "$BU" "${TUS[@]}" -H "Authorization: Bearer $A_TOKEN" "${OCTET[@]}" -H "Upload-Offset: 5" --data-binary 67890
expect_code 403 "device A PATCHes B's upload"
http DELETE "$BU" "${TUS[@]}" -H "Authorization: Bearer $A_TOKEN"
expect_code 403 "device A DELETEs B's upload"
tus_create "$A_TOKEN" -H "Upload-Length: 10" -H "Upload-Metadata: study $(printf %s "$B_STUDY" | base64)"
expect_code 403 "device A creates an upload for study B"
http HEAD "$BU" "${TUS[@]}" -H "Authorization: Bearer $B_TOKEN"
[ "$(header Upload-Offset)" = 5 ] || fail "B's upload changed: offset '$(header Upload-Offset)'"
ok "a device token cannot touch another study's upload (403); B's bytes intact"

run_cs "$T/o3" "$T/e3" study revoke-device --data "$T/data" --study "$CLI_STUDY"
[ "$RC" -eq 0 ] || fail "revoke-device exited $RC: $(cat "$T/e3")"
tus_create "$A_TOKEN" -H "Upload-Length: 10"
expect_code 401 "a revoked token"
http POST "/api/v1/studies/$B_STUDY/revoke-devices" -H "Authorization: Bearer $ADMIN_TOKEN"
expect_code 200 "admin revokes B's devices"
[ "$(json_get "$T/body" 'd["revoked"]')" = 1 ] || fail "revoke-devices: $(cat "$T/body")"
http HEAD "$BU" "${TUS[@]}" -H "Authorization: Bearer $B_TOKEN"
expect_code 401 "B's revoked token"
ok "revocation by CLI and admin API"
cs_finish
