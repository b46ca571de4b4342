#!/usr/bin/env bash
# tests/e2e/polyp_settings.sh - a study flagged at two polyp detector
# settings, made for real, shown as a warning in a real browser (ctest
# e2e.polyp_settings, docs/workstation.md "Polyps and boxes"). One live
# study arrives over tus with its upload cut between records twice; the
# server is restarted between the cuts, with `--polyp-threshold 0.5` for
# the middle part (frames 0-1 at the weights' own threshold, 2-3 at 0.5,
# 4-5 at the weights' own again). Then tests/e2e/polyp_settings.mjs checks
# that the reader's viewer and the consultant's report page both warn, and
# that the warning's details name each setting with its frames. Exit 77
# (skipped) without Chromium, node or the npm packages.
set -u
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../integration" && pwd)/lib.sh"
CS_TEST_NAME=e2e.polyp_settings

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=${CS_SOURCE_DIR:-$(cd "$E2E_DIR/../.." && pwd)}
need_python
need_curl
need_browser

DATA=$T/data
export CS_READER_USER=e2e-reader CS_READER_PASS=reader-pass-e2e-0002
export CS_CONSULTANT_USER=e2e-consultant CS_CONSULTANT_PASS=consultant-pass-e2e-0003
printf '%s\n' "$CS_READER_PASS" | "$CAPSCREEN" user add --data "$DATA" --name "$CS_READER_USER" \
    --role reader >/dev/null 2>"$T/e" || die "user add: $(cat "$T/e")"
printf '%s\n' "$CS_CONSULTANT_PASS" | "$CAPSCREEN" user add --data "$DATA" --name "$CS_CONSULTANT_USER" \
    --role consultant >/dev/null 2>"$T/e" || die "user add: $(cat "$T/e")"

# Six frames of samples/demo: a clean frame twice, a pasted-polyp frame
# twice, the clean frame twice (samples/README.md).
DEMO=$SRC_DIR/samples/demo/frames
mkdir -p "$T/frames"
for n in 1 2 5 6; do ln -s "$DEMO/demo-0031.jpg" "$T/frames/f0$n.jpg"; done
for n in 3 4; do ln -s "$DEMO/demo-0032p2.jpg" "$T/frames/f0$n.jpg"; done
"$CAPSCREEN" pack --fps 4 "$T/frames" "$T/s.csfs" >/dev/null 2>"$T/pack.err" || die "pack: $(cat "$T/pack.err")"

start_server "$DATA"
new_device
tus_create "$TOKEN" -H "Upload-Defer-Length: 1"
[ "$CODE" = 201 ] || die "create a deferred upload: HTTP $CODE $(cat "$T/body")"
patch_records "$T/s.csfs" 0 1
wait_analysed "$STUDY" 2
stop_server
start_server "$DATA" --polyp-threshold 0.5
patch_records "$T/s.csfs" 2 3
wait_analysed "$STUDY" 4
stop_server
start_server "$DATA"
patch_records "$T/s.csfs" 4 5
wait_analysed "$STUDY" 6
# The report page is the consultant's: the study must be complete and have
# its patient, as for signing.
http PUT "/api/v1/studies/$STUDY/patient" -H "Authorization: Bearer $ADMIN_TOKEN" -d "{$PATIENT_EPISODE}"
[ "$CODE" = 200 ] || die "the study's patient: HTTP $CODE $(cat "$T/body")"
echo "# server $SRV_URL, study $STUDY analysed across two restarts"

export CS_URL=$SRV_URL CS_STUDY=$STUDY
if [ -n "${CS_SHOTS:-}" ]; then mkdir -p "$CS_SHOTS"; export CS_SHOTS; fi
RC=0
timeout 300 node "$E2E_DIR/polyp_settings.mjs" || RC=$?
if [ "$RC" -ne 0 ]; then
    echo "--- server stderr (last 40 lines) ---" >&2
    tail -n 40 "$T/srv.err" >&2
    exit 1
fi
exit 0
