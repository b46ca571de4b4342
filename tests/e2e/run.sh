#!/usr/bin/env bash
# tests/e2e/run.sh - the workstation end-to-end tests under ctest (label e2e).
#
# Starts a real `capscreen serve` on a fresh data folder with three accounts
# (admin, reader, consultant) and the demo study (samples/demo/frames,
# packed and imported twice), waits until the server has analysed both, then
# runs tests/e2e/workstation.mjs on the first (it signs its report) and
# tests/e2e/polyp.mjs then tests/e2e/record.mjs (the clinical record) on the
# second, and tests/e2e/training.mjs (reader training) on a third
# (playwright-core driving Debian's Chromium); a fourth study is left
# half uploaded for the viewer's "still arriving" notice.
# Exit 77 (skipped) without Chromium, node, or the npm packages of
# tests/node. ctest passes CAPSCREEN, CS_SOURCE_DIR, CS_BUILD_DIR
# (tests/CMakeLists.txt); CS_SHOTS (optional) keeps the screenshots.
set -u
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../integration" && pwd)/lib.sh"
CS_TEST_NAME=e2e.workstation

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=${CS_SOURCE_DIR:-$(cd "$E2E_DIR/../.." && pwd)}
need_python
need_curl
need_browser

DATA=$T/data
mkdir -p "$DATA"

# Accounts: the password on stdin (at least 10 characters).
export CS_ADMIN_USER=e2e-admin CS_ADMIN_PASS=admin-pass-e2e-0001
export CS_READER_USER=e2e-reader CS_READER_PASS=reader-pass-e2e-0002
export CS_CONSULTANT_USER=e2e-consultant CS_CONSULTANT_PASS=consultant-pass-e2e-0003
export CS_TRAINER_USER=e2e-trainer CS_TRAINER_PASS=trainer-pass-e2e-0004
export CS_TRAINEE_USER=e2e-trainee CS_TRAINEE_PASS=trainee-pass-e2e-0005
add_user() {  # add_user NAME ROLE PASSWORD
    printf '%s\n' "$3" | "$CAPSCREEN" user add --data "$DATA" --name "$1" --role "$2" \
        >"$T/user.out" 2>"$T/user.err" || die "user add $1: $(cat "$T/user.err")"
}
add_user "$CS_ADMIN_USER" admin "$CS_ADMIN_PASS"
add_user "$CS_READER_USER" reader "$CS_READER_PASS"
add_user "$CS_CONSULTANT_USER" consultant "$CS_CONSULTANT_PASS"
add_user "$CS_TRAINER_USER" trainer "$CS_TRAINER_PASS"
add_user "$CS_TRAINEE_USER" trainee "$CS_TRAINEE_PASS"

# The demo study: 240 frames packed into a frame stream and imported.
FRAMES=$SRC_DIR/samples/demo/frames
NFRAMES=$(ls "$FRAMES"/*.jpg | wc -l)
"$CAPSCREEN" pack --fps 4 "$FRAMES" "$T/demo.csfs" >/dev/null 2>"$T/pack.err" ||
    die "pack: $(cat "$T/pack.err")"
"$CAPSCREEN" study import --data "$DATA" --label "Demo" "$T/demo.csfs" >"$T/import.out" 2>"$T/import.err" ||
    die "study import: $(cat "$T/import.err")"
CS_STUDY=$(tail -n 1 "$T/import.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])') ||
    die "study import printed no {\"study\": ID}: $(cat "$T/import.out")"
export CS_STUDY
# The same frames again for polyp.mjs, which needs a report nobody signed.
"$CAPSCREEN" study import --data "$DATA" --label "Demo (polyps)" "$T/demo.csfs" >"$T/import2.out" 2>"$T/import2.err" ||
    die "study import: $(cat "$T/import2.err")"
CS_POLYP_STUDY=$(tail -n 1 "$T/import2.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])') ||
    die "study import printed no {\"study\": ID}: $(cat "$T/import2.out")"
export CS_POLYP_STUDY CS_SOURCE_DIR=$SRC_DIR
# And a third for training.mjs: signed by the test, then a training case.
"$CAPSCREEN" study import --data "$DATA" --label "Demo (training)" "$T/demo.csfs" >"$T/import3.out" 2>"$T/import3.err" ||
    die "study import: $(cat "$T/import3.err")"
CS_TRAINING_STUDY=$(tail -n 1 "$T/import3.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])') ||
    die "study import printed no {\"study\": ID}: $(cat "$T/import3.out")"
export CS_TRAINING_STUDY

start_server "$DATA"
export CS_URL=$SRV_URL

# Wait (bounded) until the server has analysed every frame, asking with an
# admin session as the pages do.
JAR=$T/admin.jar
curl -s -c "$JAR" -o "$T/login.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"user\": \"$CS_ADMIN_USER\", \"password\": \"$CS_ADMIN_PASS\"}" \
    "$SRV_URL/api/v1/session" >"$T/login.code" || true
[ "$(cat "$T/login.code")" = 200 ] || die "admin login: HTTP $(cat "$T/login.code") $(cat "$T/login.json")"
analysed() {  # analysed STUDY
    curl -s -b "$JAR" -o "$T/study.json" "$SRV_URL/api/v1/studies/$1" || return 1
    python3 - "$T/study.json" "$NFRAMES" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d.get("progress", {}).get("frames_analysed") == int(sys.argv[2])
         and d.get("workflow_state") == "ready" else 1)
PY
}
for ((i = 0; i < 300 * 4; i++)); do
    analysed "$CS_STUDY" && analysed "$CS_POLYP_STUDY" && analysed "$CS_TRAINING_STUDY" && break
    kill -0 "$SRV_PID" 2>/dev/null || die "the server exited: $(tail -3 "$T/srv.err")"
    sleep 0.25
done
analysed "$CS_STUDY" && analysed "$CS_POLYP_STUDY" && analysed "$CS_TRAINING_STUDY" ||
    die "the demo studies were not analysed within 300 s: $(head -c 400 "$T/study.json" 2>/dev/null)"
echo "# server $SRV_URL, studies $CS_STUDY and $CS_POLYP_STUDY analysed ($NFRAMES frames each)"
# workstation.mjs signs the first study's report: that needs its patient
# (not record.mjs's, which it finds by NHS number).
http PUT "/api/v1/studies/$CS_STUDY/patient" -H "Authorization: Bearer $ADMIN_TOKEN" -d \
    '{"patient": {"nhs_number": "4857773457", "family": "Jones", "given": "Bea", "birth_date": "1958-07-01",
      "sex": "female"}, "episode": {"pathway": "screening", "indication": "fit_positive"}}'
[ "$CODE" = 200 ] || die "the demo study's patient: HTTP $CODE $(cat "$T/body")"
# training.mjs signs the training study's report too.
http PUT "/api/v1/studies/$CS_TRAINING_STUDY/patient" -H "Authorization: Bearer $ADMIN_TOKEN" -d \
    '{"patient": {"nhs_number": "4010232137", "family": "Jones", "given": "Bryn", "birth_date": "1958-11-02",
      "sex": "male"}, "episode": {"pathway": "screening", "indication": "fit_positive"}}'
[ "$CODE" = 200 ] || die "the training study's patient: HTTP $CODE $(cat "$T/body")"

# A fourth study, still arriving, for the viewer's notice (workstation.mjs):
# the first half of the demo stream uploaded and analysed, the upload left
# open; the test sends the rest while the viewer is open.
new_device '{"label": "Demo (arriving)"}'
CS_ARRIVING_STUDY=$STUDY CS_ARRIVING_TOKEN=$TOKEN
tus_create "$TOKEN" -H "Upload-Defer-Length: 1"
[ "$CODE" = 201 ] || die "the arriving study's upload: HTTP $CODE $(cat "$T/body")"
SIZE=$(stat -c %s "$T/demo.csfs")
HALF=$((SIZE / 2))
slice "$T/demo.csfs" 0 "$HALF" "$T/arriving1"
slice "$T/demo.csfs" "$HALF" $((SIZE - HALF)) "$T/arriving2"
http PATCH "$UPLOAD" "${TUS[@]}" -H "Authorization: Bearer $TOKEN" "${OCTET[@]}" -H "Upload-Offset: 0" \
    --data-binary @"$T/arriving1"
[ "$CODE" = 204 ] || die "the arriving study's first half: HTTP $CODE $(cat "$T/body")"
first_half_analysed() {
    http GET "/api/v1/studies/$CS_ARRIVING_STUDY" -H "Authorization: Bearer $ADMIN_TOKEN"
    python3 - "$T/body" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["progress"]
sys.exit(0 if 0 < p["frames_analysed"] == p["frames_received"] else 1)
PY
}
wait_until 120 "the arriving study's first half to be analysed" first_half_analysed
export CS_ARRIVING_STUDY CS_ARRIVING_TOKEN CS_ARRIVING_UPLOAD=$UPLOAD CS_ARRIVING_REST=$T/arriving2 \
    CS_ARRIVING_OFFSET=$HALF CS_ARRIVING_SIZE=$SIZE

if [ -n "${CS_SHOTS:-}" ]; then mkdir -p "$CS_SHOTS"; export CS_SHOTS; fi
RC=0
timeout 420 node "$E2E_DIR/workstation.mjs" || RC=$?
timeout 300 node "$E2E_DIR/polyp.mjs" || RC=$?
timeout 300 node "$E2E_DIR/record.mjs" || RC=$?
timeout 300 node "$E2E_DIR/training.mjs" || RC=$?
if [ "$RC" -ne 0 ]; then
    echo "--- server stderr (last 40 lines) ---" >&2
    tail -n 40 "$T/srv.err" >&2
    exit 1
fi
exit 0
