#!/usr/bin/env bash
# cli_pack_stream.sh - `capscreen pack` writes a frame-stream file
# (docs/frame-stream.md) that `capscreen analyze` reads back frame for frame;
# a damaged record and a cut-off tail cost exactly those frames; pack skips
# non-JPEG files and never leaves a partial OUT behind.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_python

D=$T/frames
for i in $(seq 1 30); do
    printf 'wcb-%04d.jpg\n' $((i + 200))
done | link_frames "$D"

# --- pack 30 frames at 4 frames/s, analyze the stream -------------------
run_cs "$T/o" "$T/e" pack --fps 4 "$D" "$T/s.csfs"
[ "$RC" -eq 0 ] || die "pack exited $RC: $(cat "$T/e")"
[ -s "$T/s.csfs" ] || die "pack wrote no stream"
compgen -G "$T/s.csfs.partial*" >/dev/null && fail "pack left $T/s.csfs.partial* behind"

# OUT a FIFO (pack FOLDER /dev/stdout | upload): the stream goes into it and
# the node stays; renaming a file onto it would leave the reader waiting.
mkfifo "$T/pipe"
timeout 60 cat "$T/pipe" >"$T/piped.csfs" &
reader=$!
run_cs "$T/o" "$T/e" pack --fps 4 "$D" "$T/pipe"
[ "$RC" -eq 0 ] || fail "pack into a FIFO exited $RC: $(cat "$T/e")"
if [ ! -p "$T/pipe" ]; then
    fail "pack replaced the FIFO OUT with a regular file"
    kill "$reader" 2>/dev/null || true
fi
wait "$reader" || true
cmp -s "$T/s.csfs" "$T/piped.csfs" || fail "the reader of the FIFO did not get the stream"
ok "pack into a FIFO -> the stream through it, FIFO kept"

run_cs "$T/a.json" "$T/e" analyze "$T/s.csfs"
[ "$RC" -eq 0 ] || fail "analyze of the stream exited $RC: $(cat "$T/e")"
py_check "$T/a.json" <<'EOF' || fail "stream read-back checks failed"
fr = d["frames"]
if d["source"]["type"] != "frame-stream":
    fail("source.type %r, expected 'frame-stream'" % d["source"]["type"])
if len(fr) != 30 or d["counts"]["analysed"] != 30 or d["errors"]:
    fail("expected 30 analysed frames and no errors: %r, errors %r" % (d["counts"], d["errors"]))
idx = [f.get("frame_index") for f in fr]
if idx != list(range(30)):
    fail("frame_index is %r, expected 0..29" % idx)
t = [f.get("capture_time_us") for f in fr]
if t != [i * 250000 for i in range(30)]:
    fail("capture_time_us is %r, expected 0, 250000, 500000, ..." % t)
EOF
ok "pack --fps 4 -> 30 frames, indexes 0..29, 250 ms apart"

# --- damage the payload of record 14, cut the last record in half --------
# Records are found by their ASCII magic "CSFR" and walked by their lengths.
python3 - "$T/s.csfs" "$T/damaged.csfs" >"$T/damage.txt" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
recs, pos = [], b.find(b"CSFR")
while pos >= 0 and pos < len(b):
    if b[pos:pos + 4] != b"CSFR":
        sys.exit("no record magic at offset %d" % pos)
    hlen, = struct.unpack_from("<H", b, pos + 4)
    index, = struct.unpack_from("<Q", b, pos + 8)
    plen, = struct.unpack_from("<I", b, pos + 24)
    recs.append((pos, hlen, plen, index))
    pos += hlen + plen + 4
    if pos == len(b):
        break
if len(recs) != 30:
    sys.exit("found %d records, expected 30" % len(recs))
pos, hlen, plen, index = recs[14]
b[pos + hlen + plen // 2] ^= 0x5A            # one byte inside the payload
pos, hlen, plen, last = recs[-1]
b = b[:pos + hlen + plen // 2]               # the tail ends mid-payload
open(sys.argv[2], "wb").write(b)
print(index, last)
EOF
read -r damaged last <"$T/damage.txt"

run_cs "$T/d.json" "$T/e" analyze "$T/damaged.csfs"
[ "$RC" -eq 0 ] || fail "analyze of the damaged stream exited $RC, expected 0: $(cat "$T/e")"
py_check "$T/d.json" "$damaged" "$last" <<'EOF' || fail "damaged stream checks failed"
damaged, last = int(sys.argv[2]), int(sys.argv[3])
errs = d["errors"]
if len(errs) != 2:
    fail("expected exactly 2 errors (record %d, truncated tail %d), got %r" % (damaged, last, errs))
else:
    e1, e2 = errs
    if e1["name"] != "frame %d" % damaged:
        fail("first error names %r, expected 'frame %d'" % (e1["name"], damaged))
    if e1["reason_code"] not in ("checksum_mismatch", "corrupt"):
        fail("damaged record: reason_code %r" % e1["reason_code"])
    if "crc" not in e1["reason"].lower() and "checksum" not in e1["reason"].lower():
        fail("damaged record: reason does not mention the CRC: %r" % e1["reason"])
    if e2["reason_code"] != "truncated":
        fail("tail: reason_code %r, expected 'truncated' (%r)" % (e2["reason_code"], e2["reason"]))
    if e2["name"] != "frame %d" % last:
        fail("tail error names %r, expected 'frame %d'" % (e2["name"], last))
c = d["counts"]
if (c["frames"], c["analysed"], c["failed"]) != (30, 28, 2):
    fail("counts %r, expected 30 frames, 28 analysed, 2 failed" % c)
ok_idx = [f["frame_index"] for f in d["frames"] if "error" not in f]
if ok_idx != [i for i in range(30) if i not in (damaged, last)]:
    fail("analysed frame indexes %r" % ok_idx)
EOF
ok "damaged record $damaged and truncated tail (frame $last) reported, 28 others analysed"

# --- a non-JPEG file in the folder is reported and skipped ---------------
M=$T/mixed
mkdir "$M"
for f in wcb-0301.jpg wcb-0302.jpg wcb-0303.jpg; do ln -s "$WCE_IMAGES/$f" "$M/$f"; done
echo "not a frame" >"$M/wcb-0302b.txt"
run_cs "$T/o" "$T/e" pack --fps 2 "$M" "$T/m.csfs"
[ "$RC" -eq 0 ] || fail "pack of a folder with a text file exited $RC: $(cat "$T/e")"
grep -q "wcb-0302b.txt" "$T/e" || fail "pack did not report the skipped file on stderr: $(cat "$T/e")"
run_cs "$T/m.json" "$T/e" analyze "$T/m.csfs"
py_check "$T/m.json" <<'EOF' || fail "pack of a mixed folder: wrong stream"
c = d["counts"]
if (c["frames"], c["analysed"]) != (3, 3) or d["errors"]:
    fail("stream should hold the 3 JPEGs only: counts %r, errors %r" % (c, d["errors"]))
EOF
ok "pack skips the non-JPEG file, stream holds 3 JPEGs"

# --- failed packs leave no OUT, not even a partial one --------------------
run_cs "$T/o" "$T/e" pack "$T/no-such-folder" "$T/x.csfs"
[ "$RC" -ne 0 ] || fail "pack of a missing folder exited 0"
expect_one_line "$T/e" "pack of a missing folder" || true
{ [ -e "$T/x.csfs" ] || compgen -G "$T/x.csfs.partial*" >/dev/null; } && fail "pack of a missing folder left a file behind"

N=$T/nojpeg
mkdir "$N"
echo "a" >"$N/a.txt"
: >"$N/b.jpg"
run_cs "$T/o" "$T/e" pack "$N" "$T/y.csfs"
[ "$RC" -ne 0 ] || fail "pack of a folder without JPEGs exited 0"
{ [ -e "$T/y.csfs" ] || compgen -G "$T/y.csfs.partial*" >/dev/null; } && fail "pack of a folder without JPEGs left a file behind"
ok "failed packs exit non-zero and leave no OUT"

# --- OUT naming one of FOLDER's frames is refused; an earlier stream in
# FOLDER may be replaced. A typo once replaced a frame with the stream.
F=$T/ownframes
mkdir "$F"
cp "$WCE_IMAGES/wcb-0201.jpg" "$WCE_IMAGES/wcb-0202.jpg" "$F/"
cp "$F/wcb-0202.jpg" "$T/frame.copy"
run_cs "$T/o" "$T/e" pack "$F" "$F/wcb-0202.jpg"
[ "$RC" -eq 2 ] || fail "pack onto one of its frames exited $RC, expected 2"
expect_one_line "$T/e" "pack onto one of its frames" || true
cmp -s "$F/wcb-0202.jpg" "$T/frame.copy" || fail "pack replaced the frame wcb-0202.jpg with the stream"
for i in 1 2; do
    run_cs "$T/o" "$T/e" pack "$F" "$F/study.csfs"
    [ "$RC" -eq 0 ] || fail "pack into its own folder (run $i) exited $RC: $(cat "$T/e")"
done
ok "pack OUT onto a frame -> exit 2, frame intact; an earlier stream in FOLDER is replaced"

# --- study import takes what pack makes, and nothing else -----------------
# A stray file, a video or a FIFO given by mistake once became a study with
# no frames (the FIFO one hung); now each is refused before the store opens.
if "$CAPSCREEN" study --help >/dev/null 2>&1; then
    mkdir "$T/data"
    echo "not a frame stream" >"$T/notes.csfs"
    rm -f "$T/pipe"
    mkfifo "$T/pipe"
    for bad in "$T/notes.csfs" "$T/pipe" "$D"; do
        rc=0
        timeout 60 "$CAPSCREEN" study import --data "$T/data" "$bad" >"$T/o" 2>"$T/e" || rc=$?
        [ "$rc" -ne 124 ] || die "study import $(basename "$bad") hung (killed after 60 s)"
        [ "$rc" -eq 1 ] || fail "study import $(basename "$bad") exited $rc, expected 1"
        expect_one_line "$T/e" "study import $(basename "$bad")" || true
        grep -q '"study"' "$T/o" && fail "study import $(basename "$bad") made a study: $(cat "$T/o")"
    done
    run_cs "$T/o" "$T/e" study import --data "$T/data" "$T/s.csfs"
    [ "$RC" -eq 0 ] || fail "study import of a packed stream exited $RC: $(cat "$T/e")"
    ok "study import refuses a file that is not a frame stream, takes a packed one"
fi

cs_finish
