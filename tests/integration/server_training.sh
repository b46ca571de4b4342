#!/usr/bin/env bash
# server_training.sh - reader training's API against a real server
# (docs/training.md): a trainer turns a signed study into a known-answer
# case (an unsigned one is refused); a trainee reaches only the training
# routes (the worklist and the study's own routes answer 403), sees the
# case's frames with the engine's flags hidden when the course says so and
# never the study's patient, label or id; the reference answers 403 until
# the trainee submits; the submitted read is scored by the documented rule
# (one lesion found, one missed: sensitivity 0.5, the missed one listed);
# a submitted attempt no longer changes; another trainee cannot see it;
# progress sums it up and says whether the course's standard is met.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl

DEMO="$CS_SOURCE_DIR/samples/demo/frames"
"$CAPSCREEN" pack --fps 4 "$DEMO" "$T/demo.csfs" >/dev/null 2>"$T/e" || die "pack: $(cat "$T/e")"
for label in "Known answer" "Never signed"; do
    run_cs "$T/o" "$T/e" study import --data "$T/data" --label "$label" "$T/demo.csfs"
    [ "$RC" -eq 0 ] || die "study import exited $RC: $(cat "$T/e")"
    tail -n 1 "$T/o" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])' >>"$T/studies"
done
STUDY=$(sed -n 1p "$T/studies")
UNSIGNED=$(sed -n 2p "$T/studies")
for u in reader:reader cons:consultant teach:trainer ann:trainee bob:trainee; do
    echo "pw-${u%%:*}-0123456789" | "$CAPSCREEN" user add --data "$T/data" --name "${u%%:*}" \
        --role "${u##*:}" >/dev/null 2>"$T/e" || die "user add ${u%%:*}: $(cat "$T/e")"
done
start_server "$T/data"
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
for u in reader cons teach ann bob; do login $u; done
analysed() {
    as reader GET "/api/v1/studies/$1"
    [ "$CODE" = 200 ] && [ "$(json_get "$T/body" 'd["workflow_state"]')" = ready ]
}
wait_until 120 "the demo studies to be analysed" analysed "$STUDY"
wait_until 120 "the demo studies to be analysed" analysed "$UNSIGNED"

# The known answer: two lesions, two landmarks, cleansing grades; signed.
S=/api/v1/studies/$STUDY
as reader POST "$S/findings" -d '{"seq_from": 3, "seq_to": 5, "type": "polyp", "segment": "left_colon", "size_mm": 5}'
expect_code 201 "reference finding 1"
as reader POST "$S/findings" -d '{"seq_from": 100, "seq_to": 110, "type": "fresh_blood", "segment": "small_bowel"}'
expect_code 201 "reference finding 2"
as reader PUT "$S/landmarks/first_caecal" -d '{"seq": 50}'
expect_code 200 "a landmark"
as reader PUT "$S/cleansing/right_colon" -d '{"grade": "good"}'
expect_code 200 "a cleansing grade"
# Signing needs the patient and the Nyborg 2025 fields (docs/clinical-record.md).
http PUT "$S/patient" -H "Authorization: Bearer $ADMIN_TOKEN" -d "{$PATIENT_EPISODE}"
expect_code 200 "the reference study's patient"
as reader PUT "$S/report" -d '{"content": {"findings_text": "x", "recommendation": "colonoscopy",
 "recommendation_reason": "training reference", "prep_checklist": "Taken.",
 "cc_clear": {"right_colon": 2, "transverse_colon": 3, "left_colon": 3}, "extracolonic": "None seen.",
 "follow_up_months": 0, "upper_gi_disclaimer_ack": true}, "state": "read"}'
expect_code 200 "the report"
V=$(json_get "$T/body" 'd["version"]')
B=$(basis_now cons "$S")
as cons POST "$S/report/sign" -d "{\"version\": $V, \"basis\": \"$B\"}"
expect_code 200 "signing the known answer"

# Courses and cases: trainers (and admins) only.
as ann POST /api/v1/training/courses -d '{"name": "mine"}'
expect_code 403 "a trainee creating a course"
as teach POST /api/v1/training/courses -d '{"name": "Colon capsule 1", "show_engine_flags": false, "tolerance_frames": 2, "standard": {"cases": 2, "sensitivity": 0.9}}'
expect_code 201 "a course"
COURSE=$(json_get "$T/body" 'd["id"]')
as teach POST /api/v1/training/courses -d '{"name": ""}'
expect_code 400 "a course without a name"
as teach POST "/api/v1/training/courses/$COURSE/cases" -d "{\"study\": \"$UNSIGNED\"}"
expect_code 409 "a case from an unsigned study"
[ "$(json_get "$T/body" 'd["error"]')" = not_signed ] || fail "unsigned: $(cat "$T/body")"
as teach POST "/api/v1/training/courses/$COURSE/cases" -d "{\"study\": \"$STUDY\", \"label\": \"Case A\"}"
expect_code 201 "a case from the signed study"
CASE=$(json_get "$T/body" 'd["id"]')
py_check "$T/body" <<'PY' || fail "the reference is not the signed study's"
ref = d["reference"]
got = sorted((f["type"], f["seq_from"], f["seq_to"]) for f in ref["findings"])
if got != [("fresh_blood", 100, 110), ("polyp", 3, 5)]:
    fail(f"findings {got}")
if ref["landmarks"] != {"first_caecal": 50}:
    fail(f"landmarks {ref['landmarks']}")
# the report's confirmed CC-CLEAR scores (the old grade "good" is 2 too)
if ref["cleansing"] != {"right_colon": 2, "transverse_colon": 3, "left_colon": 3}:
    fail(f"cleansing {ref['cleansing']}")
PY
as teach POST "/api/v1/training/courses/$COURSE/cases" -d "{\"study\": \"$STUDY\"}"
expect_code 409 "the same study twice in a course"
# Nor in a second course: the first case's reference, open to a trainee who
# submitted it, would be the known answer of the second.
as teach POST /api/v1/training/courses -d '{"name": "Colon capsule 2"}'
expect_code 201 "a second course"
COURSE2=$(json_get "$T/body" 'd["id"]')
as teach POST "/api/v1/training/courses/$COURSE2/cases" -d "{\"study\": \"$STUDY\"}"
expect_code 409 "the same study as a case of a second course"
[ "$(json_get "$T/body" 'd["error"]')" = case_exists ] || fail "second course: $(cat "$T/body")"
grep -q "$COURSE" "$T/body" || fail "the refusal does not name the course: $(cat "$T/body")"
as teach GET "/api/v1/training/courses/$COURSE2/cases"
[ "$(json_get "$T/body" 'len(d["cases"])')" = 0 ] || fail "the second course has a case: $(cat "$T/body")"
ok "a trainer makes a course and a case from a signed study (not an unsigned one, not twice, not in two courses)"

# The trainee: training routes only; identity removed.
for path in /api/v1/worklist "$S" "$S/frames" "$S/frames/0.jpg" "$S/findings" "$S/report" /api/v1/monitor; do
    as ann GET "$path"
    expect_code 403 "a trainee at $path"
done
as ann GET "/api/v1/training/courses/$COURSE/cases"
expect_code 200 "the trainee's case list"
py_check "$T/body" "$STUDY" <<'PY' || fail "the case list gives the study away"
import json
if sys.argv[2] in json.dumps(d) or "Known answer" in json.dumps(d):
    fail("the study id or label is in the trainee's case list")
if [c["label"] for c in d["cases"]] != ["Case A"]:
    fail(str(d["cases"]))
PY
as ann GET "/api/v1/training/cases/$CASE/frames"
expect_code 200 "the case's frame index"
py_check "$T/body" "$STUDY" <<'PY' || fail "the frame index shows the engine's flags or the study"
import json
if sys.argv[2] in json.dumps(d):
    fail("the study id is in the frame index")
if d["engine_flags_shown"] is not False:
    fail("engine_flags_shown")
if any(f & ~33 for f in d["flags"]):
    fail("engine flags left in the index")
if any(p for p in d["p"]) or any(p is not None for p in d["polyp_p"]) or d["boxes"]:
    fail("probabilities or boxes left in the index")
if d["count"] < 100:
    fail(f"count {d['count']}")
PY
N_FRAMES=$(json_get "$T/body" 'd["count"]')
as ann GET "/api/v1/training/cases/$CASE/frames/3.jpg"
expect_code 200 "a frame of the case"
[ "$(header Content-Type)" = image/jpeg ] || fail "the frame is not a JPEG"
# The image's headers and errors name the case, never the study: its id
# would tell a trainee which cases are the same study.
ETAG=$(header ETag)
case "$ETAG" in *"$STUDY"* | "") fail "the frame's ETag gives the study away: '$ETAG'" ;; esac
as ann GET "/api/v1/training/cases/$CASE/frames/3.jpg" -H "If-None-Match: $ETAG"
expect_code 304 "the frame again, unchanged"
for path in frames/99999.jpg frames/99999/thumb.jpg; do
    as ann GET "/api/v1/training/cases/$CASE/$path"
    expect_code 404 "a frame the case does not have ($path)"
    grep -q "$STUDY" "$T/body" "$T/headers" && fail "$path: the 404 gives the study away: $(cat "$T/body")"
    [ "$(json_get "$T/body" 'd["error"]')" = unknown_frame ] || fail "$path: $(cat "$T/body")"
done
ok "a trainee reaches only the training routes; the case hides the study and the engine's flags"

as ann GET "/api/v1/training/cases/$CASE/reference"
expect_code 403 "the reference before submitting"
[ "$(json_get "$T/body" 'd["error"]')" = reference_blind ] || fail "blind: $(cat "$T/body")"
as ann POST "/api/v1/training/cases/$CASE/attempt"
expect_code 200 "starting an attempt"
ATT=$(json_get "$T/body" 'd["id"]')
as ann POST "/api/v1/training/cases/$CASE/attempt"
[ "$(json_get "$T/body" 'd["id"]')" = "$ATT" ] || fail "a second start made a second attempt"
as ann PUT "/api/v1/training/attempts/$ATT" -d '{"findings": [{"type": "tumour", "seq_from": 1}]}'
expect_code 400 "an answer with an unknown finding type"
as ann PUT "/api/v1/training/attempts/$ATT" -d '{"cleansing": {"right_colon": 4}}'
expect_code 400 "a CC-CLEAR score of 4"
# A frame the case does not have was never read: refused, naming the field.
LAST=$((N_FRAMES - 1))
as ann PUT "/api/v1/training/attempts/$ATT" -d "{\"findings\": [{\"type\": \"polyp\", \"seq_from\": $LAST}]}"
expect_code 200 "a finding on the case's last frame"
for bad in "{\"findings\": [{\"type\": \"polyp\", \"seq_from\": 3, \"seq_to\": $N_FRAMES}]}" \
           "{\"findings\": [{\"type\": \"polyp\", \"seq_from\": 9223372036854775807}]}" \
           "{\"landmarks\": {\"first_caecal\": $N_FRAMES}}"; do
    as ann PUT "/api/v1/training/attempts/$ATT" -d "$bad"
    expect_code 400 "an answer past the case's frames: $bad"
    grep -q -e 'findings\[0\]' -e 'landmarks.first_caecal' "$T/body" || fail "the 400 names no field: $(cat "$T/body")"
done
as ann POST "/api/v1/training/attempts/$ATT/submit" -d '{"findings": [{"type": "polyp", "seq_from": 999999}]}'
expect_code 400 "submitting a finding past the case's frames"
ANSWER='{"findings": [{"type": "polyp", "seq_from": 6, "seq_to": 7}, {"type": "ulcer", "seq_from": 200}],
  "landmarks": {"first_caecal": 58}, "cleansing": {"right_colon": 2}, "reading_time_s": 321.5}'
as ann PUT "/api/v1/training/attempts/$ATT" -d "$ANSWER"
expect_code 200 "saving the answer"
as bob GET "/api/v1/training/attempts/$ATT"
expect_code 404 "another trainee's attempt"
as bob PUT "/api/v1/training/attempts/$ATT" -d "$ANSWER"
expect_code 404 "answering another trainee's attempt"
as ann POST "/api/v1/training/attempts/$ATT/submit"
expect_code 200 "submitting"
cp "$T/body" "$T/scored.json"
py_check "$T/scored.json" <<'PY' || fail "the score is not the rule's"
s = d["score"]
if s["sensitivity"] != 0.5:
    fail(f"sensitivity {s['sensitivity']}")
if [(m["type"], m["seq_from"]) for m in s["missed"]] != [("fresh_blood", 100)]:
    fail(f"missed {s['missed']}")
if s["false_positives"] != 1 or s["false"][0]["type"] != "ulcer":
    fail(f"false {s['false']}")
if s["landmark_error_frames"] != 8:
    fail(f"landmark error {s['landmark_error_frames']}")
if s["cleansing"] != {"compared": 1, "agreed": 1}:
    fail(f"cleansing {s['cleansing']}")
if s["reading_time_s"] != 321.5 or s["reading_time_source"] != "viewer":
    fail(f"reading time {s['reading_time_s']}")
if d["submitted_at_ms"] is None:
    fail("not marked submitted")
PY
ok "the score: sensitivity 0.5 (tolerance 2 frames), the missed lesion listed, one false positive"

as ann GET "/api/v1/training/cases/$CASE/reference"
expect_code 200 "the reference after submitting"
as bob GET "/api/v1/training/cases/$CASE/reference"
expect_code 403 "the reference to a trainee who has not submitted"
as ann PUT "/api/v1/training/attempts/$ATT" -d "$ANSWER"
expect_code 409 "changing a submitted answer"
as ann POST "/api/v1/training/attempts/$ATT/submit"
expect_code 409 "submitting twice"
as teach GET "/api/v1/training/attempts/$ATT"
expect_code 200 "the trainer reads the attempt"
http GET "/api/v1/audit?action=training.attempt" -H "Authorization: Bearer $ADMIN_TOKEN"
py_check "$T/body" "$STUDY" "$ATT" <<'PY' || fail "the trainer's read of an attempt is not audited"
got = [(e["user"], e["study"], e["detail"].split(" at ")[0]) for e in d["entries"]]
if got != [("teach", sys.argv[2], f"attempt {sys.argv[3]} of ann")]:
    fail(f"audit {got}")
PY
# Each opening of the reference (a study's clinical read) is audited.
as teach GET "/api/v1/training/cases/$CASE/reference"
expect_code 200 "the trainer reads the reference"
http GET "/api/v1/audit?action=training.reference" -H "Authorization: Bearer $ADMIN_TOKEN"
expect_code 200 "the audit of reference reads"
py_check "$T/body" "$STUDY" "$CASE" <<'PY' || fail "reference reads are not audited"
got = sorted((e["user"], e["study"], e["detail"]) for e in d["entries"])
want = sorted([(u, sys.argv[2], "case " + sys.argv[3]) for u in ("ann", "teach")])
if got != want:
    fail(f"audit {got}")
PY
ok "the reference opens after submitting, to that trainee only; a submitted attempt is final"

as ann GET /api/v1/training/progress
expect_code 200 "the trainee's progress"
py_check "$T/body" <<'PY' || fail "progress"
p = d["progress"]
if len(p) != 1 or p[0]["trainee"] != "ann" or p[0]["cases_read"] != 1:
    fail(str(p))
if p[0]["mean_sensitivity"] != 0.5 or p[0]["standard_met"] is not False:
    fail(str(p))
PY
as ann GET "/api/v1/training/progress?trainee=bob"
[ "$(json_get "$T/body" '[g["trainee"] for g in d["progress"]]')" = "['ann']" ] ||
    fail "a trainee read another's progress"
as teach GET /api/v1/training/progress
[ "$(json_get "$T/body" 'len(d["progress"])')" = 1 ] || fail "the trainer's cohort view"
# A case imported as a frame stream plus a reference file (docs/training.md).
# (an import copies its file into DATA/uploads first: count them)
n_uploads() { find "$T/data/uploads" -type f | wc -l; }
N_UPLOADS=$(n_uploads)
printf '%s' '{"findings": [{"type": "polyp", "seq_from": 20, "seq_to": 22, "note": "0-Is"},
  {"type": "ulcer", "seq_from": 150}], "landmarks": {"first_caecal": 40}, "cleansing": {"left_colon": 1}}' >"$T/ref.json"
printf '%s' '{"findings": [{"type": "tumour", "seq_from": 1}]}' >"$T/bad-ref.json"
printf '%s' '{"findings": [], "cleansing": {"left_colon": 4}}' >"$T/bad-score.json"
printf '%s' '{"findings": [], "answer": 42}' >"$T/bad-key.json"
for bad in bad-ref bad-score bad-key; do
    run_cs "$T/o" "$T/e" study import --data "$T/data" --course "$COURSE" --reference "$T/$bad.json" \
        --label "Imported" "$T/demo.csfs"
    [ "$RC" -eq 2 ] || fail "$bad.json: study import exited $RC, not 2"
    grep -q -e findings -e cleansing -e "unknown key" "$T/e" || fail "$bad.json: no reason: $(cat "$T/e")"
done
run_cs "$T/o" "$T/e" study import --data "$T/data" --course no-such-course --reference "$T/ref.json" "$T/demo.csfs"
[ "$RC" -eq 2 ] && grep -q "no course" "$T/e" || fail "an unknown course: $RC $(cat "$T/e")"
[ "$(n_uploads)" = "$N_UPLOADS" ] || fail "a refused import stored a study"
run_cs "$T/o" "$T/e" study import --data "$T/data" --course "$COURSE" --reference "$T/ref.json" \
    --label "Imported case" "$T/demo.csfs"
[ "$RC" -eq 0 ] || fail "importing a case exited $RC: $(cat "$T/e")"
ICASE=$(tail -n 1 "$T/o" | python3 -c 'import json,sys; print(json.load(sys.stdin)["case"])')
ISTUDY=$(tail -n 1 "$T/o" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])')
# An imported case's study is a training study, no patient's: never on
# the worklist, and no clinical route takes it (a reader once could add
# findings to it and report it as a patient's study).
as reader GET /api/v1/worklist
expect_code 200 "the worklist"
json_get "$T/body" '[s["study"] for s in d["studies"]]' | grep -q "$ISTUDY" &&
    fail "the imported case's study is on the clinical worklist"
json_get "$T/body" '[s["study"] for s in d["studies"]]' | grep -q "$STUDY" ||
    fail "the worklist lost a clinical study"
IS=/api/v1/studies/$ISTUDY
as reader POST "$IS/findings" -d '{"seq_from": 3, "type": "polyp"}'
expect_code 409 "a finding on a training study"
[ "$(json_get "$T/body" 'd["error"]')" = training_study ] || fail "no training_study reason: $(cat "$T/body")"
as cons PUT "$IS/report" -d '{"content": {}}'
expect_code 409 "a report on a training study"
as reader GET "$IS/frames"
expect_code 409 "the clinical frame list of a training study"
http GET "$IS" -H "Authorization: Bearer $ADMIN_TOKEN"
expect_code 409 "the admin token reading a training study"
http PUT "$IS/patient" -H "Authorization: Bearer $ADMIN_TOKEN" -d "{$PATIENT_EPISODE}"
expect_code 409 "a patient given to a training study"
# nor do more frames reach it (they would not fit its reference)
http POST /uploads/ -H "Authorization: Bearer $ADMIN_TOKEN" -H "Tus-Resumable: 1.0.0" \
    -H "Upload-Length: 10" -H "Upload-Metadata: study $(printf %s "$ISTUDY" | base64 -w0)"
expect_code 409 "an upload to a training study"
[ "$(json_get "$T/body" 'd["error"]')" = training_study ] || fail "upload: $(cat "$T/body")"
as ann GET "/api/v1/training/courses/$COURSE/cases"
json_get "$T/body" '[c["label"] for c in d["cases"]]' | grep -q "Imported case" || fail "the imported case is not listed"
case_frames() {
    as ann GET "/api/v1/training/cases/$ICASE/frames"
    [ "$CODE" = 200 ] && [ "$(json_get "$T/body" 'd["count"]')" -gt 150 ]
}
wait_until 120 "the imported case's frames to be analysed" case_frames
as ann POST "/api/v1/training/cases/$ICASE/attempt"
IATT=$(json_get "$T/body" 'd["id"]')
as ann POST "/api/v1/training/attempts/$IATT/submit" -d '{"findings": [{"type": "polyp", "seq_from": 21}]}'
expect_code 200 "submitting the imported case"
py_check "$T/body" <<'PY' || fail "the imported case's score"
s = d["score"]
if s["sensitivity"] != 0.5 or [m["type"] for m in s["missed"]] != ["ulcer"]:
    fail(str(s))
PY
ok "a case imported from a frame stream and a reference file (bad ones refused before anything is stored) scores like any other, and its study stays off the worklist and the study routes"

# Reading time on clinical studies (docs/workstation.md, "Reading time").
as reader POST "$S/reading-time" -d '{"view": "full", "seconds": 30}'
expect_code 204 "reading time, full view"
as reader POST "$S/reading-time" -d '{"view": "reduced", "seconds": 10}'
expect_code 204 "reading time, reduced view"
as cons POST "$S/reading-time" -d '{"view": "full", "seconds": 50}'
expect_code 204 "the consultant's reading time"
as reader POST "$S/reading-time" -d '{"view": "full", "seconds": 20}'
expect_code 204 "more reading time"
for bad in '{"view": "full", "seconds": 0}' '{"view": "full", "seconds": 601}' \
           '{"view": "sideways", "seconds": 5}' '{"seconds": 5}'; do
    as reader POST "$S/reading-time" -d "$bad"
    expect_code 400 "reading time $bad"
done
as reader POST "/api/v1/studies/no-such/reading-time" -d '{"view": "full", "seconds": 5}'
expect_code 404 "reading time of no study"
as ann POST "$S/reading-time" -d '{"view": "full", "seconds": 5}'
expect_code 403 "a trainee's reading time on a clinical study"
as reader GET "$S"
py_check "$T/body" <<'PY' || fail "the study's reading time"
rt = d["reading_time"]
if rt["total_s"] != 110:
    fail(f"total {rt['total_s']}")
got = sorted((r["reader"], r["view"], r["seconds"]) for r in rt["by_reader"])
if got != [("cons", "full", 50), ("reader", "full", 50), ("reader", "reduced", 10)]:
    fail(f"by reader {got}")
PY
as reader POST "/api/v1/studies/$UNSIGNED/reading-time" -d '{"view": "full", "seconds": 70}'
as cons GET /api/v1/stats/reading-time
expect_code 200 "the reading-time statistics"
py_check "$T/body" <<'PY' || fail "the reading-time statistics"
by = {(r["reader"], r["view"]): (r["studies"], r["median_s"]) for r in d["by_reader"]}
if by.get(("reader", "full")) != (2, 60) or by.get(("cons", "full")) != (1, 50):
    fail(f"by reader {by}")
views = {v["view"]: (v["studies"], v["median_s"]) for v in d["by_view"]}
if views.get("full") != (2, 85) or views.get("reduced") != (1, 10):
    fail(f"by view {views}")
PY
as reader GET /api/v1/stats/reading-time
expect_code 403 "a reader at the statistics"
ok "reading time: per reader and view, summed on the study, medians by reader and view"

as teach GET /api/v1/training/progress.csv
expect_code 200 "the cohort as CSV"
[ "$(head -n 1 "$T/body" | tr -d '\r')" = "trainee,course,cases_read,mean_sensitivity,cleansing_kappa,standard_met" ] ||
    fail "CSV header: $(head -n 1 "$T/body")"
grep -q "^\"ann\",\"$COURSE\",\"2\",\"0.5000\"," "$T/body" || fail "CSV row: $(cat "$T/body")"
as ann GET /api/v1/training/progress.csv
expect_code 403 "a trainee downloading the cohort"
as reader GET /api/v1/training/courses
expect_code 403 "a clinical reader at the training routes"
ok "progress: the trainee's own, the trainer's whole cohort; clinical roles stay out"

# An answer that could be saved can be submitted, however large: the
# score's finding lists copy the answer's findings and once outgrew the
# score's column (500 score_too_large).
python3 -c 'import json; print(json.dumps({"findings": [{"type": "polyp", "seq_from": 4},
  {"type": "ulcer", "seq_from": 200, "note": "n" * 16200}]}))' >"$T/big.json"
as bob POST "/api/v1/training/cases/$ICASE/attempt"
expect_code 200 "bob starts the imported case (and submits it last)"
IBATT=$(json_get "$T/body" 'd["id"]')
as bob POST "/api/v1/training/cases/$CASE/attempt"
expect_code 200 "bob starts the case"
BATT=$(json_get "$T/body" 'd["id"]')
as bob PUT "/api/v1/training/attempts/$BATT" --data-binary "@$T/big.json"
expect_code 200 "saving a large answer"
as bob POST "/api/v1/training/attempts/$BATT/submit"
expect_code 200 "submitting the large answer"
cp "$T/body" "$T/big-scored.json"
as bob GET "/api/v1/training/attempts/$BATT"
expect_code 200 "reading the large answer's score"
py_check "$T/body" "$T/big-scored.json" <<'PY' || fail "the large answer's score"
s = d["score"]
if s["sensitivity"] != 0.5 or s["false_positives"] != 1 or len(s["false"][0]["note"]) != 16200:
    fail(f"score {str(s)[:300]}")
if [(m["reference"]["seq_from"], m["yours"]["seq_from"]) for m in s["matches"]] != [(3, 4)]:
    fail(f"matches {s['matches']}")
if [m["type"] for m in s["missed"]] != ["fresh_blood"]:
    fail(f"missed {s['missed']}")
if json.load(open(sys.argv[2]))["score"] != s:
    fail("the score read back is not the score given at submit")
PY
ok "a large answer is submitted and scored like any other"

# Progress lists the cases in the order they were submitted (the curves
# over time), not the order they were started.
as bob POST "/api/v1/training/attempts/$IBATT/submit" -d '{"findings": [{"type": "ulcer", "seq_from": 150}]}'
expect_code 200 "bob submits the imported case"
as bob GET /api/v1/training/progress
expect_code 200 "bob's progress"
py_check "$T/body" "$CASE" "$ICASE" <<'PY' || fail "bob's progress is not in submission order"
cases = d["progress"][0]["cases"]
if [k["case"] for k in cases] != sys.argv[2:4]:
    fail(f"order {[(k['case'], k['submitted_at_ms']) for k in cases]}")
if [k["sensitivity"] for k in cases] != [0.5, 0.5]:
    fail(str(cases))
PY
ok "progress is in the order of submission"
cs_finish
