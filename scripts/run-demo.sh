#!/usr/bin/env bash
# The README's run command: install what is missing, build, and start the
# server (capscreen serve: SQLite, files under demo-output/data) with the
# demo study (samples/demo, 245 frames) loaded, then print the
# workstation's URL and freshly generated credentials for a first admin, a
# reader and a consultant. The study is packed into a frame stream, as a
# home hub sends it, imported, and analysed by the server as it starts.
# Each run starts from an empty data folder. Stop with Ctrl-C.
#
# CAPSCREEN_LISTEN (default 127.0.0.1:8080) sets the address.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" >/dev/null
cs="$root/build/capscreen"
out="$root/demo-output"
data="$out/data"
listen=${CAPSCREEN_LISTEN:-127.0.0.1:8080}
rm -rf "$data"
mkdir -p "$out"
umask 077

"$cs" pack --fps 4 --start-us 1764064800000000 "$root/samples/demo/frames" "$out/demo.csfs" >/dev/null
study=$("$cs" study import --data "$data" --label "Demo study (WCEBleedGen frames)" "$out/demo.csfs" |
        tail -n 1 | sed 's/.*"study": "\([^"]*\)".*/\1/')

# Generated, never fixed: 18 random bytes each, kept in demo-output/credentials.txt (mode 600).
new_password() { head -c 18 /dev/urandom | base64 | tr '+/' '-_'; }
: >"$out/credentials.txt"
for who in admin:admin reader:reader consultant:consultant; do
  name=${who%%:*} role=${who##*:} pw=$(new_password)
  printf '%s\n' "$pw" | "$cs" user add --data "$data" --name "$name" --role "$role" >/dev/null
  printf '%-11s %-11s %s\n' "$role" "$name" "$pw" >>"$out/credentials.txt"
done

"$cs" serve --listen "$listen" --data "$data" >"$out/serve.out" 2>"$out/serve.err" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' INT TERM
for _ in $(seq 1 200); do
  grep -q listening "$out/serve.out" 2>/dev/null && break
  kill -0 $pid 2>/dev/null || { echo "capscreen serve did not start:" >&2; cat "$out/serve.err" >&2; exit 1; }
  sleep 0.05
done
bound=$(sed 's/.*"listening": "\([^"]*\)".*/\1/' "$out/serve.out")

# The demo study's patient (synthetic: the NHS test number), so that its
# report can be signed (docs/clinical-record.md), set as the admin.
admin_pw=$(awk '$1 == "admin" {print $3}' "$out/credentials.txt")
jar="$out/.admin.jar"
csrf=$(curl -s -c "$jar" -H 'Content-Type: application/json' \
         -d "{\"user\": \"admin\", \"password\": \"$admin_pw\"}" "http://$bound/api/v1/session" |
       sed -n 's/.*"csrf_token": *"\([^"]*\)".*/\1/p')
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" -H "X-CSRF-Token: $csrf" \
         -H 'Content-Type: application/json' -X PUT "http://$bound/api/v1/studies/$study/patient" \
         -d '{"patient": {"nhs_number": "9434765919", "family": "Demo", "given": "Pat",
              "birth_date": "1960-01-01", "sex": "unknown"},
              "episode": {"pathway": "screening", "indication": "fit_positive"}}')
rm -f "$jar"
[ "$code" = 200 ] || echo "note: the demo study's patient was not set (HTTP $code); its report cannot be signed" >&2
cat <<MSG

capscreen is running: http://$bound/
demo study $study (240 frames) is being analysed now; it shows as "ready" in the worklist.

log in with (also in $out/credentials.txt):
  role        user        password
$(sed 's/^/  /' "$out/credentials.txt")

server log: $out/serve.err · stop with Ctrl-C
MSG
wait $pid
