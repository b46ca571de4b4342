#!/usr/bin/env bash
# cli_output_and_progress.sh - `analyze --output FILE` writes exactly what
# stdout would get, atomically; stderr stays silent unless it is a terminal,
# where a progress line (frames/s) appears.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared

D=$T/frames
awk -F, 'NR > 1 && NR % 25 == 0 && n++ < 60 { print $1 }' "$WCE_LABELS" | link_frames "$D"
: >"$D/zz-broken.jpg" # a broken frame must not make stderr noisy either

# stdout vs --output: the same bytes; nothing on stderr when it is a file.
run_cs "$T/stdout.json" "$T/err1" analyze "$D"
[ "$RC" -eq 0 ] || die "analyze exited $RC: $(cat "$T/err1")"
[ -s "$T/stdout.json" ] || die "analyze wrote nothing to stdout"
run_cs "$T/o2" "$T/err2" analyze --output "$T/summary.json" "$D"
[ "$RC" -eq 0 ] || fail "analyze --output exited $RC: $(cat "$T/err2")"
cmp "$T/stdout.json" "$T/summary.json" || fail "--output FILE differs from stdout"
[ -s "$T/o2" ] && fail "analyze --output also wrote to stdout: $(head -c 200 "$T/o2")"
compgen -G "$T/summary.json.partial*" >/dev/null && fail "analyze --output left summary.json.partial* behind"
ok "--output FILE == stdout, byte for byte, nothing else written"
for e in "$T/err1" "$T/err2"; do
    if [ -s "$e" ]; then
        fail "stderr is not a terminal, yet analyze wrote to it:"
        sed 's/^/    | /' "$e" >&2
    fi
done
ok "stderr silent when it is not a terminal"

# stderr on a terminal: a progress line. script(1) gives the command a pty;
# stdout goes to a file inside it, so only stderr reaches the pty.
if command -v script >/dev/null 2>&1; then
    q() { printf '%q' "$1"; }
    cmd="$(q "$CAPSCREEN") analyze $(q "$D") >$(q "$T/tty.json")"
    rc=0
    script -qec "$cmd" /dev/null </dev/null >"$T/tty.out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || fail "analyze under a pty exited $rc: $(cat "$T/tty.out")"
    grep -q "frames/s" "$T/tty.out" || fail "no progress ('frames/s') on a terminal; captured: $(tr '\r' '\n' <"$T/tty.out" | sed -n '1,5p')"
    cmp -s "$T/stdout.json" "$T/tty.json" || fail "the summary differs when stderr is a terminal"
    ok "progress shown on a terminal"
else
    echo "note: script(1) not installed; skipping the terminal progress sub-check"
fi

# --output into a missing directory: non-zero, one line, no file anywhere.
run_cs "$T/o3" "$T/err3" analyze --output "$T/no-such-dir/summary.json" "$D"
[ "$RC" -ne 0 ] || fail "--output into a missing directory exited 0"
expect_one_line "$T/err3" "--output into a missing directory" || true
[ -e "$T/no-such-dir" ] && fail "--output into a missing directory created it"
[ -s "$T/o3" ] && fail "--output into a missing directory wrote the summary to stdout"
ok "--output into a missing directory -> exit $RC, one line, nothing written"

# A failed analysis leaves an existing --output file as it was, and no
# partial file beside it.
echo "previous summary" >"$T/keep.json"
run_cs "$T/o4" "$T/err4" analyze --output "$T/keep.json" "$T/no-such-study"
[ "$RC" -ne 0 ] || fail "analyze of a missing study exited 0"
[ "$(cat "$T/keep.json")" = "previous summary" ] || fail "a failed analyze replaced the existing --output file"
compgen -G "$T/keep.json.partial*" >/dev/null && fail "a failed analyze left keep.json.partial* behind"
ok "failed analyze leaves --output untouched"

# --output onto a FIFO (a shell's pipe, /dev/stdout): the summary goes into
# it and the node stays. Renaming a file onto it would leave the reader
# waiting for ever (and, run as root, replace /dev/null itself).
mkfifo "$T/pipe"
timeout 60 cat "$T/pipe" >"$T/piped.json" &
reader=$!
run_cs "$T/o5" "$T/err5" analyze --output "$T/pipe" "$D"
[ "$RC" -eq 0 ] || fail "analyze --output FIFO exited $RC: $(cat "$T/err5")"
if [ ! -p "$T/pipe" ]; then
    fail "analyze --output replaced the FIFO with a regular file"
    kill "$reader" 2>/dev/null || true
fi
wait "$reader" || true
cmp -s "$T/stdout.json" "$T/piped.json" || fail "the reader of the FIFO did not get the summary"
ok "--output FIFO -> the summary through the FIFO, FIFO kept"

# --output onto a symlink (/dev/stdout redirected to a file is one): the
# file it names gets the summary and the link stays a link. Renaming onto
# the link replaced it (as root, `-o /dev/stdout > x` replaced the system's
# /dev/stdout); a dangling link's target is created.
mkdir "$T/real"
echo old >"$T/real/target.json"
ln -s "$T/real/target.json" "$T/link.json"
ln -s "$T/real/new.json" "$T/dangling.json"
for l in link dangling; do
    run_cs "$T/o7" "$T/err7" analyze --output "$T/$l.json" "$D"
    [ "$RC" -eq 0 ] || fail "analyze --output $l exited $RC: $(cat "$T/err7")"
    [ -L "$T/$l.json" ] || fail "analyze --output replaced the $l symlink with a regular file"
done
cmp -s "$T/stdout.json" "$T/real/target.json" || fail "the symlink's target did not get the summary"
cmp -s "$T/stdout.json" "$T/real/new.json" || fail "the dangling symlink's target was not created"
compgen -G "$T/link.json.partial*" >/dev/null && fail "--output symlink left a partial file"
ok "--output symlink -> the file it names, link kept"

# --output onto a directory: refused at once with a plain reason, no
# partial file beside it.
mkdir "$T/adir"
run_cs "$T/o6" "$T/err6" analyze --output "$T/adir" "$D"
[ "$RC" -eq 1 ] || fail "--output onto a directory exited $RC, expected 1"
expect_one_line "$T/err6" "--output onto a directory" || true
grep -qF "$T/adir: it is a directory" "$T/err6" || fail "--output onto a directory: unclear reason: $(cat "$T/err6")"
compgen -G "$T/adir.partial*" >/dev/null && fail "--output onto a directory left adir.partial* behind"
ok "--output onto a directory -> exit 1, one line"

# A run stopped mid-study (Ctrl-C, kill) leaves no partial file, and an
# existing output stays as it was. The study is long enough to be caught
# running; the signal is sent once the partial file exists. A background
# job starts with SIGINT ignored, so the default is restored for that case.
B=$T/long
python3 - "$WCE_IMAGES" "$B" <<'EOF'
import os, sys
src, dest = sys.argv[1], sys.argv[2]
names = sorted(n for n in os.listdir(src) if n.endswith(".jpg"))
os.makedirs(dest)
for i in range(20000):
    os.symlink(os.path.join(src, names[i % len(names)]), os.path.join(dest, "f%05d.jpg" % i))
EOF
partial_started() { compgen -G "$T/long.json.partial*" >/dev/null; }
for sig in INT TERM; do
    echo "previous summary" >"$T/long.json"
    python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$CAPSCREEN" analyze --output "$T/long.json" "$B" \
        >/dev/null 2>"$T/err7" &
    pid=$!
    wait_until 60 "analyze to start writing" partial_started
    kill -"$sig" "$pid"
    rc=0
    wait "$pid" || rc=$?
    if [ "$rc" -eq 0 ]; then
        fail "SIG$sig: analyze finished before it could be stopped (make the study longer)"
        continue
    fi
    partial_started && fail "analyze stopped by SIG$sig left $(cd "$T" && echo long.json.partial*)"
    [ "$(cat "$T/long.json" 2>&1)" = "previous summary" ] \
        || fail "SIG$sig: the existing output was replaced: $(head -c 100 "$T/long.json" 2>&1)"
done
ok "analyze stopped by SIGINT/SIGTERM -> no partial file, old output kept"

# --output naming the study file itself (directly or through a link) is
# refused before anything is read: the summary once replaced the study.
run_cs "$T/o8" "$T/err8" pack "$D" "$T/study.csfs"
[ "$RC" -eq 0 ] || die "pack exited $RC: $(cat "$T/err8")"
cp "$T/study.csfs" "$T/study.copy"
ln -s study.csfs "$T/study-link.csfs"
for out in "$T/study.csfs" "$T/study-link.csfs"; do
    run_cs "$T/o8" "$T/err8" analyze --output "$out" "$T/study.csfs"
    [ "$RC" -eq 2 ] || fail "--output $(basename "$out") onto the study exited $RC, expected 2"
    expect_one_line "$T/err8" "--output onto the study" || true
    cmp -s "$T/study.csfs" "$T/study.copy" || die "--output $(basename "$out") replaced the study file"
done
ok "--output naming the study itself -> exit 2, study intact"

cs_finish
