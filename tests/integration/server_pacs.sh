#!/usr/bin/env bash
# server_pacs.sh - key frames reach a real PACS (docs/pacs.md): a real
# Orthanc (Debian's orthanc) on free ports, the real server configured to
# send to it. Signing a report with key frames queues the export; the
# study's `pacs.state` becomes `sent`; Orthanc holds one VL Endoscopic
# Image instance per key frame with the study's UIDs (computed here
# independently from the rule in docs/clinical-record.md), accession,
# patient (NHS number, Family^Given, birth date, sex) and referrer; its
# pixels decode (Orthanc's preview PNG, and dcmj2pnm); dciodvfy finds no
# error. With the PACS down the export stays queued,
# attempts rise and the reason shows; once it is back the export is sent.
# The route: consultants and admins, 409 for an unsigned report or no
# PACS configured, audited. A report signed while no PACS was configured
# (or whose queueing was lost) is sent when the export starts. A server
# stopped during a slow send (dcmtk's storescp sleeping in each store)
# stops after the message in flight, and the whole study goes at its next
# start.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl
ORTHANC=$(command -v Orthanc || echo /usr/sbin/Orthanc)
[ -x "$ORTHANC" ] || skip "Orthanc not installed (Debian package orthanc)"
command -v dciodvfy >/dev/null || skip "dciodvfy not installed (Debian package dicom3tools)"
command -v dcmj2pnm >/dev/null || skip "dcmj2pnm not installed (Debian package dcmtk)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DICOM_PORT=$(free_port)
HTTP_PORT=$(free_port)
ORTHANC_URL=http://127.0.0.1:$HTTP_PORT
mkdir -p "$T/orthanc/db"
cat >"$T/orthanc/config.json" <<EOF
{
  "Name": "capscreen-test",
  "StorageDirectory": "$T/orthanc/db",
  "IndexDirectory": "$T/orthanc/db",
  "DicomAet": "ORTHANC",
  "DicomPort": $DICOM_PORT,
  "HttpPort": $HTTP_PORT,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "DicomCheckCalledAet": true,
  "StorageCompression": false,
  "Plugins": []
}
EOF
ORTHANC_PID=
orthanc_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$ORTHANC_URL/system")" = 200 ]; }
start_orthanc() {
    "$ORTHANC" "$T/orthanc/config.json" >>"$T/orthanc.log" 2>&1 &
    ORTHANC_PID=$!
    wait_until 60 "Orthanc to answer /system" orthanc_up
}
stop_orthanc() {
    [ -n "$ORTHANC_PID" ] || return 0
    kill "$ORTHANC_PID" 2>/dev/null || true
    wait "$ORTHANC_PID" 2>/dev/null || true
    ORTHANC_PID=
}
SLOW_PID=
stop_slow() {
    [ -n "$SLOW_PID" ] || return 0
    kill "$SLOW_PID" 2>/dev/null || true
    wait "$SLOW_PID" 2>/dev/null || true
    SLOW_PID=
}
cleanup_all() { stop_orthanc; stop_slow; cs_server_cleanup; }
trap cleanup_all EXIT
start_orthanc

for u in cons:consultant reader:reader; do
    echo "pw-${u%%:*}-0123456789" | "$CAPSCREEN" user add --data "$T/data" --name "${u%%:*}" \
        --role "${u##*:}" >/dev/null 2>"$T/e" || die "user add ${u%%:*}: $(cat "$T/e")"
done
start_server "$T/data" --pacs "127.0.0.1:$DICOM_PORT" --pacs-aet ORTHANC --pacs-calling-aet CSTEST
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
login reader
is_complete() { http GET "/api/v1/studies/$1" "${ADM[@]}"; [ "$(json_get "$T/body" 'd["state"]')" = complete ]; }
pacs_field() { http GET "/api/v1/studies/$1" "${ADM[@]}"; json_get "$T/body" "d['pacs']['$2']"; }
pacs_state_is() { [ "$(pacs_field "$1" state)" = "$2" ]; }
pack_frames 8 "$T/frames.csfs"
SIZE=$(stat -c %s "$T/frames.csfs")

# A complete study of patient PATIENT (JSON) with a report naming key
# frames KF ("1, 4"), ready to sign: sets STUDY, V.
study_with_report() {
    local kf=$1 patient=$2
    new_device
    http PUT "/api/v1/studies/$STUDY/patient" "${ADM[@]}" -d "{\"patient\": $patient,
        \"episode\": {\"pathway\": \"screening\", \"indication\": \"fit_positive\",
        \"referrer\": \"Dr J Khan, Riverside Surgery\"}}"
    [ "$CODE" = 200 ] || die "patient: $CODE $(cat "$T/body")"
    tus_create "$TOKEN" -H "Upload-Length: $SIZE"
    http PATCH "$UPLOAD" "${TUS[@]}" -H "Authorization: Bearer $TOKEN" "${OCTET[@]}" \
        -H "Upload-Offset: 0" --data-binary @"$T/frames.csfs"
    [ "$CODE" = 204 ] || die "upload: $CODE $(cat "$T/body")"
    wait_until 60 "study $STUDY to be complete" is_complete "$STUDY"
    as cons PUT "/api/v1/studies/$STUDY/report" -d "{\"content\": {\"findings_text\": \"x\",
        \"recommendation\": \"no_further_test\", \"key_frames\": [$kf],
        \"recommendation_reason\": \"test\", \"prep_checklist\": \"Taken.\",
        \"cc_clear\": {\"right_colon\": 3, \"transverse_colon\": 3, \"left_colon\": 3},
        \"extracolonic\": \"None seen.\", \"follow_up_months\": 24,
        \"upper_gi_disclaimer_ack\": true}, \"state\": \"read\"}"
    [ "$CODE" = 200 ] || die "report: $CODE $(cat "$T/body")"
    V=$(json_get "$T/body" 'd["version"]')
}

# The study's UIDs by docs/clinical-record.md's rule, computed here.
uid() {
    python3 - "$1" "$2" <<'PY'
import hashlib, sys
d = bytearray(hashlib.sha256(("capscreen/%s/%s" % (sys.argv[1], sys.argv[2])).encode()).digest()[:16])
d[6] = (d[6] & 0x0F) | 0x80
d[8] = (d[8] & 0x3F) | 0x80
print("2.25.%d" % int.from_bytes(d, "big"))
PY
}

# --- signing sends the key frames --------------------------------------------
study_with_report "1, 4" '{"nhs_number": "943 476 5919", "family": "Smith", "given": "Anna",
    "birth_date": "1962-03-14", "sex": "female"}'
S1=$STUDY
[ "$(pacs_field "$S1" state)" = None ] || fail "an export before any request: $(cat "$T/body")"
[ "$(pacs_field "$S1" configured)" = True ] || fail "pacs.configured is not true"
as cons POST "/api/v1/studies/$S1/pacs"
expect_code 409 "an on-demand export of an unsigned report"
[ "$(json_get "$T/body" 'd["error"]')" = report_not_signed ] || fail "unsigned: $(cat "$T/body")"
as reader POST "/api/v1/studies/$S1/pacs"
expect_code 403 "a reader asking for an export"
B=$(basis_now cons "/api/v1/studies/$S1")
as cons POST "/api/v1/studies/$S1/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 200 "signing"
wait_until 60 "the export of $S1 to be sent" pacs_state_is "$S1" sent
http GET "/api/v1/studies/$S1" "${ADM[@]}"
py_check "$T/body" <<'PY'
p = d["pacs"]
if p["instances_sent"] != 2: fail(f"instances_sent {p['instances_sent']}, want 2")
if p["attempts"] != 1: fail(f"attempts {p['attempts']}, want 1")
if p["last_error"] != "": fail(f"last_error {p['last_error']!r} after a success")
if not p["sent_at_ms"]: fail("no sent_at_ms")
if p["requested_by"] != "cons": fail(f"requested_by {p['requested_by']}")
PY
ok "signing queues the export; pacs.state becomes sent with 2 instances, 1 attempt"

STUDY_UID=$(uid study "$S1")
SERIES_UID=$(uid series "$S1/key-frames")
curl -sf "$ORTHANC_URL/instances" >"$T/instances.json" || fail "Orthanc /instances"
[ "$(json_get "$T/instances.json" 'len(d)')" = 2 ] || fail "Orthanc holds $(cat "$T/instances.json")"
for id in $(json_get "$T/instances.json" '" ".join(d)'); do
    curl -sf "$ORTHANC_URL/instances/$id/simplified-tags" >"$T/tags.json" || fail "tags of $id"
    py_check "$T/tags.json" "$STUDY_UID" "$SERIES_UID" "$S1" "$(uid instance "$S1/1")" \
        "$(uid instance "$S1/4")" <<'PY'
study_uid, series_uid, study, i1, i4 = sys.argv[2:7]
want = {"SOPClassUID": "1.2.840.10008.5.1.4.1.1.77.1.1", "StudyInstanceUID": study_uid,
        "SeriesInstanceUID": series_uid, "Modality": "ES", "AccessionNumber": study[:16],
        "Rows": "640", "Columns": "640", "PhotometricInterpretation": "YBR_FULL_422",
        "PatientID": "9434765919", "IssuerOfPatientID": "NHS", "PatientName": "Smith^Anna",
        "PatientBirthDate": "19620314", "PatientSex": "F",
        "ReferringPhysicianName": "Dr J Khan, Riverside Surgery"}
for k, v in want.items():
    if d.get(k) != v: fail(f"{k} = {d.get(k)!r}, want {v!r}")
if d.get("SOPInstanceUID") not in (i1, i4): fail(f"SOPInstanceUID {d.get('SOPInstanceUID')}")
PY
    curl -sf "$ORTHANC_URL/instances/$id/preview" -o "$T/preview.png" || fail "preview of $id"
    python3 - "$T/preview.png" <<'PY' || fail "Orthanc's preview of $id is not a 640x640 PNG"
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", b[:8]
w, h = struct.unpack(">II", b[16:24])
assert (w, h) == (640, 640), (w, h)
PY
    curl -sf "$ORTHANC_URL/instances/$id/file" -o "$T/inst.dcm" || fail "file of $id"
    dcmj2pnm +on "$T/inst.dcm" "$T/inst.png" 2>"$T/dcmj2pnm.err" || fail "dcmj2pnm: $(cat "$T/dcmj2pnm.err")"
    [ -s "$T/inst.png" ] || fail "dcmj2pnm wrote nothing"
    dciodvfy "$T/inst.dcm" >"$T/dciodvfy.out" 2>&1 || true
    if grep -q '^Error' "$T/dciodvfy.out"; then
        fail "dciodvfy errors: $(grep '^Error' "$T/dciodvfy.out" | head -5)"
    fi
    grep '^Warning' "$T/dciodvfy.out" | sed 's/^/# dciodvfy: /' | sort -u || true
    grep -q 'VLEndoscopicImage' "$T/dciodvfy.out" || fail "dciodvfy did not see a VL Endoscopic Image: $(head -3 "$T/dciodvfy.out")"
done
curl -sf "$ORTHANC_URL/instances/$id/file" -o "$T/inst.dcm"
python3 - "$T/inst.dcm" <<'PY' || fail "the instance is not in JPEG Baseline"
import sys
b = open(sys.argv[1], "rb").read()
assert b[128:132] == b"DICM"
assert b"1.2.840.10008.1.2.4.50" in b[132:400]
PY
ok "Orthanc holds 2 VL Endoscopic Image instances: SOP class, study/series/instance UIDs, accession, the patient (NHS number, name, birth date, sex), referrer, JPEG Baseline; pixels decode; dciodvfy finds no error"

# On demand again: the same UIDs, so the PACS replaces rather than duplicates.
as cons POST "/api/v1/studies/$S1/pacs"
expect_code 202 "an on-demand export"
[ "$(json_get "$T/body" 'd["pacs"]["state"]')" != sent ] || fail "on demand: still sent $(cat "$T/body")"
wait_until 60 "the resend of $S1" pacs_state_is "$S1" sent
curl -sf "$ORTHANC_URL/instances" >"$T/instances.json"
[ "$(json_get "$T/instances.json" 'len(d)')" = 2 ] || fail "a resend duplicated: $(cat "$T/instances.json")"
http GET "/api/v1/audit?study=$S1&action=pacs.export" "${ADM[@]}"
[ "$(json_get "$T/body" 'len(d["entries"])')" = 2 ] || fail "pacs.export audit: $(cat "$T/body")"
ok "on demand: 202, sent again with the same UIDs (still 2 instances); audited as pacs.export twice"
# What left for the PACS, and where, is on the audit: each send.
http GET "/api/v1/audit?study=$S1&action=pacs.sent" "${ADM[@]}"
py_check "$T/body" "127.0.0.1:$DICOM_PORT" <<'PY'
want = "2 instance(s) to %s (ORTHANC): frames 1, 4 as patient 9434765919" % sys.argv[2]
got = [e["detail"] for e in d["entries"]]
if len(got) != 2 or not all(g.startswith(want + "; attempt ") for g in got):
    fail(f"pacs.sent audit {got}, want 2 entries starting {want!r}")
PY
ok "each send is audited as pacs.sent: how many instances, which PACS, which frames, the patient ID"

# --- what cannot be one image each, or cannot fit DICOM, is refused at input --
# A key frame listed twice would be two instances with one SOP Instance
# UID (and an image count the FHIR export disagrees with): 422, naming it.
study_with_report "2" '{"nhs_number": "943 476 5919", "family": "Smith", "given": "Anna",
    "birth_date": "1962-03-14", "sex": "female"}'
S3=$STUDY
as cons PUT "/api/v1/studies/$S3/report" -d "{\"version\": $V, \"content\": {\"findings_text\": \"x\",
    \"recommendation\": \"no_further_test\", \"key_frames\": [4, 1, 4]}, \"state\": \"read\"}"
expect_code 422 "a report naming key frame 4 twice"
py_check "$T/body" <<'PY'
if d.get("error") != "duplicate_key_frame": fail(f"error {d.get('error')!r}")
if "key_frames[2] is frame 4 again (key_frames[0])" not in d.get("reason", ""): fail(f"reason {d.get('reason')!r}")
PY
as cons GET "/api/v1/studies/$S3/report"
[ "$(json_get "$T/body" 'd["version"]')" = "$V" ] || fail "a refused save made a version: $(cat "$T/body")"
ok "a duplicate key frame: 422 duplicate_key_frame naming the frame; nothing saved"

# Names and episode text go into DICOM PN/LO: control characters and a
# "Family^Given" over PN's 64 bytes are refused on creation and on
# correction alike; nothing is stored.
pt() { printf '{"nhs_number": "9434765919", "family": "%s", "given": "%s", "birth_date": "1962-03-14", "sex": "female"}' "$1" "$2"; }
F40=$(printf 'F%.0s' $(seq 40)); G24=$(printf 'G%.0s' $(seq 24)); G23=${G24:1}
for bad in "$(pt 'Smi\nth' Anna)|patient.family|invalid_characters" \
           "$(pt Smith 'An\tna')|patient.given|invalid_characters" \
           "$(pt "$F40" "$G24")|patient.family and patient.given together are 64 bytes|name_too_long"; do
    IFS='|' read -r body field code <<<"$bad"
    http POST /api/v1/studies "${ADM[@]}" -d "{\"label\": \"bad\", \"patient\": $body}"
    expect_code 422 "creating a study with $field wrong ($code)"
    [ "$(json_get "$T/body" 'd["error"]')" = "$code" ] || fail "create: $(cat "$T/body")"
    grep -qF "$field" "$T/body" || fail "create: the reason does not name $field: $(cat "$T/body")"
    http PUT "/api/v1/studies/$S3/patient" "${ADM[@]}" -d "{\"patient\": $body}"
    expect_code 422 "correcting the patient with $field wrong ($code)"
    [ "$(json_get "$T/body" 'd["error"]')" = "$code" ] || fail "correct: $(cat "$T/body")"
done
http PUT "/api/v1/studies/$S3/patient" "${ADM[@]}" -d "{\"patient\": $(pt Smith Anna),
    \"episode\": {\"referrer\": \"Dr J Khan\\nRiverside Surgery\"}}"
expect_code 422 "a referrer with a newline"
grep -q 'episode.referrer' "$T/body" || fail "referrer: $(cat "$T/body")"
http GET "/api/v1/studies/$S3" "${ADM[@]}"
py_check "$T/body" <<'PY'
if d["patient"]["family"] != "Smith" or d["patient"]["given"] != "Anna": fail(f"patient changed: {d['patient']}")
if d["episode"]["referrer"] != "Dr J Khan, Riverside Surgery": fail(f"episode changed: {d['episode']}")
PY
# The longest name that fits is sent whole.
http PUT "/api/v1/studies/$S3/patient" "${ADM[@]}" -d "{\"patient\": $(pt "$F40" "$G23")}"
expect_code 200 "a 64-byte Family^Given"
B=$(basis_now cons "/api/v1/studies/$S3")
as cons POST "/api/v1/studies/$S3/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 200 "signing $S3"
wait_until 60 "the export of $S3 to be sent" pacs_state_is "$S3" sent
curl -sf "$ORTHANC_URL/tools/find" -d "{\"Level\": \"Instance\", \"Query\": {\"AccessionNumber\": \"${S3:0:16}\"}}" >"$T/found.json" || fail "Orthanc find"
[ "$(json_get "$T/found.json" 'len(d)')" = 1 ] || fail "Orthanc holds for $S3: $(cat "$T/found.json")"
curl -sf "$ORTHANC_URL/instances/$(json_get "$T/found.json" 'd[0]')/file" -o "$T/inst.dcm"
curl -sf "$ORTHANC_URL/instances/$(json_get "$T/found.json" 'd[0]')/simplified-tags" >"$T/tags.json"
[ "$(json_get "$T/tags.json" 'd["PatientName"]')" = "$F40^$G23" ] || fail "PatientName $(json_get "$T/tags.json" 'd["PatientName"]')"
dciodvfy "$T/inst.dcm" >"$T/dciodvfy.out" 2>&1 || true
if grep -q '^Error' "$T/dciodvfy.out"; then fail "dciodvfy: $(grep '^Error' "$T/dciodvfy.out" | head -3)"; fi
ok "control characters and a name over DICOM's 64 bytes: 422 on creation and correction, naming the field, nothing stored; a 64-byte name is sent whole and dciodvfy finds no error"

# --- the PACS down: queued, retried, never lost ------------------------------
stop_orthanc
study_with_report "2" '{"nhs_number": "4010232137", "family": "Jones", "given": "Bryn",
    "birth_date": "1958-11-02", "sex": "male"}'
S2=$STUDY
B=$(basis_now cons "/api/v1/studies/$S2")
as cons POST "/api/v1/studies/$S2/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 200 "signing with the PACS down"
attempts_at_least() { [ "$(pacs_field "$1" attempts)" -ge "$2" ]; }
wait_until 60 "two failed attempts for $S2" attempts_at_least "$S2" 2
http GET "/api/v1/studies/$S2" "${ADM[@]}"
py_check "$T/body" <<'PY'
p = d["pacs"]
if p["state"] not in ("failed", "queued", "sending"): fail(f"state {p['state']} with the PACS down")
if not p["last_error"]: fail("no last_error with the PACS down")
if p["sent_at_ms"] is not None: fail("sent_at_ms set though nothing was sent")
PY
ok "PACS down: the export stays, attempts rise ($(pacs_field "$S2" attempts)), last_error: $(pacs_field "$S2" last_error)"
http GET "/api/v1/audit?study=$S2&action=pacs.failed" "${ADM[@]}"
py_check "$T/body" "127.0.0.1:$DICOM_PORT" <<'PY'
got = [e["detail"] for e in d["entries"]]
if len(got) < 2 or not all(" to %s (ORTHANC): " % sys.argv[2] in g for g in got):
    fail(f"pacs.failed audit {got}")
PY
ok "each failed attempt is audited as pacs.failed with the PACS and the reason"
start_orthanc
wait_until 120 "the export of $S2 once the PACS is back" pacs_state_is "$S2" sent
[ "$(pacs_field "$S2" instances_sent)" = 1 ] || fail "instances_sent after recovery: $(cat "$T/body")"
[ "$(pacs_field "$S2" last_error)" = "" ] || fail "last_error kept after success"
curl -sf "$ORTHANC_URL/patients" >"$T/patients.json"
[ "$(json_get "$T/patients.json" 'len(d)')" = 2 ] || fail "Orthanc patients: $(cat "$T/patients.json")"
curl -sf "$ORTHANC_URL/studies" >"$T/studies.json"
[ "$(json_get "$T/studies.json" 'len(d)')" = 3 ] || fail "Orthanc studies: $(cat "$T/studies.json")"
ok "the PACS back: the queued export is sent"

# --- no PACS configured: no export, and the route says why --------------------
stop_server
start_server "$T/data"
login cons
as cons POST "/api/v1/studies/$S1/pacs"
expect_code 409 "an export with no PACS configured"
[ "$(json_get "$T/body" 'd["error"]')" = pacs_not_configured ] || fail "no PACS: $(cat "$T/body")"
[ "$(pacs_field "$S1" configured)" = False ] || fail "pacs.configured with no PACS: $(cat "$T/body")"
[ "$(pacs_field "$S1" state)" = sent ] || fail "the recorded export is gone: $(cat "$T/body")"
ok "no PACS configured: 409 pacs_not_configured; the study still shows its past export"

# --- signed while the export was off: sent when it starts --------------------
# (the same path as an export lost between signing and its queueing: the
# worker's start-up sweep queues every signed report never requested)
study_with_report "1" '{"nhs_number": "4857773457", "family": "Brown", "given": "Cara",
    "birth_date": "1970-05-20", "sex": "female"}'
S4=$STUDY
B=$(basis_now cons "/api/v1/studies/$S4")
as cons POST "/api/v1/studies/$S4/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 200 "signing with no PACS configured"
[ "$(pacs_field "$S4" state)" = None ] || fail "an export recorded with no PACS: $(cat "$T/body")"
stop_server
start_server "$T/data" --pacs "127.0.0.1:$DICOM_PORT" --pacs-aet ORTHANC --pacs-calling-aet CSTEST
wait_until 120 "the export of $S4, signed before the PACS was configured" pacs_state_is "$S4" sent
[ "$(pacs_field "$S4" instances_sent)" = 1 ] || fail "instances_sent: $(cat "$T/body")"
curl -sf "$ORTHANC_URL/studies" >"$T/studies.json"
[ "$(json_get "$T/studies.json" 'len(d)')" = 4 ] || fail "Orthanc studies: $(cat "$T/studies.json")"
grep -q "queued 1 signed report(s) whose export was never requested" "$T/srv.err" ||
    fail "the sweep is not logged: $(tail -5 "$T/srv.err")"
[ "$(pacs_field "$S1" state)" = sent ] || fail "a sent export changed by the sweep: $(cat "$T/body")"
ok "a report signed while no PACS was configured is sent when the export starts; sent ones are left alone"

# --- a stop during a slow send: one message, the rest at the next start -----
# storescp sleeps 3 s in each store: eight key frames would hold the stop
# for about 24 s. The server stops after the message in flight; the
# export, queued again and due at once, goes whole on the next start.
command -v storescp >/dev/null || die "storescp not installed (Debian package dcmtk)"
SLOW_PORT=$(free_port)
mkdir -p "$T/slow"
storescp +xa --aetitle SLOW --sleep-during 3 --output-directory "$T/slow" "$SLOW_PORT" \
    >"$T/storescp.log" 2>&1 &
SLOW_PID=$!
slow_up() { python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$SLOW_PORT" 2>/dev/null; }
wait_until 30 "storescp to listen" slow_up
stop_server
start_server "$T/data" --pacs "127.0.0.1:$SLOW_PORT" --pacs-aet SLOW --pacs-calling-aet CSTEST
login cons
study_with_report "0, 1, 2, 3, 4, 5, 6, 7" '{"nhs_number": "4010232137", "family": "Jones",
    "given": "Bryn", "birth_date": "1958-11-02", "sex": "male"}'
S5=$STUDY
B=$(basis_now cons "/api/v1/studies/$S5")
as cons POST "/api/v1/studies/$S5/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 200 "signing $S5, eight key frames, the PACS slow"
slow_has_one() { [ -n "$(ls -A "$T/slow")" ]; }
wait_until 60 "the first key frame of $S5 at storescp" slow_has_one
stop_server
GOT=$(find "$T/slow" -type f | wc -l)
[ "$GOT" -lt 8 ] || fail "the stop waited for the whole study: storescp holds $GOT of 8 instances"
grep -q "export of $S5: stopped after [0-9] of 8 instance(s): the server is shutting down; queued again" \
    "$T/srv.err" || fail "the stopped send is not logged: $(grep pacs "$T/srv.err" | tail -3)"
stop_slow
start_server "$T/data" --pacs "127.0.0.1:$DICOM_PORT" --pacs-aet ORTHANC --pacs-calling-aet CSTEST
wait_until 120 "the export of $S5 after the restart" pacs_state_is "$S5" sent
http GET "/api/v1/studies/$S5" "${ADM[@]}"
py_check "$T/body" <<'PY'
p = d["pacs"]
if p["instances_sent"] != 8 or p["attempts"] != 1 or p["last_error"]:
    fail(f"after the restart: {p}")
PY
http GET "/api/v1/audit?study=$S5&action=pacs.stopped" "${ADM[@]}"
py_check "$T/body" <<'PY'
got = [e["detail"] for e in d["entries"]]
if len(got) != 1 or "the server is shutting down" not in got[0]: fail(f"pacs.stopped audit {got}")
PY
http GET "/api/v1/audit?study=$S5&action=pacs.failed" "${ADM[@]}"
[ "$(json_get "$T/body" 'len(d["entries"])')" = 0 ] || fail "a planned stop audited as a failure: $(cat "$T/body")"
curl -sf "$ORTHANC_URL/tools/find" -d "{\"Level\": \"Instance\", \"Query\": {\"AccessionNumber\": \"${S5:0:16}\"}}" >"$T/found.json" || fail "Orthanc find"
[ "$(json_get "$T/found.json" 'len(d)')" = 8 ] || fail "Orthanc holds for $S5: $(cat "$T/found.json")"
ok "a stop during a slow send ends after $GOT of 8 instances (not the whole study); queued again, audited pacs.stopped, not counted as an attempt: all 8 sent on the next start"

cs_finish
