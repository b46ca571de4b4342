#!/usr/bin/env bash
# cli_bad_input.sh - `capscreen analyze` on a folder that mixes good frames
# with every kind of broken file: each broken file is reported with its own
# reason_code, the good ones are analysed, the order is natural; and the
# command-line errors (missing path, empty folder, bad options) fail cleanly.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_python

D=$T/study
mkdir -p "$D"

# Good frames: real capsule frames, named so that natural order differs from
# byte order (frame2 < frame10).
cp "$WCE_IMAGES/wcb-0001.jpg" "$D/frame1.jpg"
cp "$WCE_IMAGES/wcb-0002.jpg" "$D/frame2.jpg"
cp "$WCE_IMAGES/wcb-0003.jpg" "$D/frame3.jpg"
cp "$WCE_IMAGES/wcb-0010.jpg" "$D/frame10.jpg"
good=(frame1.jpg frame2.jpg frame3.jpg frame10.jpg)

# A PNG behind a .jpg name: the decoder goes by magic bytes, so it is good.
python3 - "$D/png_named.jpg" <<'EOF'
import struct, sys, zlib
w = h = 256
rows = b"".join(b"\x00" + b"".join(bytes(((150 + x // 4) % 256, (60 + y // 4) % 256, 40))
                                   for x in range(w)) for y in range(h))
def chunk(t, data):
    c = struct.pack(">I", len(data)) + t + data
    return c + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
EOF
good+=(png_named.jpg)

# Broken files, each with the reason_code(s) it may be reported with.
declare -A want
: >"$D/zero.jpg"
want[zero.jpg]="empty"

src=$WCE_IMAGES/wcb-0005.jpg
size=$(stat -c %s "$src")
head -c $((size / 2)) "$src" >"$D/truncated.jpg"
want[truncated.jpg]="truncated"

cp "$WCE_IMAGES/wcb-0006.jpg" "$D/corrupt.jpg"
chmod u+w "$D/corrupt.jpg" # the shared frames may be read-only
size=$(stat -c %s "$D/corrupt.jpg")
# 2000 bytes of 0xFF written over the middle of the entropy-coded data.
head -c 2000 /dev/zero | tr '\0' '\377' >"$T/pattern"
dd if="$T/pattern" of="$D/corrupt.jpg" bs=1 seek=$((size / 2)) conv=notrunc status=none
want[corrupt.jpg]="corrupt truncated"

echo "reader's notes: nothing to see here" >"$D/notes.txt"
want[notes.txt]="not_an_image"

# Absurd dimensions in the SOF marker: 65535 x 65535 (libjpeg's own limit is
# 65500), and 20000 x 20000 (under libjpeg's limit, over capscreen's cap).
patch_sof() { # patch_sof SRC DEST HEIGHT WIDTH
    python3 - "$@" <<'EOF'
import sys
src, dest, h, w = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
b = bytearray(open(src, "rb").read())
i = 2
while i + 4 <= len(b):
    if b[i] != 0xFF:
        sys.exit("no marker at offset %d" % i)
    m = b[i + 1]
    seglen = b[i + 2] << 8 | b[i + 3]
    if m in (0xC0, 0xC1, 0xC2):  # SOF0/1/2: len(2) precision(1) height(2) width(2)
        b[i + 5:i + 7] = h.to_bytes(2, "big")
        b[i + 7:i + 9] = w.to_bytes(2, "big")
        open(dest, "wb").write(b)
        sys.exit(0)
    i += 2 + seglen
sys.exit("no SOF marker found in " + src)
EOF
}
patch_sof "$WCE_IMAGES/wcb-0008.jpg" "$D/huge_ffff.jpg" 65535 65535
want[huge_ffff.jpg]="too_large"
patch_sof "$WCE_IMAGES/wcb-0009.jpg" "$D/huge_20000.jpg" 20000 20000
want[huge_20000.jpg]="too_large"

# An unreadable file: only meaningful when permissions are enforced.
cp "$WCE_IMAGES/wcb-0011.jpg" "$D/locked.jpg"
chmod 000 "$D/locked.jpg"
if [ -r "$D/locked.jpg" ]; then
    echo "note: running as uid $(id -u), chmod 000 does not block reads;" \
         "skipping the unreadable-file sub-check (locked.jpg counts as a good frame)"
    good+=(locked.jpg)
else
    want[locked.jpg]="io_error"
fi

n_good=${#good[@]}
n_bad=${#want[@]}
n_total=$((n_good + n_bad))

run_cs "$T/out.json" "$T/err" analyze "$D"
[ "$RC" -eq 0 ] || fail "analyze of a mixed folder exited $RC, expected 0 (stderr: $(cat "$T/err"))"
[ -s "$T/err" ] && fail "analyze wrote to stderr although it is not a terminal: $(cat "$T/err")"

wants=$(for k in "${!want[@]}"; do printf '%s=%s\n' "$k" "${want[$k]}"; done)
goods=$(printf '%s\n' "${good[@]}")
py_check "$T/out.json" "$wants" "$goods" "$n_total" <<'EOF' || fail "mixed folder summary checks failed (see above)"
import re
want = dict(l.split("=", 1) for l in sys.argv[2].splitlines() if l)
good = [l for l in sys.argv[3].splitlines() if l]
n_total = int(sys.argv[4])
frames, errors, counts = d["frames"], d["errors"], d["counts"]
by_name = {e["name"]: e for e in errors}
for name, codes in sorted(want.items()):
    e = by_name.get(name)
    if e is None:
        fail("%s is not listed in errors (errors: %s)" % (name, sorted(by_name)))
        continue
    if e.get("reason_code") not in codes.split():
        fail("%s: reason_code %r, expected one of %s (reason: %r)"
             % (name, e.get("reason_code"), codes.split(), e.get("reason")))
    if not e.get("reason"):
        fail("%s: empty reason" % name)
for name in good:
    if name in by_name:
        fail("good frame %s reported as an error: %r" % (name, by_name[name]))
if len(errors) != len(want):
    fail("errors has %d entries, expected %d: %s" % (len(errors), len(want), sorted(by_name)))
if counts["analysed"] != len(good):
    fail("counts.analysed = %d, expected %d good frames" % (counts["analysed"], len(good)))
if counts["frames"] != n_total:
    fail("counts.frames = %d, expected %d" % (counts["frames"], n_total))
if counts["failed"] != len(want):
    fail("counts.failed = %d, expected %d" % (counts["failed"], len(want)))
names = [f["name"] for f in frames]
if len(frames) != n_total:
    fail("frames has %d entries, expected one per file (%d)" % (len(frames), n_total))
def natural(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]
if names != sorted(names, key=natural):
    fail("frames are not in natural name order: %s" % names)
if "frame2.jpg" in names and "frame10.jpg" in names and names.index("frame2.jpg") > names.index("frame10.jpg"):
    fail("frame2.jpg comes after frame10.jpg")
if [f["seq"] for f in frames] != list(range(len(frames))):
    fail("frame seq is not 0..n-1")
for f in frames:
    if f["name"] in want and "error" not in f:
        fail("broken %s has no error in frames[]" % f["name"])
    if f["name"] in good and ("error" in f or "width" not in f):
        fail("good %s was not analysed: %r" % (f["name"], f))
png = [f for f in frames if f["name"] == "png_named.jpg"]
if png and png[0].get("width") != 256:
    fail("png_named.jpg: width %r, expected 256" % png[0].get("width"))
EOF
ok "mixed folder: $n_good good, $n_bad broken files reported with their reasons"

# A FIFO among the frames is a broken frame, not a hang: opening a FIFO with
# no writer waits for ever (so does pack, which reads folders the same way).
mkdir "$T/withfifo"
cp "$WCE_IMAGES/wcb-0001.jpg" "$T/withfifo/frame1.jpg"
mkfifo "$T/withfifo/frame2.jpg"
for cmd in analyze pack; do
    args=("$T/withfifo")
    [ "$cmd" = pack ] && args+=("$T/withfifo.csfs")
    rc=0
    timeout 60 "$CAPSCREEN" "$cmd" "${args[@]}" >"$T/$cmd.out" 2>"$T/e" || rc=$?
    [ "$rc" -ne 124 ] || die "$cmd of a folder holding a FIFO hung (killed after 60 s)"
    [ "$rc" -eq 0 ] || fail "$cmd of a folder holding a FIFO exited $rc: $(cat "$T/e")"
done
py_check "$T/analyze.out" <<'PY' || fail "folder with a FIFO: summary checks failed"
fr = {f["name"]: f for f in d["frames"]}
if "error" in fr["frame1.jpg"]:
    fail("frame1.jpg not analysed: %r" % fr["frame1.jpg"])
e = fr["frame2.jpg"]
if e.get("error") != "io_error" or "not a regular file" not in e.get("reason", ""):
    fail("the FIFO frame2.jpg: %r, expected io_error 'not a regular file'" % e)
PY
ok "a FIFO among the frames -> io_error, no hang"

# A missing path: non-zero, one line naming the path, nothing on stdout.
run_cs "$T/o" "$T/e" analyze "$T/no/such/study"
[ "$RC" -ne 0 ] || fail "analyze of a missing path exited 0"
expect_one_line "$T/e" "missing path" || true
grep -qF "$T/no/such/study" "$T/e" || fail "missing path: stderr does not name the path: $(cat "$T/e")"
[ -s "$T/o" ] && fail "missing path: something was written to stdout: $(head -c 200 "$T/o")"
ok "missing path -> exit $RC, one line"

# An empty folder: non-zero, one line.
mkdir "$T/empty"
run_cs "$T/o" "$T/e" analyze "$T/empty"
[ "$RC" -ne 0 ] || fail "analyze of an empty folder exited 0"
expect_one_line "$T/e" "empty folder" || true
ok "empty folder -> exit $RC, one line"

# Only broken files: the summary is still written, the status is non-zero.
mkdir "$T/allbad"
: >"$T/allbad/a.jpg"
cp "$D/truncated.jpg" "$D/notes.txt" "$T/allbad/"
run_cs "$T/o" "$T/e" analyze "$T/allbad"
[ "$RC" -ne 0 ] || fail "analyze of a folder of only broken files exited 0"
expect_one_line "$T/e" "all-broken folder" || true
py_check "$T/o" <<'EOF' || fail "all-broken folder: summary missing or wrong"
c = d["counts"]
if (c["frames"], c["analysed"], c["failed"]) != (3, 0, 3):
    fail("counts %r, expected 3 frames, 0 analysed, 3 failed" % c)
if len(d["errors"]) != 3:
    fail("errors has %d entries, expected 3" % len(d["errors"]))
EOF
ok "all-broken folder -> summary written, exit $RC"

# Usage errors: exit 2 with a message.
run_cs "$T/o" "$T/e" analyze
[ "$RC" -eq 2 ] || fail "analyze with no arguments exited $RC, expected 2"
[ -s "$T/e" ] || fail "analyze with no arguments printed no message"
run_cs "$T/o" "$T/e" analyze --threads 0 "$D"
[ "$RC" -eq 2 ] || fail "--threads 0 exited $RC, expected 2"
grep -q -- "--threads" "$T/e" || fail "--threads 0: message does not mention --threads: $(cat "$T/e")"
expect_one_line "$T/e" "--threads 0" || true
[ -s "$T/o" ] && fail "--threads 0 wrote to stdout"
# Numbers out of range are refused, never wrapped or clamped into range:
# --top 4294967296 once wrapped to 0 and ranked no frame at all, and
# --threads 4294967298 to 2; nan passed every range check.
for args in "analyze --top 4294967296" "analyze --threads 4294967298" \
    "analyze --redundancy nan" "analyze --redundancy inf" "analyze --top 1x" \
    "pack --fps nan" "pack --start-us 99999999999999999999"; do
    read -r cmd opt val <<<"$args"
    extra=()
    [ "$cmd" = pack ] && extra=("$T/bad-option.csfs")
    run_cs "$T/o" "$T/e" "$cmd" "$opt" "$val" "$D" "${extra[@]}"
    [ "$RC" -eq 2 ] || fail "$args exited $RC, expected 2 (a usage error)"
    grep -qF -- "$opt" "$T/e" || fail "$args: message does not name $opt: $(cat "$T/e")"
    [ -s "$T/o" ] && fail "$args wrote to stdout"
    [ -e "$T/bad-option.csfs" ] && fail "$args wrote a stream"
done
ok "out-of-range numeric options exit 2"
# A refused --role names every role `user add` accepts: the message once
# listed four of six, leaving out trainer and trainee (docs/training.md).
run_cs "$T/o" "$T/e" user add --data "$T/users" --name nn --role nurse </dev/null
[ "$RC" -eq 2 ] || fail "user add --role nurse exited $RC, expected 2"
for role in admin reader consultant coordinator trainer trainee; do
    grep -qw "$role" "$T/e" || fail "user add --role nurse: the reason does not name $role: $(cat "$T/e")"
done
echo "pw-tt-0123456789" | "$CAPSCREEN" user add --data "$T/users" --name tt --role trainee \
    >"$T/o" 2>"$T/e" || fail "user add --role trainee: $(cat "$T/e")"
grep -q '"trainee"' "$T/o" || fail "user add --role trainee printed $(cat "$T/o")"
ok "a refused role names every role user add accepts"
run_cs "$T/o" "$T/e" frobnicate
[ "$RC" -eq 2 ] || fail "an unknown command exited $RC, expected 2"
grep -q "frobnicate" "$T/e" || fail "unknown command: message does not name it: $(cat "$T/e")"
ok "usage errors exit 2"

cs_finish
