#!/usr/bin/env bash
# cli_threads_identical.sh - `analyze --threads N` writes byte-identical
# summaries for every N, from a folder and from a frame-stream file; with
# the demo's pasted-polyp frames among them, so the polyp detector's
# flagged path (the crops, the nine-pass outline, the boxes) is compared
# too.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_python

D=$T/frames
# 60 bleeding and 60 clean frames, interleaved in name order by the data set.
{
    awk -F, 'NR > 1 && $2 == 1 && n++ < 60 { print $1 }' "$WCE_LABELS"
    awk -F, 'NR > 1 && $2 == 0 && n++ < 60 { print $1 }' "$WCE_LABELS"
} | link_frames "$D"
# The demo study's five frames with a pasted polyp (samples/demo/labels.csv).
awk -F, 'NR > 1 && $4 == 1 { print $1 }' "$CS_SOURCE_DIR/samples/demo/labels.csv" | while read -r f; do
    ln -s "$CS_SOURCE_DIR/samples/demo/frames/$f" "$D/$f"
done
n=$(find "$D" -mindepth 1 | wc -l)
[ "$n" -eq 125 ] || die "expected 125 frames, linked $n"
# Two broken frames as well, so the error list's order is covered too.
b1=$(ls "$D" | sed -n 50p)
b2=$(ls "$D" | sed -n 90p)
head -c $(($(stat -c %s "$WCE_IMAGES/$b1") / 2)) "$WCE_IMAGES/$b1" >"$D/${b1%.jpg}a.jpg"
: >"$D/${b2%.jpg}a.jpg"

run_cs "$T/o" "$T/e" pack --fps 5 "$D" "$T/s.csfs"
[ "$RC" -eq 0 ] || die "pack exited $RC: $(cat "$T/e")"

for kind in folder stream; do
    if [ "$kind" = folder ]; then path=$D; else path=$T/s.csfs; fi
    for j in 1 2 3 8; do
        run_cs "$T/$kind-$j.json" "$T/e" analyze --threads "$j" "$path"
        [ "$RC" -eq 0 ] || fail "$kind --threads $j exited $RC: $(cat "$T/e")"
    done
    # pack leaves the empty file out: the stream holds one broken frame.
    if [ "$kind" = folder ]; then nerr=2; else nerr=1; fi
    py_check "$T/$kind-1.json" "$nerr" <<'EOF' || fail "$kind: the single-thread summary is not what was fed"
c = d["counts"]
if len(d["errors"]) != int(sys.argv[2]):
    fail("expected %s broken frames, got %r" % (sys.argv[2], d["errors"]))
if c["analysed"] != 125 or c["bleeding_flagged"] == 0 or c["bleeding_flagged"] == 125:
    fail("expected 125 analysed frames, some flagged and some not: %r" % c)
polyps = [f for f in d["frames"] if f.get("polyp")]
if not 3 <= c["polyp_flagged"] < 125 or not all(f["polyp_boxes"] for f in polyps):
    fail("expected the pasted-polyp frames flagged for a polyp, with boxes: %r" % c)
EOF
    for j in 2 3 8; do
        if ! cmp "$T/$kind-1.json" "$T/$kind-$j.json"; then
            fail "$kind: --threads $j output differs from --threads 1"
            diff <(tr ',' '\n' <"$T/$kind-1.json") <(tr ',' '\n' <"$T/$kind-$j.json") | sed -n '1,20p' >&2 || true
        fi
        ok "$kind: --threads $j output identical to --threads 1"
    done
done

cs_finish
