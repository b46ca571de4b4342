#!/usr/bin/env bash
# server_access.sh - access faults (issue 14) against a real server, driven
# by server_access.py: login limits per (user, address) with a growing
# delay (an attacker cannot lock another address out), refused attempts
# audited per burst (also across a shutdown), event streams that end with
# their session (logout, user disabled, new password, expiry), the last admin kept, and the audit log's filters and
# paging over HTTP; a flood of logins that cannot exhaust the memory; the
# client's address behind a trusted reverse proxy.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl

for u in admin:admin alice:reader bob:reader carol:reader; do
    echo "pw-${u%%:*}-0123456789" | "$CAPSCREEN" user add --data "$T/data" --name "${u%%:*}" \
        --role "${u##*:}" >/dev/null 2>"$T/e" || die "user add ${u%%:*}: $(cat "$T/e")"
done
# A small analysed study (three demo frames) for the findings checks.
mkdir "$T/three"
for f in $(ls "$CS_SOURCE_DIR/samples/demo/frames" | head -3); do
    ln -s "$CS_SOURCE_DIR/samples/demo/frames/$f" "$T/three/$f"
done
"$CAPSCREEN" pack --fps 4 "$T/three" "$T/three.csfs" >/dev/null 2>"$T/e" || die "pack: $(cat "$T/e")"
"$CAPSCREEN" study import --data "$T/data" --label three "$T/three.csfs" >"$T/o" 2>"$T/e" ||
    die "study import: $(cat "$T/e")"
THREE=$(tail -n 1 "$T/o" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])')
start_server "$T/data"
http POST /api/v1/studies -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"label":"access"}'
[ "$CODE" = 201 ] || die "study create: $CODE $(cat "$T/body")"
STUDY=$(json_get "$T/body" 'd["study"]')

# run PHASE: the Python checks; their "ok" lines are shown, a failure fails.
run() {
    python3 "$(dirname "$0")/server_access.py" "$SRV_URL" "$ADMIN_TOKEN" "$STUDY" "$@" \
        >"$T/py.out" 2>&1 || { cat "$T/py.out"; fail "server_access.py $1"; }
    grep '^ok' "$T/py.out" | sed 's/^ok - /  /'
}
run main
ok "login limits, event streams, last admin, audit over HTTP"
run history-audit "$THREE"
ok "reading a finding's history is audited like the findings list"
run hash-memory "$SRV_PID"
ok "a flood of logins waits for its turn: the password hashes' memory stays bounded"
# Behind a reverse proxy (docs/deploy.md, "HAProxy"): 127.0.0.9 plays it.
stop_server
start_server "$T/data" --trusted-proxies 127.0.0.9
run proxy
ok "behind a trusted proxy, limits and the audit log see the client's address"
run limited-before-stop
stop_server
start_server "$T/data"
run limited-after-restart
ok "a burst of refused logins still open at shutdown is audited"
# Session expiry (the shortest idle timeout allowed, 60 s) ends a stream.
stop_server
CAPSCREEN_SESSION_IDLE=60 start_server "$T/data"
run expiry
ok "an event stream ends when its session expires"
cs_finish
