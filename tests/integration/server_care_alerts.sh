#!/usr/bin/env bash
# server_care_alerts.sh - alerts the care loop used to miss (docs/care.md,
# "Alerts"), on a real server, device and uplink:
#   - frames the hub uploads after excretion was marked (its backlog) that
#     are flagged for bleeding raise `bleeding`: the rules used to stop
#     every alert but `excreted` once the capsule was out;
#   - a hub whose recorder reports "recording" while no byte ever arrives
#     raises `no_frames` (key "none"); one whose recorder goes to "error"
#     before any byte raises `recording_ended_incomplete`: both studies were
#     on the monitor with no alert at all;
#   - a study that is not live (a patient's call before the hub started, a
#     study closed with an alert still open) is on the monitor until its
#     alerts are acknowledged: it used to be on no screen;
#   - small-bowel entry marked again (another frame) keeps the booster's
#     time: each re-mark used to put the patient's booster off; a second
#     click without a frame leaves the landmark's frame (it moved it to the
#     latest frame); after signing such a click is 409 like any change;
#   - a recorder message with a line break (written by the recorder into
#     the uplink's health file) reaches the server with the report: the
#     server refused such reports whole (400) and the uplink retried them
#     every second, so a stopped recorder was never heard of.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl
need_uplink
DEMO=$CS_SOURCE_DIR/samples/demo/frames

cat >"$T/protocol.json" <<'JSON'
{"protocol_version": 1, "name": "care alerts test", "no_frames_alert_s": 2,
 "hub_offline_alert_s": 600, "spool_full_pct": 90, "gastric_retention_alert_s": 600,
 "end_of_recording_incomplete": true, "bleeding_live": true,
 "boosters": [{"id": "booster_1", "after": "small_bowel_entry", "delay_s": 3600,
               "instruction": "Drink booster one."}]}
JSON
echo "pw-coord-0123456789" | "$CAPSCREEN" user add --data "$T/data" --name coord \
    --role coordinator >/dev/null 2>"$T/e" || die "user add: $(cat "$T/e")"
start_server "$T/data" --protocol "$T/protocol.json"
http POST /api/v1/session -c "$T/coord.jar" -d '{"user": "coord", "password": "pw-coord-0123456789"}'
[ "$CODE" = 200 ] || die "login: $CODE $(cat "$T/body")"
CSRF=$(json_get "$T/body" 'd["csrf_token"]')
admin() { local m=$1 p=$2; shift 2; http "$m" "$p" -H "Authorization: Bearer $ADMIN_TOKEN" "$@"; }
# alert_kinds STUDY: the study's alert kinds (and keys), one per line
alert_kinds() {
    admin GET "/api/v1/studies/$1/alerts"
    json_get "$T/body" '"\n".join(a["kind"] for a in d["alerts"])'
}
has_alert() { alert_kinds "$1" | grep -x "$2" >/dev/null; }
status() { # status SPOOL RECORDER: a hub report as $TOKEN
    http POST /api/v1/devices/status -H "Authorization: Bearer $TOKEN" \
        -d "{\"battery_pct\": 80, \"signal_dbm\": -70, \"spool_used_pct\": $1, \"recorder\": \"$2\"}"
    expect_code 204 "hub report ($2)"
}

# 1. Bleeding in the backlog after excretion. Demo frames 0091-0093 are
# flagged for bleeding (server_care.py); 0001-0004 are not.
new_device
mkdir -p "$T/b"
for n in 0001 0002 0003 0004 0091 0092 0093; do ln -s "$DEMO/demo-$n.jpg" "$T/b/"; done
"$CAPSCREEN" pack --fps 4 "$T/b" "$T/b.csfs" >/dev/null
tus_create "$TOKEN" -H "Upload-Defer-Length: 1"
expect_code 201 "upload create"
patch_records "$T/b.csfs" 0 3
wait_analysed "$STUDY" 4
http POST "/api/v1/studies/$STUDY/stage" -b "$T/coord.jar" -H "X-CSRF-Token: $CSRF" \
    -d '{"stage": "excreted"}'
expect_code 200 "excreted marked"
wait_until 30 "the excreted alert" has_alert "$STUDY" excreted
has_alert "$STUDY" bleeding && die "bleeding raised before any bleeding frame arrived"
patch_records "$T/b.csfs" 4 6
wait_analysed "$STUDY" 7
admin GET "/api/v1/studies/$STUDY"
[ "$(json_get "$T/body" 'd["counts"]["bleeding"]')" -ge 1 ] ||
    die "the backlog's bleeding frames were not flagged: $(head -c 300 "$T/body")"
wait_until 30 "a bleeding alert for the backlog" has_alert "$STUDY" bleeding
ok "bleeding frames uploaded after excretion raise a bleeding alert"

# 2. Recording, and no byte ever arrives; a recorder in error before any byte.
new_device
A=$STUDY ATOK=$TOKEN
status 5 recording
new_device
B=$STUDY
status 5 recording
status 5 error
wait_until 30 "recording_ended_incomplete for the recorder in error" \
    has_alert "$B" recording_ended_incomplete
wait_until 30 "no_frames for a hub recording with no frames" has_alert "$A" no_frames
admin GET "/api/v1/studies/$A/alerts"
[ "$(json_get "$T/body" '[a["message"] for a in d["alerts"] if a["kind"] == "no_frames"][0]')" != "" ] ||
    die "no_frames without a message"
TOKEN=$ATOK
status 5 recording # reported again: still one alert, not one per report
[ "$(alert_kinds "$A" | grep -cx no_frames)" = 1 ] || die "no_frames raised twice: $(alert_kinds "$A")"
ok "a recorder recording with no frames raises no_frames; an error before any frame raises recording_ended_incomplete"

# 3. Studies that are not live stay on the monitor while they have an open
# alert: a patient's call before the hub started, alerts left open at close.
coord() { local m=$1 p=$2; shift 2; http "$m" "$p" -b "$T/coord.jar" -H "X-CSRF-Token: $CSRF" "$@"; }
# tile STUDY EXPR: EXPR of the study's monitor tile (t), "absent" without one
tile() {
    admin GET /api/v1/monitor
    expect_code 200 "monitor"
    json_get "$T/body" "(lambda t: ($2) if t else 'absent')(next((s for s in d['studies'] if s['study'] == '$1'), None))"
}
http POST /api/v1/studies -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"label": "prep day"}'
expect_code 201 "study create"
C=$(json_get "$T/body" 'd["study"]')
C_PATIENT=$(json_get "$T/body" 'd["patient_code"]')
[ "$(tile "$C" 't')" = absent ] || die "a study with no hub and no alert is on the monitor"
http POST /api/v1/patient/call -H "Authorization: Bearer $C_PATIENT" -d '{}'
expect_code 200 "the patient's call before the hub started"
[ "$(tile "$C" '[t["live"], t["closed"], [a["kind"] for a in t["open_alerts"]]]')" = \
    "[False, False, ['call_requested']]" ] || die "the call is on no monitor tile: $(tile "$C" 't')"
CALL=$(tile "$C" 't["open_alerts"][0]["id"]')
coord POST "/api/v1/studies/$C/alerts/$CALL/ack" -d '{}'
expect_code 200 "ack of the call"
[ "$(tile "$C" 't')" = absent ] || die "an acknowledged call keeps a study that is not live on the monitor"
ok "a call before the hub started is on the monitor until acknowledged"
coord POST "/api/v1/studies/$B/close" -d '{}'
expect_code 200 "close of a study with an open alert"
[ "$(tile "$B" '[t["live"], t["closed"]]')" = "[False, True]" ] ||
    die "a study closed with an open alert left the monitor: $(tile "$B" 't')"
for id in $(tile "$B" '" ".join(str(a["id"]) for a in t["open_alerts"])'); do
    coord POST "/api/v1/studies/$B/alerts/$id/ack" -d '{}'
    expect_code 200 "ack on a closed study"
done
[ "$(tile "$B" 't')" = absent ] || die "a closed study with every alert acknowledged is still on the monitor"
ok "a study closed with open alerts stays on the monitor until they are acknowledged"

# 4. Small-bowel entry marked again (a second click, a reader's correction
# of the frame) keeps the time it was first marked: the boosters count
# from it, and every re-mark used to put them off by as long.
new_device
mkdir -p "$T/f5"
for n in 0001 0002 0003; do ln -s "$DEMO/demo-$n.jpg" "$T/f5/"; done
"$CAPSCREEN" pack --fps 4 "$T/f5" "$T/f5.csfs" >/dev/null
tus_create "$TOKEN" -H "Upload-Length: $(stat -c %s "$T/f5.csfs")" "${OCTET[@]}" --data-binary @"$T/f5.csfs"
expect_code 201 "upload"
wait_analysed "$STUDY" 3
booster_due_at() {
    http GET /api/v1/patient -H "Authorization: Bearer $PATIENT_CODE"
    expect_code 200 "the patient's page"
    json_get "$T/body" '[b["due_at_ms"] for b in d["boosters"] if b["id"] == "booster_1"][0]'
}
coord POST "/api/v1/studies/$STUDY/stage" -d '{"stage": "small_bowel", "seq": 0}'
expect_code 200 "small bowel marked"
DUE=$(booster_due_at)
[ "$DUE" != None ] || die "no booster time after small-bowel entry was marked"
later_than() { [ "$(date +%s%3N)" -gt $(($1 + 1100)) ]; }
MARKED=$(date +%s%3N)
wait_until 5 "a second to pass" later_than "$MARKED"
coord POST "/api/v1/studies/$STUDY/stage" -d '{"stage": "small_bowel", "seq": 2}'
expect_code 200 "small bowel marked again, at another frame"
[ "$(booster_due_at)" = "$DUE" ] ||
    die "re-marking small-bowel entry moved the booster from $DUE to $(booster_due_at)"
# A click without a frame on a stage already marked leaves the landmark
# where it is (a reader's exact frame), rather than moving it to the latest.
coord POST "/api/v1/studies/$STUDY/stage" -d '{"stage": "small_bowel"}'
expect_code 200 "small bowel clicked again, no frame"
[ "$(json_get "$T/body" '[d["seq"], d.get("unchanged")]')" = "[2, True]" ] ||
    die "a second click moved the landmark: $(cat "$T/body")"
ok "re-marking small-bowel entry keeps the booster's time; a second click keeps the frame"

# 5. A recorder message with a line break, through the real uplink.
http POST /api/v1/studies -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"label": "uplink"}'
expect_code 201 "study create"
STUDY=$(json_get "$T/body" 'd["study"]')
ENROL=$(json_get "$T/body" 'd["enrolment_code"]')
"$UPLINK" enrol --server "$SRV_URL" --code "$ENROL" --state "$T/hub" >/dev/null 2>"$T/e" ||
    die "enrol: $(cat "$T/e")"
mkdir -p "$T/spool"
printf '{"battery_pct": 74, "signal_dbm": -83, "recorder": "recording", "spool_used_pct": 35}' \
    >"$T/h.tmp"
mv "$T/h.tmp" "$T/health.json"
"$UPLINK" run --state "$T/hub" --spool "$T/spool" --health-file "$T/health.json" \
    --health-interval-ms 1000 --chunk-ms 200 --backoff-min-ms 100 --backoff-max-ms 1000 \
    >>"$T/uplink.log" 2>&1 &
UPLINK_PID=$!
trap 'kill -KILL $UPLINK_PID 2>/dev/null || true; cs_server_cleanup' EXIT
for n in 0001 0002 0003; do
    cp "$DEMO/demo-$n.jpg" "$T/spool/.f$n.jpg"
    mv "$T/spool/.f$n.jpg" "$T/spool/frame_$n.jpg"
done
wait_analysed "$STUDY" 3
hub_recorder() {
    admin GET "/api/v1/studies/$STUDY/care"
    [ "$(json_get "$T/body" 'd["hub"]["recorder"]')" = "$1" ]
}
wait_until 30 "the hub's first report" hub_recorder recording
printf '%s' '{"battery_pct": 74, "signal_dbm": -83, "recorder": "stopped", "spool_used_pct": 35,
 "message": "belt sensor 2 weak\ncheck\tthe belt"}' >"$T/h.tmp"
mv "$T/h.tmp" "$T/health.json"
wait_until 30 "the stopped recorder's report (uplink log: $(tail -c 300 "$T/uplink.log"))" \
    hub_recorder stopped
[ "$(json_get "$T/body" 'd["hub"]["message"]')" = "belt sensor 2 weak check the belt" ] ||
    die "message stored as: $(json_get "$T/body" 'repr(d["hub"]["message"])')"
wait_until 30 "recording_ended_incomplete" has_alert "$STUDY" recording_ended_incomplete
# The server takes such a message from any client, shown with spaces. The
# uplink is stopped first: its reports (every second) would replace this one.
kill -KILL "$UPLINK_PID" 2>/dev/null || true
wait "$UPLINK_PID" 2>/dev/null || true
http POST /api/v1/devices/status -H "Authorization: Bearer $(sed -n 's/^token //p' "$T/hub/device")" \
    -d '{"battery_pct": 70, "signal_dbm": -83, "spool_used_pct": 35, "recorder": "stopped",
 "message": "line one\nline two"}'
expect_code 204 "a report whose message has a line break"
admin GET "/api/v1/studies/$STUDY/care"
[ "$(json_get "$T/body" 'd["hub"]["message"]')" = "line one line two" ] ||
    die "a message posted with a line break stored as: $(json_get "$T/body" 'repr(d["hub"]["message"])')"
http POST /api/v1/devices/status -H "Authorization: Bearer $(sed -n 's/^token //p' "$T/hub/device")" \
    -d "{\"battery_pct\": 70, \"signal_dbm\": -83, \"spool_used_pct\": 35, \"recorder\": \"stopped\",
 \"message\": \"$(head -c 256 /dev/zero | tr '\0' x)\"}"
expect_code 400 "a message over 255 bytes"
ok "a recorder message with a line break reaches the server through the uplink"
cs_finish
