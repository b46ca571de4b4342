#!/usr/bin/env bash
# server_report.sh - the report to the Nyborg 2025 standard
# (docs/clinical-record.md, "The report", "Signing and addenda"): wrong
# types get 400 bad_json naming the field; GET report carries `derived`
# (CC-CLEAR total and adequacy, an old grade migrated, the engine's
# suggestion between the landmarks, completeness with its reasons, the
# suggested recommendation, mandatory_missing); signing answers 422
# mandatory_missing with the list, after the older refusals
# (no_recommendation); an override of the suggestion needs a reason (one
# of invisible characters is none, nor is such an extracolonic note or
# addendum); an addendum is refused (409) before signing, appended and
# audited after, shown in GET report and report.html, and the signed
# content stays as signed; a frame that failed analysis (no image) is no
# finding's first or last frame and no key frame (422 frame_failed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl

for u in cons:consultant reader:reader; do
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
login cons
login reader
is_complete() { http GET "/api/v1/studies/$1" "${ADM[@]}"; [ "$(json_get "$T/body" 'd["state"]')" = complete ]; }
pack_frames 12 "$T/frames.csfs"
SIZE=$(stat -c %s "$T/frames.csfs")
# upload_study BODY: a study created with BODY, its 12 frames uploaded
# and analysed; sets STUDY.
upload_study() {
    http POST /api/v1/studies "${ADM[@]}" -d "$1"
    [ "$CODE" = 201 ] || die "study create: $CODE $(cat "$T/body")"
    STUDY=$(json_get "$T/body" 'd["study"]')
    local code tok
    code=$(json_get "$T/body" 'd["enrolment_code"]')
    http POST /api/v1/devices/enrol -d "{\"code\": \"$code\"}"
    [ "$CODE" = 200 ] || die "enrol: $CODE $(cat "$T/body")"
    tok=$(json_get "$T/body" 'd["token"]')
    tus_create "$tok" -H "Upload-Length: $SIZE"
    http PATCH "$UPLOAD" "${TUS[@]}" -H "Authorization: Bearer $tok" "${OCTET[@]}" \
        -H "Upload-Offset: 0" --data-binary @"$T/frames.csfs"
    expect_code 204 "the study's frames"
    wait_until 60 "study $STUDY to be complete" is_complete "$STUDY"
}
# Everything the reader fills; the patient and indication come from the study.
FULL='"findings_text": "No polyps.", "prep_checklist": "Split-dose prep taken as instructed.",
 "cc_clear": {"right_colon": 3, "transverse_colon": 3, "left_colon": 2},
 "extracolonic": "None seen.", "follow_up_months": 24, "upper_gi_disclaimer_ack": true'

upload_study '{"label": "no patient"}'
S1=$STUDY

# --- wrong types: 400 bad_json naming the field ------------------------------
for bad in '"cc_clear": {"right_colon": "2"}|cc_clear.right_colon' \
    '"cc_clear": {"right_colon": 4}|cc_clear.right_colon' \
    '"cc_clear": {"caecum": 2}|caecum' \
    '"cc_clear": [3, 3, 3]|cc_clear' \
    '"follow_up_months": 121|follow_up_months' \
    '"follow_up_months": "24"|follow_up_months' \
    '"upper_gi_disclaimer_ack": "yes"|upper_gi_disclaimer_ack' \
    '"recommendation_reason": 5|recommendation_reason' \
    '"extracolonic": false|extracolonic'; do
    as reader PUT "/api/v1/studies/$S1/report" -d "{\"content\": {${bad%%|*}}}"
    expect_code 400 "content ${bad%%|*}"
    [ "$(json_get "$T/body" 'd["error"]')" = bad_json ] || fail "${bad%%|*}: $(cat "$T/body")"
    json_get "$T/body" 'd["reason"]' | grep -qF "${bad##*|}" ||
        fail "${bad%%|*}: the error does not name ${bad##*|}: $(cat "$T/body")"
done
as reader GET "/api/v1/studies/$S1/report"
expect_code 404 "no report was saved by the refused bodies"
ok "wrong types: 400 bad_json naming the field, nothing saved"

# --- derived: landmarks, an old grade migrated, the engine's suggestion ------
as reader PUT "/api/v1/studies/$S1/landmarks/first_caecal" -d '{"seq": 3}'
expect_code 200 "first_caecal"
as reader PUT "/api/v1/studies/$S1/cleansing/left_colon" -d '{"grade": "fair"}'
expect_code 200 "an old-style cleansing grade"
as reader PUT "/api/v1/studies/$S1/report" -d '{"content": {"recommendation": "no_further_test",
 "cc_clear": {"right_colon": 3, "transverse_colon": null}}}'
expect_code 200 "a first save"
D=$T/report1.json
cp "$T/body" "$D"
py_check "$D" <<'EOF' || fail "checks on $D failed (see above)"
dv = d["derived"]
assert d["content"]["cc_clear"] == {"right_colon": 3, "transverse_colon": None, "left_colon": None}, d["content"]
assert dv["cc_clear"] == {"right_colon": 3, "transverse_colon": None, "left_colon": 1}, dv["cc_clear"]
assert dv["cc_clear_source"]["left_colon"] == "migrated_grade", dv["cc_clear_source"]
assert dv["cc_clear_source"]["right_colon"] == "reader", dv["cc_clear_source"]
assert dv["cc_clear_total"] is None and dv["cleansing_adequacy"] is None, dv
b = dv["cc_clear_suggested_basis"]
# first_caecal at 3, not excreted: the colon is frames 3..11, 9 frames in thirds
assert [b[s]["from_seq"] for s in ("right_colon", "transverse_colon", "left_colon")] == [3, 6, 9], b
assert sum(b[s]["frames"] for s in b) == 9, b
for s in b:
    g = dv["cc_clear_suggested"][s]
    assert g is None or 0 <= g <= 3, dv["cc_clear_suggested"]
    assert b[s]["readable"] <= b[s]["frames"], b
assert dv["excreted"] is False
assert dv["completeness"] == "incomplete", dv
assert "not_excreted" in dv["completeness_reasons"], dv
# left colon at 1 (from "fair") is inadequate already: the table answers
assert "cleansing_inadequate" in dv["completeness_reasons"], dv
assert dv["recommendation_suggested"] == "repeat_capsule", dv
assert dv["recommendation_override"] is True
for f in ("patient", "indication", "recommendation_reason", "upper_gi_disclaimer_ack", "extracolonic"):
    assert f in dv["mandatory_missing"], (f, dv["mandatory_missing"])
assert dv["upper_gi_disclaimer"]
assert d["addenda"] == []
EOF
ok "derived: CC-CLEAR with a migrated old grade, the suggestion over thirds of the colon, completeness reasons, the suggested recommendation, mandatory_missing"

as reader PUT "/api/v1/studies/$S1/landmarks/excreted" -d '{"seq": 11}'
expect_code 200 "excreted"
as reader PUT "/api/v1/studies/$S1/report" -d "{\"content\": {$FULL}, \"state\": \"read\"}"
expect_code 200 "a full report without a recommendation"
py_check "$T/body" <<'EOF' || fail "checks on $T/body failed (see above)"
dv = d["derived"]
assert dv["cc_clear_total"] == 8 and dv["cleansing_adequacy"] == "excellent", dv
assert dv["completeness"] == "complete" and dv["completeness_reasons"] == [], dv
assert dv["excreted"] is True
assert dv["recommendation_suggested"] == "no_further_test", dv
assert dv["follow_up_months_suggested"] == 24, dv
EOF
V=$(json_get "$T/body" 'd["version"]')

# --- signing: the older refusal first, then 422 mandatory_missing -------------
B=$(basis_now reader "/api/v1/studies/$S1")
as reader POST "/api/v1/studies/$S1/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 403 "a reader signing"
B=$(basis_now cons "/api/v1/studies/$S1")
as cons POST "/api/v1/studies/$S1/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 422 "signing without a recommendation"
[ "$(json_get "$T/body" 'd["error"]')" = no_recommendation ] || fail "not no_recommendation first: $(cat "$T/body")"
as reader PUT "/api/v1/studies/$S1/report" -d "{\"content\": {$FULL, \"recommendation\": \"colonoscopy\"}, \"state\": \"read\"}"
expect_code 200 "an override without a reason"
V=$(json_get "$T/body" 'd["version"]')
B=$(basis_now cons "/api/v1/studies/$S1")
as cons POST "/api/v1/studies/$S1/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 422 "signing with patient, indication and the override's reason missing"
py_check "$T/body" <<'EOF' || fail "checks on $T/body failed (see above)"
assert d["error"] == "mandatory_missing", d
assert d["missing"] == ["patient", "indication", "recommendation_reason"], d["missing"]
assert "patient" in d["reason"], d
EOF
# A reason or extracolonic note of only invisible characters (no-break,
# ideographic and zero-width spaces, a byte-order mark, a soft hyphen, a
# variation selector, the Braille blank) is as blank as spaces: it prints
# as nothing, so it fills no mandatory field.
INVISIBLE='\u00a0\u200b\u3000\ufeff\u00ad\u2060\u180e\u202f\ufe0f\u2800\u180b'
as reader PUT "/api/v1/studies/$S1/report" -d "{\"content\": {${FULL/None seen./$INVISIBLE},
 \"recommendation\": \"colonoscopy\", \"recommendation_reason\": \"$INVISIBLE\"}, \"state\": \"read\"}"
expect_code 200 "an override whose reason is invisible characters"
[ "$(json_get "$T/body" 'd["content"]["recommendation_reason"]')" = "$(printf "$INVISIBLE")" ] ||
    fail "the invisible reason was not kept as saved: $(cat "$T/body")"
V=$(json_get "$T/body" 'd["version"]')
B=$(basis_now cons "/api/v1/studies/$S1")
as cons POST "/api/v1/studies/$S1/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 422 "signing with an invisible override reason and extracolonic note"
py_check "$T/body" <<'EOF2' || fail "checks on $T/body failed (see above)"
assert d["error"] == "mandatory_missing", d
assert d["missing"] == ["patient", "indication", "extracolonic", "recommendation_reason"], d["missing"]
EOF2
# Visible text outside ASCII still fills them.
as reader PUT "/api/v1/studies/$S1/report" -d "{\"content\": {${FULL/None seen./\u00c5\u00a0ok},
 \"recommendation\": \"colonoscopy\", \"recommendation_reason\": \"\u200b\u8840\"}, \"state\": \"read\"}"
expect_code 200 "an override whose reason is visible non-ASCII text"
[ "$(json_get "$T/body" 'd["derived"]["mandatory_missing"]')" = "['patient', 'indication']" ] ||
    fail "visible non-ASCII text left a field missing: $(json_get "$T/body" 'd["derived"]')"
as cons GET "/api/v1/studies/$S1/report"
[ "$(json_get "$T/body" 'd["state"]')" = read ] || fail "a refused sign changed the report"
as reader POST "/api/v1/studies/$S1/report/addenda" -d '{"reason": "typo", "text": "x"}'
expect_code 409 "an addendum to an unsigned report"
[ "$(json_get "$T/body" 'd["error"]')" = report_not_signed ] || fail "addendum before signing: $(cat "$T/body")"
ok "sign: 403 reader, 422 no_recommendation first, then 422 mandatory_missing with the list (override reason included); addendum 409 before signing"

# --- a study with its patient signs; addenda after ----------------------------
upload_study "$STUDY_WITH_PATIENT"
S2=$STUDY
as reader PUT "/api/v1/studies/$S2/landmarks/first_caecal" -d '{"seq": 2}'
as reader PUT "/api/v1/studies/$S2/landmarks/excreted" -d '{"seq": 11}'
as reader POST "/api/v1/studies/$S2/findings" \
    -d '{"seq_from": 6, "type": "polyp", "size_mm": 8, "segment": "left_colon", "morphology": "0-Is"}'
expect_code 201 "an 8 mm polyp"
as reader POST "/api/v1/studies/$S2/findings" \
    -d '{"seq_from": 8, "type": "polyp", "size_mm": 5.5, "segment": "transverse_colon", "morphology": "0-IIa"}'
expect_code 201 "a 5.5 mm polyp (printed as estimated: not rounded up to 6)"
as reader PUT "/api/v1/studies/$S2/report" -d "{\"content\": {$FULL, \"recommendation\": \"colonoscopy\",
 \"recommendation_reason\": \"Family history: the patient asked for colonoscopy.\", \"key_frames\": [4]}, \"state\": \"read\"}"
expect_code 200 "the full report with an override and its reason"
V=$(json_get "$T/body" 'd["version"]')
cp "$T/body" "$T/before-sign.json"
py_check "$T/body" <<'EOF' || fail "checks on $T/body failed (see above)"
dv = d["derived"]
assert dv["mandatory_missing"] == [], dv["mandatory_missing"]
assert dv["recommendation_suggested"] == "colonoscopy", dv
assert dv["recommendation_rule"] == "polyp_mm_at_least 6", dv
assert dv["recommendation_override"] is False, dv
# the answer lists the findings it was read with, and their basis stamp
assert sorted(f["size_mm"] for f in d["findings"]) == [5.5, 8], d["findings"]
assert len(d["basis"]) == 32 and all(c in "0123456789abcdef" for c in d["basis"]), d["basis"]
EOF
B=$(basis_now cons "/api/v1/studies/$S2")
as cons POST "/api/v1/studies/$S2/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 200 "signing the full report"
[ "$(json_get "$T/body" 'd["state"]')" = signed ] || fail "not signed: $(cat "$T/body")"
ok "a study with its patient and every mandatory field signs"

as reader POST "/api/v1/studies/$S2/report/addenda" -d '{"reason": "", "text": "x"}'
expect_code 400 "an addendum without a reason"
as reader POST "/api/v1/studies/$S2/report/addenda" -d '{"reason": "late histology", "text": 7}'
expect_code 400 "an addendum whose text is not text"
as reader POST "/api/v1/studies/$S2/report/addenda" -d "{\"reason\": \"r\", \"text\": \"$INVISIBLE\"}"
expect_code 400 "an addendum whose text is invisible characters"
as reader POST "/api/v1/studies/$S2/report/addenda" -d "{\"reason\": \"$INVISIBLE\", \"text\": \"t\"}"
expect_code 400 "an addendum whose reason is invisible characters"
as reader POST "/api/v1/studies/$S2/report/addenda" \
    -d '{"reason": "late histology", "text": "Histology: tubular adenoma <low grade>."}'
expect_code 201 "the first addendum"
py_check "$T/body" <<'EOF' || fail "checks on $T/body failed (see above)"
assert d["by"] == "reader" and d["reason"] == "late histology" and d["at_ms"] > 0, d
EOF
as cons POST "/api/v1/studies/$S2/report/addenda" -d '{"reason": "correction", "text": "Second note."}'
expect_code 201 "the second addendum"
as reader POST "/api/v1/studies/nosuch/report/addenda" -d '{"reason": "r", "text": "t"}'
expect_code 404 "an addendum to an unknown study"
http POST "/api/v1/studies/$S2/report/addenda" -H "Content-Type: application/json" -d '{"reason": "r", "text": "t"}'
[ "$CODE" = 401 ] || [ "$CODE" = 403 ] || fail "an anonymous addendum: $CODE"
as cons GET "/api/v1/studies/$S2/report"
expect_code 200 "the signed report"
python3 - "$T/before-sign.json" "$T/body" <<'EOF' || fail "the signed report with its addenda"
import json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:3])
assert after["state"] == "signed" and after["version"] == before["version"], after
assert after["content"] == before["content"], "the signed content changed"
assert [(a["by"], a["reason"]) for a in after["addenda"]] == [
    ("reader", "late histology"), ("cons", "correction")], after["addenda"]
assert after["addenda"][0]["id"] < after["addenda"][1]["id"]
EOF
as cons PUT "/api/v1/studies/$S2/report" -d "{\"content\": {$FULL}}"
expect_code 409 "saving a signed report"
as cons GET "/api/v1/studies/$S2/report.html"
expect_code 200 "the printable report"
for want in "Histology: tubular adenoma &lt;low grade&gt;." "late histology" "Second note." \
    "CC-CLEAR" "8 / 9: excellent" "Follow-up interval" "24 months" \
    "Smith, Anna" "9434765919" "1962-03-14" "fit_positive" "Dr J Khan" "0-Is" "left_colon" "8 mm" \
    "5.5 mm\*" "run 3&ndash;4 mm" \
    "not designed\|designed to examine the colon" "data:image/jpeg;base64," "Signed by <b>cons</b> (validator)"; do
    grep -q "$want" "$T/body" || fail "report.html lacks '$want'"
done
grep -q "<low grade>" "$T/body" && fail "report.html does not escape the addendum"
grep -q ">6 mm" "$T/body" && fail "report.html rounds the 5.5 mm polyp to 6 mm"
http GET "/api/v1/audit?study=$S2&action=patient.read" "${ADM[@]}"
json_get "$T/body" '[x["detail"] for x in d["entries"]]' | grep -q "printable report" ||
    fail "printing the patient block is not audited as patient.read: $(cat "$T/body")"
http GET "/api/v1/audit?study=$S2&action=report.addendum" "${ADM[@]}"
[ "$(json_get "$T/body" '[x["user"] for x in d["entries"]]')" = "['cons', 'reader']" ] ||
    [ "$(json_get "$T/body" '[x["user"] for x in d["entries"]]')" = "['reader', 'cons']" ] ||
    fail "report.addendum is not audited twice: $(cat "$T/body")"
ok "addenda: 400 without reason or text, 201 by reader and consultant, in order in GET report and report.html (escaped), audited; the signed content unchanged; the printout carries the patient (audited) and the polyp's segment, size and Paris class"


# --- a frame that failed analysis has no image to read ------------------------
# A damaged record is one failed frame (no image): no finding may start or
# end on it and it is no key frame, since nobody can have seen it there.
python3 - "$T/frames.csfs" "$T/bad.csfs" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
pos = -1
for _ in range(6):
    pos = b.find(b"CSFR", pos + 1)
b[pos + 100] ^= 0x5A  # a byte in that record's payload
open(sys.argv[2], "wb").write(b)
EOF
cp "$T/frames.csfs" "$T/good.csfs"
cp "$T/bad.csfs" "$T/frames.csfs"
upload_study '{"label": "one damaged frame"}'
cp "$T/good.csfs" "$T/frames.csfs"
S3=$STUDY
as reader GET "/api/v1/studies/$S3/frames"
BAD=$(json_get "$T/body" '" ".join(str(i) for i, f in enumerate(d["flags"]) if not f & 1)')
case "$BAD" in [1-9] | 10) ;; *) die "not one failed frame inside the study: '$BAD'" ;; esac
as reader GET "/api/v1/studies/$S3/frames/$BAD.jpg"
[ "$CODE" = 404 ] || fail "the failed frame $BAD has an image: $CODE"
for body in "{\"seq_from\": $BAD, \"type\": \"fresh_blood\"}" \
    "{\"seq_from\": 0, \"seq_to\": $BAD, \"type\": \"fresh_blood\"}" \
    "{\"seq_from\": $BAD, \"seq_to\": 11, \"type\": \"fresh_blood\"}"; do
    as reader POST "/api/v1/studies/$S3/findings" -d "$body"
    expect_code 422 "a finding on the failed frame: $body"
    [ "$(json_get "$T/body" 'd["error"]')" = frame_failed ] || fail "finding $body: $(cat "$T/body")"
done
as reader POST "/api/v1/studies/$S3/findings" \
    -d "{\"seq_from\": $((BAD - 1)), \"seq_to\": $((BAD + 1)), \"type\": \"fresh_blood\"}"
expect_code 201 "a finding across the failed frame"
F=$(json_get "$T/body" 'd["id"]')
as reader PUT "/api/v1/studies/$S3/findings/$F" -d "{\"seq_from\": $BAD, \"type\": \"fresh_blood\"}"
expect_code 422 "moving a finding onto the failed frame"
as reader GET "/api/v1/studies/$S3/findings"
[ "$(json_get "$T/body" '[(f["seq_from"], f["seq_to"]) for f in d["findings"]]')" = "[($((BAD - 1)), $((BAD + 1)))]" ] ||
    fail "a refused finding changed the findings: $(cat "$T/body")"
as reader PUT "/api/v1/studies/$S3/report" -d "{\"content\": {\"key_frames\": [0, $BAD]}}"
expect_code 422 "the failed frame as a key frame"
[ "$(json_get "$T/body" 'd["error"]')" = frame_failed ] || fail "key frame: $(cat "$T/body")"
as reader GET "/api/v1/studies/$S3/report"
expect_code 404 "a refused first save saved nothing"
ok "a failed frame (no image): 422 frame_failed as a finding's first or last frame or a key frame; a finding across it is fine"

cs_finish
