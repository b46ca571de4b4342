#!/usr/bin/env bash
# server_care.sh - the live care loop on a real server (issue 8, docs/care.md)
# under a protocol file with short timings, with the real capscreen-uplink
# as the hub: it enrols, sends the frames dropped in its spool and reports
# the health the "recorder" writes to its --health-file. Checked: health
# reports (bad values refused with a reason, unknown fields ignored, only a
# device token may report), alerts raised by the rules (no_frames, hub_offline,
# gastric_retention, spool_full once per crossing, booster_due from the
# marked stage, bleeding, recording_ended_incomplete, excreted), listed and
# acknowledged (audited; twice is 409), delivered to a webhook receiver
# started here that checks each HMAC signature (its first answer per alert
# is a 500, so every alert is retried; an alert it is slow to answer holds
# no other back), and a restart that loses no alert
# and raises none twice; "please call me" pressed again after staff
# acknowledged the first request raises a new one; a hub whose spool or
# recorder flaps raises one alert of a kind while it is open, not one per
# report; a monitor of 81 live studies, larger than one of libmicrohttpd's
# buffers, reaches its event stream whole. Frames: samples/demo (clean and
# bleeding ones).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl
need_uplink
DEMO=$CS_SOURCE_DIR/samples/demo/frames

cat >"$T/protocol.json" <<'JSON'
{"protocol_version": 1, "name": "short test protocol",
 "no_frames_alert_s": 3, "hub_offline_alert_s": 4, "spool_full_pct": 90,
 "gastric_retention_alert_s": 5, "end_of_recording_incomplete": true, "bleeding_live": true,
 "boosters": [
   {"id": "booster_1", "after": "small_bowel_entry", "delay_s": 0, "instruction": "Drink booster one."},
   {"id": "booster_2", "after": "small_bowel_entry", "delay_s": 2, "instruction": "Drink booster two."}],
 "prep": [{"id": "swallow", "day": "day_of", "time": "08:00", "text": "Swallow the capsule."}]}
JSON
SECRET=test-webhook-key-0123456789abcdef
printf '%s\n' "$SECRET" >"$T/webhook.key"
chmod 600 "$T/webhook.key"

# A bad protocol stops `serve` with the key at fault.
sed 's/"no_frames_alert_s"/"no_frame_alert_s"/' "$T/protocol.json" >"$T/typo.json"
if "$CAPSCREEN" serve --listen 127.0.0.1:0 --data "$T/bad" --protocol "$T/typo.json" \
    >"$T/bad.out" 2>"$T/bad.err"; then
    fail "serve started with a misspelt protocol key"
fi
grep -q 'unknown key "no_frame_alert_s"' "$T/bad.err" || fail "no reason for the bad protocol: $(cat "$T/bad.err")"
if "$CAPSCREEN" serve --listen 127.0.0.1:0 --data "$T/bad" --webhook-url http://127.0.0.1:9/ \
    >"$T/bad.out" 2>"$T/bad.err"; then
    fail "serve started with a webhook but no key"
fi
grep -q 'webhook_secret_file' "$T/bad.err" || fail "no reason for the missing webhook key: $(cat "$T/bad.err")"
ok "a bad protocol or webhook setting stops serve with the reason"

# The webhook receiver (server_care.py receiver): port in $T/hook.port.
python3 "$(dirname "$0")/server_care.py" receiver "$T/hook.port" "$T/hook.log" "$SECRET" \
    2>"$T/hook.err" &
HOOK_PID=$!
UPLINK_PID=
trap 'kill $HOOK_PID 2>/dev/null || true; [ -z "$UPLINK_PID" ] || kill -KILL "$UPLINK_PID" 2>/dev/null || true; cs_server_cleanup' EXIT
for i in $(seq 1 200); do [ -s "$T/hook.port" ] && break; sleep 0.05; done
[ -s "$T/hook.port" ] || die "the webhook receiver did not start: $(cat "$T/hook.err")"
HOOK=http://127.0.0.1:$(cat "$T/hook.port")/alerts

for u in coord:coordinator reader:reader; do
    echo "pw-${u%%:*}-0123456789" | "$CAPSCREEN" user add --data "$T/data" --name "${u%%:*}" \
        --role "${u##*:}" >/dev/null 2>"$T/e" || die "user add ${u%%:*}: $(cat "$T/e")"
done
SERVE_ARGS=(--protocol "$T/protocol.json" --webhook-url "$HOOK" --webhook-secret-file "$T/webhook.key")
# A study imported from a file (no hub): never live, never alerted.
mkdir -p "$T/imp"
for n in 0001 0002 0091; do ln -s "$DEMO/demo-$n.jpg" "$T/imp/"; done
"$CAPSCREEN" pack --fps 4 "$T/imp" "$T/imp.csfs" >/dev/null 2>"$T/e" || die "pack: $(cat "$T/e")"
"$CAPSCREEN" study import --data "$T/data" --label imported "$T/imp.csfs" >"$T/imp.out" 2>"$T/e" ||
    die "study import: $(cat "$T/e")"
export CS_IMPORTED=$(tail -n 1 "$T/imp.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])')
start_server "$T/data" "${SERVE_ARGS[@]}"
SRV_PORT=${SRV_URL##*:}
http POST /api/v1/studies -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"label":"care"}'
[ "$CODE" = 201 ] || die "study create: $CODE $(cat "$T/body")"
STUDY=$(json_get "$T/body" 'd["study"]')
ENROL=$(json_get "$T/body" 'd["enrolment_code"]')
export CS_PATIENT_CODE=$(json_get "$T/body" 'd["patient_code"]')
got=$("$UPLINK" enrol --server "$SRV_URL" --code "$ENROL" --state "$T/hub" 2>"$T/e") ||
    die "uplink enrol: $(cat "$T/e")"
[ "$got" = "$STUDY" ] || die "enrol printed '$got', not $STUDY"
TOKEN=$(sed -n 's/^token //p' "$T/hub/device")
# The hub: the real uplink, its spool, and the recorder's health file.
mkdir -p "$T/spool"
"$UPLINK" run --state "$T/hub" --spool "$T/spool" --status-file "$T/hub-status.json" \
    --health-file "$T/health.json" --health-interval-ms 1000 --chunk-ms 200 \
    --backoff-min-ms 100 --backoff-max-ms 1000 >>"$T/uplink.log" 2>&1 &
UPLINK_PID=$!
export CS_HEALTH_FILE=$T/health.json CS_SPOOL=$T/spool CS_DEMO=$DEMO

py() {
    python3 "$(dirname "$0")/server_care.py" "$1" "$SRV_URL" "$ADMIN_TOKEN" "$STUDY" "$TOKEN" \
        "$T" >"$T/py.out" 2>&1 || { cat "$T/py.out"; fail "server_care.py $1"; }
    sed -n "s/^ok - /  /p" "$T/py.out"
}
py status-input
ok "hub status: bad values get 400 with a reason, unknown fields are ignored, only devices report"

# The recorder's frames (clean and bleeding ones) into the spool.
for n in 0001 0002 0003 0004 0091 0092 0093; do
    cp "$DEMO/demo-$n.jpg" "$T/spool/.f$n.jpg" && mv "$T/spool/.f$n.jpg" "$T/spool/frame_$n.jpg"
done

py rules
ok "the rules raise each alert once; stage, boosters, ack and the care view work"
py report-prep
ok "the patient's ticks reach the care view and, as saved, the printed report"
py before-restart
stop_server
start_server "$T/data" --listen "127.0.0.1:$SRV_PORT" "${SERVE_ARGS[@]}"
py after-restart
ok "a restart loses no alert and raises none twice"
py webhook
ok "the webhook got every alert exactly once, signed, after a refused first try"
py webhook-stall
ok "a webhook receiver slow on one alert holds no other back"
py patient-call
ok "\"please call me\" after an acknowledgement raises a new request"
py status-flood
ok "a flapping hub raises one alert of a kind while it is open"
py monitor-large
ok "a monitor larger than one buffer reaches its event stream whole"
cs_finish
