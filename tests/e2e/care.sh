#!/usr/bin/env bash
# tests/e2e/care.sh - the live care loop in a real browser (ctest e2e.care,
# docs/care.md): a real server under a protocol with second-scale timings,
# a study made with the admin API (its patient code), a device enrolled and
# frames uploaded over tus, then tests/e2e/care.mjs drives the monitor (a
# coordinator) and the patient's companion page side by side in Debian's
# Chromium. Exit 77 (skipped) without Chromium, node or the npm packages.
set -u
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../integration" && pwd)/lib.sh"
CS_TEST_NAME=e2e.care

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=${CS_SOURCE_DIR:-$(cd "$E2E_DIR/../.." && pwd)}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM
[ -x "$CHROMIUM" ] || skip "Chromium not found at $CHROMIUM (apt-get install chromium, or set CHROMIUM)"
need_python
need_curl
need_node_modules "playwright-core and axe-core"
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] ||
    skip "node $(node --version) is older than playwright-core's minimum (20)"

export CS_COORD_USER=e2e-coord CS_COORD_PASS=coord-pass-e2e-0004
printf '%s\n' "$CS_COORD_PASS" | "$CAPSCREEN" user add --data "$T/data" --name "$CS_COORD_USER" \
    --role coordinator >/dev/null 2>"$T/e" || die "user add: $(cat "$T/e")"
cat >"$T/protocol.json" <<'JSON'
{"protocol_version": 1, "name": "e2e protocol",
 "no_frames_alert_s": 3, "hub_offline_alert_s": 600, "spool_full_pct": 90,
 "gastric_retention_alert_s": 600, "bleeding_live": false,
 "boosters": [{"id": "booster_1", "after": "small_bowel_entry", "delay_s": 0,
               "instruction": "Drink your first booster now."}],
 "prep": [{"id": "low_fibre_day", "day": "day_before", "time": "08:00", "text": "Eat only low-fibre food today."},
          {"id": "swallow", "day": "day_of", "time": "08:00", "text": "Swallow the capsule with water."}]}
JSON
start_server "$T/data" --protocol "$T/protocol.json"
export CS_URL=$SRV_URL CS_ADMIN_TOKEN=$ADMIN_TOKEN

http POST /api/v1/studies -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"label":"Bed 7 (e2e)"}'
[ "$CODE" = 201 ] || die "study create: $CODE $(cat "$T/body")"
export CS_STUDY=$(json_get "$T/body" 'd["study"]') CS_PATIENT_CODE=$(json_get "$T/body" 'd["patient_code"]')
ENROL=$(json_get "$T/body" 'd["enrolment_code"]')
http POST /api/v1/devices/enrol -d "{\"code\": \"$ENROL\"}"
[ "$CODE" = 200 ] || die "enrol: $CODE $(cat "$T/body")"
export CS_DEVICE_TOKEN=$(json_get "$T/body" 'd["token"]')
# A second study: its code must not open the first one's page.
http POST /api/v1/studies -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"label":"other"}'
export CS_OTHER_STUDY=$(json_get "$T/body" 'd["study"]') CS_OTHER_CODE=$(json_get "$T/body" 'd["patient_code"]')

mkdir -p "$T/frames"
for n in 0001 0002 0003 0004 0005 0006; do ln -s "$SRC_DIR/samples/demo/frames/demo-$n.jpg" "$T/frames/"; done
"$CAPSCREEN" pack --fps 4 "$T/frames" "$T/s.csfs" >/dev/null 2>"$T/pack.err" || die "pack: $(cat "$T/pack.err")"
tus_create "$CS_DEVICE_TOKEN" -H "Upload-Length: $(stat -c %s "$T/s.csfs")"
[ "$CODE" = 201 ] || die "tus create: $CODE"
http PATCH "$UPLOAD" "${TUS[@]}" "${OCTET[@]}" -H "Authorization: Bearer $CS_DEVICE_TOKEN" \
    -H "Upload-Offset: 0" --data-binary @"$T/s.csfs"
[ "$CODE" = 204 ] || die "patch: $CODE $(cat "$T/body")"

if [ -n "${CS_SHOTS:-}" ]; then mkdir -p "$CS_SHOTS"; export CS_SHOTS; fi
RC=0
timeout 300 node "$E2E_DIR/care.mjs" || RC=$?
if [ "$RC" -ne 0 ]; then
    echo "--- server stderr (last 30 lines) ---" >&2
    tail -n 30 "$T/srv.err" >&2
    exit 1
fi
exit 0
