#!/usr/bin/env bash
# server_patient.sh - the clinical record's patient, episode and structured
# findings against a real server (docs/clinical-record.md): a study is
# created with its patient through the API and the CLI; an invalid NHS
# number or date of birth is refused with 422 and stores nothing; a missing
# or wrong field gets 400 naming it; the worklist shows and searches the
# patient; the companion page gets the first name only, its reads (once per
# window, not per poll) and prep ticks are audited, and so are wrong codes
# (access.denied, a flood collapsed); corrections are for coordinators and
# admins; every read of patient details is audited;
# findings carry segment, morphology and count, checked; a suspected cancer
# raises the suspected_cancer alert, reaches the webhook and flags the
# worklist as urgent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl

SECRET=test-webhook-key-0123456789abcdef
printf '%s\n' "$SECRET" >"$T/webhook.key"
chmod 600 "$T/webhook.key"
python3 "$(dirname "$0")/server_care.py" receiver "$T/hook.port" "$T/hook.log" "$SECRET" \
    2>"$T/hook.err" &
HOOK_PID=$!
trap 'kill $HOOK_PID 2>/dev/null || true; cs_server_cleanup' EXIT
wait_until 10 "the webhook receiver" test -s "$T/hook.port"
HOOK=http://127.0.0.1:$(cat "$T/hook.port")/alerts

DEMO="$CS_SOURCE_DIR/samples/demo/frames"
"$CAPSCREEN" pack --fps 4 "$DEMO" "$T/demo.csfs" >/dev/null 2>"$T/e" || die "pack: $(cat "$T/e")"
run_cs "$T/o" "$T/e" study import --data "$T/data" --label "Demo" "$T/demo.csfs"
[ "$RC" -eq 0 ] || die "study import exited $RC: $(cat "$T/e")"
DEMO_STUDY=$(tail -n 1 "$T/o" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])')
for u in reader:reader cons:consultant coord:coordinator; do
    echo "pw-${u%%:*}-0123456789" | "$CAPSCREEN" user add --data "$T/data" --name "${u%%:*}" \
        --role "${u##*:}" >/dev/null 2>"$T/e" || die "user add ${u%%:*}: $(cat "$T/e")"
done

# The CLI: the same checks as the API, before anything is stored.
run_cs "$T/o" "$T/e" study create --data "$T/data" --label cli --nhs-number "401 023 2137" \
    --family Jones --given Bryn --birth-date 1958-07-01 --sex male --pathway symptomatic \
    --indication symptoms --referrer "Dr Rees"
[ "$RC" -eq 0 ] || fail "study create with a patient exited $RC: $(cat "$T/e")"
CLI_STUDY=$(tail -n 1 "$T/o" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])')
run_cs "$T/o" "$T/e" study create --data "$T/data" --nhs-number 4010232138 --family Jones \
    --given Bryn --birth-date 1958-07-01 --sex male
[ "$RC" -eq 2 ] || fail "an invalid NHS number: study create exited $RC, not 2"
grep -q invalid_nhs_number "$T/e" || fail "the CLI did not say why: $(cat "$T/e")"
run_cs "$T/o" "$T/e" study create --data "$T/data" --nhs-number 4010232137 --family Jones \
    --given Bryn --birth-date 1958-07-01
[ "$RC" -eq 2 ] && grep -q 'patient.sex' "$T/e" || fail "a missing sex was not named: $RC $(cat "$T/e")"
ok "capscreen study create: takes the patient and episode, refuses a bad NHS number or a missing field"

start_server "$T/data" --webhook-url "$HOOK" --webhook-secret-file "$T/webhook.key"
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
admin() {
    local method=$1 path=$2
    shift 2
    http "$method" "$path" -H "Authorization: Bearer $ADMIN_TOKEN" "$@"
}
for u in reader cons coord; do login $u; done

PATIENT='"patient": {"nhs_number": "943 476 5919", "family": "Smith", "given": "Anna",
  "birth_date": "1962-03-14", "sex": "female"}'
EPISODE='"episode": {"pathway": "screening", "indication": "fit_positive", "referrer": "Dr J Khan"}'
admin POST /api/v1/studies -d "{\"label\": \"anna\", $PATIENT, $EPISODE}"
expect_code 201 "a study with its patient"
STUDY=$(json_get "$T/body" 'd["study"]')
PCODE=$(json_get "$T/body" 'd["patient_code"]')
as reader GET "/api/v1/studies/$STUDY"
expect_code 200 "the study with its patient"
py_check "$T/body" <<'PY' || fail "GET study: the patient or episode is wrong"
p, e = d["patient"], d["episode"]
if p != {"nhs_number": "9434765919", "family": "Smith", "given": "Anna",
         "birth_date": "1962-03-14", "sex": "female"}:
    fail(f"patient {p}")
if e["pathway"] != "screening" or e["indication"] != "fit_positive" or e["referrer"] != "Dr J Khan":
    fail(f"episode {e}")
if d["urgent"] is not False:
    fail("a new study is urgent")
PY
ok "POST /api/v1/studies stores the patient (NHS number normalised) and the episode; GET shows them"

admin GET /api/v1/worklist
N_BEFORE=$(json_get "$T/body" 'len(d["studies"])')
bad_create() { # bad_create STATUS ERROR FIELD BODY
    admin POST /api/v1/studies -d "$4"
    expect_code "$1" "$3"
    [ "$CODE" != "$1" ] && return 0
    [ "$(json_get "$T/body" 'd["error"]')" = "$2" ] || fail "$3: error $(cat "$T/body"), not $2"
    json_get "$T/body" 'd["reason"]' | grep -q "$3" || fail "$3 not named: $(cat "$T/body")"
}
bad_create 422 invalid_nhs_number nhs_number \
    '{"patient": {"nhs_number": "9434765918", "family": "S", "given": "A", "birth_date": "1962-03-14", "sex": "female"}}'
bad_create 422 invalid_nhs_number nhs_number \
    '{"patient": {"nhs_number": "1234567890", "family": "S", "given": "A", "birth_date": "1962-03-14", "sex": "female"}}'
bad_create 422 invalid_birth_date birth_date \
    '{"patient": {"nhs_number": "9434765919", "family": "S", "given": "A", "birth_date": "2999-01-01", "sex": "female"}}'
bad_create 422 invalid_birth_date birth_date \
    '{"patient": {"nhs_number": "9434765919", "family": "S", "given": "A", "birth_date": "1890-01-01", "sex": "female"}}'
bad_create 400 bad_json family \
    '{"patient": {"nhs_number": "9434765919", "given": "A", "birth_date": "1962-03-14", "sex": "female"}}'
bad_create 400 bad_json given \
    '{"patient": {"nhs_number": "9434765919", "family": "S", "given": 3, "birth_date": "1962-03-14", "sex": "female"}}'
bad_create 400 bad_json indication '{"episode": {"indication": "curiosity"}}'
admin GET /api/v1/worklist
[ "$(json_get "$T/body" 'len(d["studies"])')" = "$N_BEFORE" ] || fail "a refused study was stored"
ok "bad patient data: 422 invalid_nhs_number / invalid_birth_date, 400 naming the field; nothing stored"

as reader GET "/api/v1/worklist?q=943%20476%205919"
[ "$(json_get "$T/body" '[s["study"] for s in d["studies"]]')" = "['$STUDY']" ] ||
    fail "search by NHS number: $(json_get "$T/body" '[s["study"] for s in d["studies"]]')"
as reader GET "/api/v1/worklist?q=jones"
[ "$(json_get "$T/body" '[s["study"] for s in d["studies"]]')" = "['$CLI_STUDY']" ] ||
    fail "search by family name: $(json_get "$T/body" '[s["study"] for s in d["studies"]]')"
[ "$(json_get "$T/body" 'd["studies"][0]["episode"]["indication"]')" = symptoms ] ||
    fail "the CLI's episode is not on the worklist"
as reader GET "/api/v1/worklist?q=nobody-has-this-name"
[ "$(json_get "$T/body" 'len(d["studies"])')" = 0 ] || fail "a search that matches nothing listed studies"
ok "the worklist shows the patient and episode and finds them by NHS number (as printed) or name"

http GET /api/v1/patient -H "Authorization: Bearer $PCODE"
expect_code 200 "the companion page"
[ "$(json_get "$T/body" 'd["first_name"]')" = Anna ] || fail "the companion page lacks the first name"
grep -q -e Smith -e 9434765919 -e 1962 "$T/body" && fail "the companion page shows more than the first name"
ok "the patient's companion page shows the first name and nothing else of the record"

# The companion page is audited like any read of patient details, but it
# polls every second: one patient.read per code and address per window
# (docs/workstation.md, "The audit log"), not one a poll.
page_reads() {
    admin GET "/api/v1/audit?action=patient.read&user=patient&study=$STUDY&limit=1000"
    json_get "$T/body" 'len(d["entries"])'
}
[ "$(page_reads)" = 1 ] || fail "the companion page's read left $(page_reads) patient.read rows, not 1"
for _ in 1 2 3 4 5; do
    http GET /api/v1/patient -H "Authorization: Bearer $PCODE"
    expect_code 200 "a companion page poll"
done
[ "$(page_reads)" = 1 ] || fail "companion page polls were audited again: $(page_reads) patient.read rows"
ok "the companion page's read is audited as patient.read (user patient, the study), once, not per poll"

# A prep tick feeds the signed report's "Bowel preparation": each tick and
# untick is audited as patient.prep.
http GET /api/v1/patient -H "Authorization: Bearer $PCODE"
expect_code 200 "the companion page"
STEP=$(json_get "$T/body" 'd["prep"][0]["id"] if d["prep"] else ""')
[ -n "$STEP" ] || die "the companion page lists no prep step: $(cat "$T/body")"
http PUT "/api/v1/patient/prep/$STEP" -H "Authorization: Bearer $PCODE" -d '{"done": true}'
expect_code 200 "a prep tick"
http PUT "/api/v1/patient/prep/$STEP" -H "Authorization: Bearer $PCODE" -d '{"done": false}'
expect_code 200 "a prep untick"
admin GET "/api/v1/audit?action=patient.prep&study=$STUDY&limit=1000"
py_check "$T/body" "$STEP" <<'PY' || fail "prep ticks are not audited"
e = d["entries"]
step = sys.argv[2]
got = sorted((x["user"], x["role"], x["detail"]) for x in e)
want = sorted([("patient", "patient", f"step {step} done"), ("patient", "patient", f"step {step} undone")])
if got != want:
    fail(f"patient.prep rows {got}, not {want}")
if not all(x["ip"] for x in e):
    fail("a patient.prep row without the client address")
PY
ok "a prep tick and untick are audited as patient.prep (the step, done or undone)"

# A wrong patient code is refused (401) and audited as access.denied; a
# flood of wrong codes from one address is one row with a count, not one
# row a request.
WRONG=$(python3 -c 'import sys; g = sys.argv[1].split("-"); print("-".join(reversed(g)))' "$PCODE")
[ "$WRONG" != "$PCODE" ] || die "could not make a wrong code from $PCODE"
denied_rows() { # denied_rows PATH
    admin GET "/api/v1/audit?action=access.denied&limit=1000"
    py_check "$T/body" "$1" <<'PY'
print(len([x for x in d["entries"] if x["user"] == "" and x["detail"].split(";")[0].endswith(" " + sys.argv[2]) and x["ip"]]))
PY
}
[ "$(denied_rows /api/v1/patient)" = 0 ] || fail "access.denied rows before any wrong code"
http GET /api/v1/patient -H "Authorization: Bearer $WRONG"
expect_code 401 "a wrong patient code"
[ "$(denied_rows /api/v1/patient)" = 1 ] ||
    fail "a wrong patient code left $(denied_rows /api/v1/patient) access.denied rows, not 1"
http PUT "/api/v1/patient/prep/$STEP" -H "Authorization: Bearer $WRONG" -d '{"done": true}'
expect_code 401 "a prep tick with a wrong patient code"
[ "$(denied_rows "/api/v1/patient/prep/$STEP")" = 1 ] || fail "a wrong code's prep tick is not audited"
for i in $(seq 1 20); do
    http GET /api/v1/patient -H "Authorization: Bearer ${WRONG%?}$((i % 10))"
    [ "$CODE" = 401 ] || fail "wrong code $i: $CODE, not 401"
done
[ "$(denied_rows /api/v1/patient)" = 1 ] ||
    fail "20 more wrong codes from one address wrote $(denied_rows /api/v1/patient) access.denied rows, not 1"
ok "a wrong patient code is audited as access.denied; a flood of wrong codes is collapsed"

as reader PUT "/api/v1/studies/$STUDY/patient" -d "{$PATIENT}"
expect_code 403 "a reader correcting the patient"
as coord PUT "/api/v1/studies/$DEMO_STUDY/patient" \
    -d '{"patient": {"nhs_number": "4505577104", "family": "Demo", "given": "Dee", "birth_date": "1970-01-01", "sex": "other"}}'
expect_code 200 "a coordinator sets the demo study's patient"
[ "$(json_get "$T/body" 'd["patient"]["family"]')" = Demo ] || fail "the correction did not show"
as coord PUT "/api/v1/studies/$DEMO_STUDY/patient" -d '{"patient": {"nhs_number": "4505577105"}}'
expect_code 422 "a correction with an invalid NHS number"
as coord PUT "/api/v1/studies/no-such-study/patient" -d "{$PATIENT}"
expect_code 404 "a correction of no study"
ok "PUT .../patient: coordinators and admins only, checked like a creation"

# Structured findings on the (analysed) demo study.
analysed() {
    as reader GET "/api/v1/studies/$DEMO_STUDY"
    [ "$CODE" = 200 ] && [ "$(json_get "$T/body" 'd["workflow_state"]')" = ready ]
}
wait_until 120 "the demo study to be analysed" analysed
F=/api/v1/studies/$DEMO_STUDY/findings
as reader POST "$F" -d '{"seq_from": 3, "seq_to": 5, "type": "polyp", "size_mm": 7, "segment": "left_colon", "morphology": "0-Isp", "count": 2}'
expect_code 201 "a structured polyp finding"
py_check "$T/body" <<'PY' || fail "the structured finding did not round-trip"
if (d["segment"], d["morphology"], d["count"], d["suspected_cancer"], d["size_mm"]) != \
        ("left_colon", "0-Isp", 2, False, 7.0):
    fail(str(d))
PY
as reader POST "$F" -d '{"seq_from": 1, "type": "polyp", "segment": "ascending"}'
expect_code 400 "an unknown segment"
[ "$(json_get "$T/body" 'd["error"]')" = bad_segment ] || fail "unknown segment: $(cat "$T/body")"
as reader POST "$F" -d '{"seq_from": 1, "type": "ulcer", "morphology": "0-Is"}'
expect_code 400 "a Paris class on an ulcer"
as reader POST "$F" -d '{"seq_from": 1, "type": "polyp", "morphology": "Is"}'
expect_code 400 "a morphology outside the Paris classification"
as reader POST "$F" -d '{"seq_from": 1, "type": "polyp", "count": 0}'
expect_code 400 "a polyp count of 0"
as reader POST "$F" -d '{"seq_from": 1, "type": "polyp", "suspected_cancer": "yes"}'
expect_code 400 "suspected_cancer as text"
as reader GET "$F"
[ "$(json_get "$T/body" 'len(d["findings"])')" = 1 ] || fail "a refused finding was stored"
ok "findings carry segment, Paris morphology and count; bad values get 400 and store nothing"

as reader GET /api/v1/worklist
json_get "$T/body" '[s["study"] for s in d["studies"] if s["urgent"]]' | grep -q "$DEMO_STUDY" &&
    fail "urgent before any suspected cancer"
as reader POST "$F" -d '{"seq_from": 8, "seq_to": 9, "type": "polyp", "size_mm": 25, "segment": "rectum", "suspected_cancer": true}'
expect_code 201 "a finding marked suspected cancer"
as reader GET "/api/v1/studies/$DEMO_STUDY/alerts"
json_get "$T/body" '[a["kind"] for a in d["alerts"]]' | grep -q suspected_cancer ||
    fail "no suspected_cancer alert: $(cat "$T/body")"
as reader GET /api/v1/worklist
[ "$(json_get "$T/body" '[s["study"] for s in d["studies"] if s["urgent"]]')" = "['$DEMO_STUDY']" ] ||
    fail "the worklist's urgent flag: $(json_get "$T/body" '[(s["study"], s["urgent"]) for s in d["studies"]]')"
delivered() { grep '"suspected_cancer"' "$T/hook.log" 2>/dev/null | grep -q '"status": 200'; }
wait_until 60 "the suspected-cancer alert at the webhook (after one refused delivery)" delivered
grep '"suspected_cancer"' "$T/hook.log" | grep -q '"sig_ok": true' || fail "the webhook's signature did not verify"
ok "a suspected cancer: the alert at once, the webhook (signed, retried), the worklist's urgent flag"

admin GET "/api/v1/audit?action=patient.read&limit=1000"
expect_code 200 "the audit log"
py_check "$T/body" "$STUDY" <<'PY' || fail "patient reads are not all audited"
e = d["entries"]
study = sys.argv[2]
if not any(x["study"] == study and x["user"] == "reader" and x["detail"] == "study" for x in e):
    fail("the reader's GET of the study is not audited")
if not any(x["user"] == "reader" and x["detail"].startswith("worklist: ") for x in e):
    fail("the reader's worklist is not audited")
PY
admin GET "/api/v1/audit?action=patient.update"
json_get "$T/body" '[(x["user"], x["study"]) for x in d["entries"]]' | grep -q "coord" ||
    fail "the correction is not audited"
ok "the audit records every read of patient details (study, worklist) and each correction"

# The worklist is polled every 2 s: one row per change of what it shows, not
# one per poll (docs/workstation.md, "Audit").
worklist_rows() {
    admin GET "/api/v1/audit?action=patient.read&user=reader&limit=1000"
    json_get "$T/body" 'len([x for x in d["entries"] if x["detail"].startswith("worklist: ")])'
}
as reader GET /api/v1/worklist
before=$(worklist_rows)
for _ in 1 2 3; do
    as reader GET /api/v1/worklist
    expect_code 200 "a worklist poll"
done
[ "$(worklist_rows)" = "$before" ] || fail "unchanged worklist polls were audited again ($before -> $(worklist_rows))"
as coord PUT "/api/v1/studies/$DEMO_STUDY/patient" \
    -d '{"patient": {"nhs_number": "4505577104", "family": "Demo", "given": "Dana", "birth_date": "1970-01-01", "sex": "other"}}'
expect_code 200 "a second correction of the demo study's patient"
as reader GET /api/v1/worklist
[ "$(worklist_rows)" = $((before + 1)) ] || fail "a worklist showing a corrected patient was not audited"
as reader GET /api/v1/worklist
[ "$(worklist_rows)" = $((before + 1)) ] || fail "the corrected worklist's poll was audited again"
ok "a polled worklist is audited when the patients it shows change, not on every poll"
cs_finish
