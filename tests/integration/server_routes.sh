#!/usr/bin/env bash
# server_routes.sh - the route table enforced, row by row (issue 14): the
# test reads the table from GET /api/v1/routes and walks every row, so a
# new route is covered the day it is added. No credentials -> 401 on every
# non-public row; each role (the training roles too) and a device token
# -> 403 exactly where the row does not admit them, and so does a patient
# code; a state-changing request with a session but no X-CSRF-Token ->
# 403 on every CSRF row; refusals on patient data are audited as
# access.denied; 405 carries Allow from the table and counts as
# bad_request. Then the transport: keep-alive on every method, %00 and
# bad bytes answered with a JSON error, the per-address connection limit
# and the header timeout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl

for u in admin:admin reader:reader cons:consultant coord:coordinator trainer:trainer trainee:trainee; do
    echo "pw-${u%%:*}-0123456789" | "$CAPSCREEN" user add --data "$T/data" --name "${u%%:*}" \
        --role "${u##*:}" >/dev/null 2>"$T/e" || die "user add ${u%%:*}: $(cat "$T/e")"
done
start_server "$T/data" --per-ip-connections 8 --header-timeout 2
new_device   # the device's own study (and its patient code); the walk uses another, which it may close
http POST /api/v1/studies -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"label":"walk"}'
[ "$CODE" = 201 ] || die "study create: $CODE $(cat "$T/body")"
WALK_STUDY=$(json_get "$T/body" 'd["study"]')

# A training study: a case imported with `study import --course`.
http POST /api/v1/training/courses -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"name": "walk"}'
[ "$CODE" = 201 ] || die "course create: $CODE $(cat "$T/body")"
COURSE=$(json_get "$T/body" 'd["id"]')
mkdir "$T/case"
cp "$(ls "$CS_SOURCE_DIR"/samples/demo/frames/*.jpg | head -n 1)" "$T/case/"
"$CAPSCREEN" pack "$T/case" "$T/case.csfs" >/dev/null 2>"$T/e" || die "pack: $(cat "$T/e")"
echo '{"findings": []}' >"$T/ref.json"
run_cs "$T/o" "$T/e" study import --data "$T/data" --course "$COURSE" --reference "$T/ref.json" "$T/case.csfs"
[ "$RC" -eq 0 ] || die "study import --course exited $RC: $(cat "$T/e")"
TRAINING_STUDY=$(tail -n 1 "$T/o" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])')

python3 "$(dirname "$0")/server_routes.py" "$SRV_URL" "$ADMIN_TOKEN" "$TOKEN" "$WALK_STUDY" "$PATIENT_CODE" "$TRAINING_STUDY" \
    >"$T/walk.out" 2>&1 || { cat "$T/walk.out"; fail "the route walk found rows not enforced"; }
grep '^ok' "$T/walk.out" | sed 's/^ok - /  /'
ok "route walk: every row of GET /api/v1/routes enforced (401, 403 per role and device, CSRF, access.denied; 409 on a training study)"

# Keep-alive: two requests of each method on one connection, one connect.
for m in GET HEAD OPTIONS POST; do
    case $m in
    GET) args=("$SRV_URL/healthz" "$SRV_URL/api/v1/vocabulary") ;;
    HEAD) args=(-I "$SRV_URL/healthz" "$SRV_URL/index.html") ;;
    OPTIONS) args=(-X OPTIONS -H "Tus-Resumable: 1.0.0" "$SRV_URL/uploads" "$SRV_URL/uploads") ;;
    POST) args=(-X POST -d '{}' "$SRV_URL/api/v1/devices/enrol" "$SRV_URL/api/v1/devices/enrol") ;;
    esac
    curl -sv -o /dev/null -o /dev/null "${args[@]}" 2>"$T/ka.err" || true
    n=$(grep -c '^\* Connected to' "$T/ka.err" || true)
    [ "$n" = 1 ] && grep -q 'Re-using existing connection' "$T/ka.err" ||
        fail "$m: two requests took $n connections: $(grep -i 'connection' "$T/ka.err" | head -5)"
done
ok "keep-alive: two GET, HEAD, OPTIONS and POST requests each reuse one connection"

# 405 with Allow from the table, counted as bad_request.
metric() { curl -s "$SRV_URL/metrics" | awk -v k="kind=\"$1\"}" 'index($0, k) {print $2}'; }
before=$(metric bad_request) internal=$(metric internal)
http DELETE /healthz
expect_code 405 "DELETE /healthz"
[ "$(header Allow)" = "GET, HEAD" ] || fail "405 Allow is '$(header Allow)', not 'GET, HEAD'"
after=$(metric bad_request)
[ "$after" = $((before + 1)) ] || fail "a 405 moved bad_request from $before to $after"
[ "$(metric internal)" = "$internal" ] || fail "a 405 counted as internal"
ok "405: Allow from the route table; counted as bad_request, not internal"

# %00 and bad bytes: a status line and a JSON error, never an empty reply.
http GET "/api/v1/studies/$STUDY%00x" -H "Authorization: Bearer $ADMIN_TOKEN"
expect_code 400 "%00 in a path"
[ "$(json_get "$T/body" 'd["error"]')" = bad_path ] || fail "%00: not bad_path"
python3 "$(dirname "$0")/server_raw_bytes.py" "$SRV_URL" "$ADMIN_TOKEN" || fail "raw bytes"
ok "%00 in a path -> 400 bad_path; binary bytes in path, header and JSON -> JSON errors"
# The per-address limit and the header timeout (the flags above).
python3 "$(dirname "$0")/server_conn_limits.py" "$SRV_URL" 8 2 "$ADMIN_TOKEN" "$STUDY" ||
    fail "connection limits"
ok "per_ip_connections and header_timeout enforced; an event stream whose client left ends at once"
cs_finish
