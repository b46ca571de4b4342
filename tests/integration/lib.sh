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
