#!/usr/bin/python3
"""A hub that misbehaves, against the real server: each case runs on a
study of its own and checks what the store and the study stream hold
afterwards (the store through store_rows.py, SQLite or PostgreSQL; frames
through the viewer's image route), not only the HTTP status.

Usage: server_tus_hostile.py URL ADMIN_TOKEN DATA_DIR STREAM
(STREAM: a frame-stream file of a few frames, tests/integration/lib.sh
pack_frames; run by server_live_triage.sh)."""
import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import csfs  # noqa: E402
import store_rows  # noqa: E402

URL, ADMIN, DATA, STREAM = sys.argv[1:5]
HOST, PORT = urllib.parse.urlparse(URL).netloc.rsplit(":", 1)
PORT = int(PORT)
OCTET = "application/offset+octet-stream"
UPLOAD_STATES = {0: "open", 1: "complete", 2: "terminated", 3: "expired"}
bad = 0


def fail(msg):
    global bad
    bad += 1
    print("FAIL - " + msg)


def ok(msg):
    print("ok - " + msg)


def call(method, path, token, headers=None, body=None):
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    h = {"Authorization": "Bearer " + token}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def tus(method, path, token, headers=None, body=None):
    h = {"Tus-Resumable": "1.0.0"}
    h.update(headers or {})
    return call(method, path, token, h, body)


def new_study():
    """A study and a device enrolled to it: (study, device token)."""
    st, _, d = call("POST", "/api/v1/studies", ADMIN, {"Content-Type": "application/json"},
                    b'{"label": "hostile hub"}')
    if st != 201:
        sys.exit(f"study create: {st} {d[:200]!r}")
    d = json.loads(d)
    st, _, e = call("POST", "/api/v1/devices/enrol", "", {"Content-Type": "application/json"},
                    json.dumps({"code": d["enrolment_code"]}).encode())
    if st != 200:
        sys.exit(f"enrol: {st} {e[:200]!r}")
    return d["study"], json.loads(e)["token"]


def create(token, headers):
    st, h, d = tus("POST", "/uploads/", token, headers)
    if st != 201:
        sys.exit(f"create: {st} {d[:200]!r}")
    return h["location"]


def metric(name):
    _, _, text = call("GET", "/metrics", "")
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    sys.exit(f"/metrics has no {name}")


def wait_for(what, cond, limit=30.0, must=True):
    """Poll until cond() (bounded): True; on timeout exit, or False unless `must`."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > limit:
            if must:
                sys.exit(f"timed out waiting for {what}")
            return False
        time.sleep(0.05)
    return True


def study_json(study):
    return json.loads(call("GET", "/api/v1/studies/" + study, ADMIN)[2])


def progress(study):
    return study_json(study)["progress"]


def uploads(study):
    """[(id, offset, state name)] of the study's uploads, in creation order."""
    rows = store_rows.query(DATA, 'SELECT id, "offset", state FROM uploads WHERE study = ?'
                            " ORDER BY n", (study,))
    return [(r[0], r[1], UPLOAD_STATES.get(r[2], r[2])) for r in rows]


def frame_images_match(study, payloads):
    """The viewer's picture of every analysed frame is its record's payload."""
    for seq, want in enumerate(payloads):
        st, _, got = call("GET", f"/api/v1/studies/{study}/frames/{seq}.jpg", ADMIN)
        if st != 200 or got != want:
            return f"frame {seq}: HTTP {st}, {len(got)} bytes, its record's payload: {got == want}"
    return None


class Body:
    """A PATCH whose body is sent piece by piece on a raw socket."""

    def __init__(self, path, token, offset, length):
        self.s = socket.create_connection((HOST, PORT), timeout=30)
        self.s.sendall((f"PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
                        f"Authorization: Bearer {token}\r\nContent-Type: {OCTET}\r\n"
                        f"Upload-Offset: {offset}\r\nContent-Length: {length}\r\n\r\n").encode())

    def send(self, data):
        self.s.sendall(data)

    def answer(self):
        """The status of the answer (the connection is then closed)."""
        got = b""
        while b"\r\n\r\n" not in got:
            part = self.s.recv(65536)
            if not part:
                break
            got += part
        self.s.close()
        return int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/") else None


stream = open(STREAM, "rb").read()
ends = []
records = list(csfs.records([STREAM], ends=ends))
payloads = [p for _, p in records]
# Another stream of the same size: the same records in reverse order.
starts = [16] + ends[:-1]
other = stream[:16] + b"".join(stream[a:b] for a, b in reversed(list(zip(starts, ends))))
assert len(other) == len(stream) and other != stream

# ---- an upload ended under its first body is not reopened ---------------------
# A hub whose link went silent in its first body creates a new upload; the
# server ends the old, empty one (store.h, cs_store_upload_create_checked)
# while that body is still arriving. When the old body completes it must
# not reopen the old upload: its bytes would come first in the study
# stream, under the frames already analysed from the new upload.
study, token = new_study()
A = create(token, {"Upload-Defer-Length": "1"})
before = metric("capscreen_bytes_received_total")
old = Body(A, token, 0, len(other))
old.send(other[:len(other) // 2])
wait_for("the old body's first half", lambda: metric("capscreen_bytes_received_total")
         >= before + len(other) // 2)
B = create(token, {"Upload-Defer-Length": "1"})
st, _, d = tus("PATCH", B, token, {"Content-Type": OCTET, "Upload-Offset": "0",
                                   "Upload-Length": str(len(stream))}, stream)
if st != 204:
    sys.exit(f"PATCH of the new upload: {st} {d[:200]!r}")
wait_for("the new upload's frames", lambda: progress(study)["frames_analysed"] >= len(records))
old.send(other[len(other) // 2:])
st = old.answer()
ups = uploads(study)
want = [(A.rsplit("/", 1)[1], 0, "terminated"), (B.rsplit("/", 1)[1], len(stream), "complete")]
if st != 410:
    fail(f"the old upload's body, ended meanwhile: HTTP {st}, expected 410")
elif ups != want:
    fail(f"uploads after the old body completed: {ups}, expected {want}")
elif (why := frame_images_match(study, payloads)) is not None:
    fail(f"after the old body completed the viewer shows other pictures: {why}")
else:
    ok("an upload ended under its first body stays ended (410); the study's frames keep their pictures")

# The same with a creation-with-upload whose body is then cut off: its
# upload, ended by the new one meanwhile, keeps no byte (its client never
# learnt its URL, and the new upload's frames are analysed already).
study, token = new_study()
before = metric("capscreen_bytes_received_total")
s = socket.create_connection((HOST, PORT), timeout=30)
s.sendall((f"POST /uploads/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
           f"Authorization: Bearer {token}\r\nUpload-Defer-Length: 1\r\n"
           f"Content-Type: {OCTET}\r\nContent-Length: {len(other)}\r\n\r\n").encode() +
          other[:len(other) // 2])
wait_for("the cut creation's first half", lambda: metric("capscreen_bytes_received_total")
         >= before + len(other) // 2)
O = uploads(study)[0][0]
B = create(token, {"Upload-Defer-Length": "1"})
st, _, d = tus("PATCH", B, token, {"Content-Type": OCTET, "Upload-Offset": "0",
                                   "Upload-Length": str(len(stream))}, stream)
if st != 204:
    sys.exit(f"PATCH of the new upload: {st} {d[:200]!r}")
wait_for("the new upload's frames", lambda: progress(study)["frames_analysed"] >= len(records))
s.close()
wait_for("the cut creation to end", lambda: metric("capscreen_uploads_active") == 0)
ups = uploads(study)
want = [(O, 0, "terminated"), (B.rsplit("/", 1)[1], len(stream), "complete")]
if ups != want:
    fail(f"uploads after the ended creation's body was cut off: {ups}, expected {want}")
elif (why := frame_images_match(study, payloads)) is not None:
    fail(f"after the ended creation's body was cut off the viewer shows other pictures: {why}")
else:
    ok("a creation ended under its cut-off body keeps no byte; the study's frames keep their pictures")

# ---- a record length that lies -------------------------------------------------
# A hub's writer bug: a record header whose CRC passes but whose
# payload_len runs past the end of the study. That record is one frame
# error and every record after it is analysed: once the upload is
# complete, and while it is still arriving (the record's payload and CRC
# end where the next intact record starts, which shows the length false;
# docs/frame-stream.md, "Reading", step 4).
def reseal(buf, at):
    """Recompute the CRC of the record header at `at` after an edit."""
    buf[at + 28:at + 32] = csfs.crc32c(bytes(buf[at:at + 28])).to_bytes(4, "little")


def upload_whole(buf, what):
    """A new study whose one upload is `buf`, sent in one PATCH; returns the
    study once it is analysed."""
    study, token = new_study()
    A = create(token, {"Upload-Length": str(len(buf))})
    st, _, d = tus("PATCH", A, token, {"Content-Type": OCTET, "Upload-Offset": "0"}, bytes(buf))
    if st != 204:
        sys.exit(f"PATCH of the stream with {what}: {st} {d[:200]!r}")
    wait_for(f"the study with {what} to be analysed",
             lambda: study_json(study)["state"] == "complete")
    return study


k = 3
lie = bytearray(stream)
plen = int.from_bytes(lie[starts[k] + 24:starts[k] + 28], "little")
lie[starts[k] + 24:starts[k] + 28] = (plen + 10_000_000).to_bytes(4, "little")
reseal(lie, starts[k])
study = upload_whole(lie, "a lying record length")
d = study_json(study)
errors = [(e["frame_index"], e["reason_code"]) for e in d["errors"]]
if (d["counts"]["analysed"], d["counts"]["failed"]) != (len(records) - 1, 1) or \
        errors != [(records[k][0], "corrupt")]:
    fail(f"a record length that lies: counts {d['counts']}, errors {d['errors']}; expected "
         f"{len(records) - 1} frames analysed and frame {records[k][0]} failed (corrupt)")
else:
    ok(f"a record length that lies: that frame fails (corrupt), the {len(records) - 1 - k} "
       "records after it are analysed")

# The same stream live: all but its last record sent, the upload still
# open. The records behind the lying one are triaged now, not held back
# until the false length (10 MB on) arrives or the upload ends.
study, token = new_study()
A = create(token, {"Upload-Length": str(len(lie))})
cut = starts[-1]  # the last record not sent yet
st, _, d = tus("PATCH", A, token, {"Content-Type": OCTET, "Upload-Offset": "0"}, bytes(lie[:cut]))
if st != 204:
    sys.exit(f"PATCH of the first part of the stream with a lying length: {st} {d[:200]!r}")
want_live = len(records) - 2  # every record sent but the lying one
if not wait_for("the records behind a lying length, live",
                lambda: progress(study)["frames_analysed"] >= want_live, limit=20, must=False):
    fail(f"a record length that lies, live: {progress(study)['frames_analysed']} frames analysed "
         f"with the upload open, expected {want_live}: the records behind it are held back")
else:
    st, _, d = tus("PATCH", A, token, {"Content-Type": OCTET, "Upload-Offset": str(cut)},
                   bytes(lie[cut:]))
    if st != 204:
        sys.exit(f"PATCH of the rest of the stream with a lying length: {st} {d[:200]!r}")
    wait_for("the live study with a lying length to be analysed",
             lambda: study_json(study)["state"] == "complete")
    d = study_json(study)
    errors = [(e["frame_index"], e["reason_code"]) for e in d["errors"]]
    if (d["counts"]["analysed"], d["counts"]["failed"]) != (len(records) - 1, 1) or \
            errors != [(records[k][0], "corrupt")]:
        fail(f"a record length that lies, live: counts {d['counts']}, errors {d['errors']}")
    else:
        ok(f"a record length that lies, live: the {want_live - k} records behind it are analysed "
           "while the upload is open; the whole study as when sent at once")

# ---- a frame index past INT64_MAX -------------------------------------------------
# The format's frame_index is any u64. An intact record whose index does
# not fit the store's int64 is still a frame: it is analysed (its index
# unknown), not turned into a failed frame without a reason.
k = 2
odd = bytearray(stream)
odd[starts[k] + 8:starts[k] + 16] = (2**63 + 5).to_bytes(8, "little")
reseal(odd, starts[k])
study = upload_whole(odd, "a frame index past INT64_MAX")
d = study_json(study)
rows = store_rows.query(DATA, "SELECT seq, frame_index, ok FROM frames WHERE study = ? ORDER BY seq",
                        (study,))
want = [[i, records[i][0] if i != k else None, 1] for i in range(len(records))]
if (d["counts"]["analysed"], d["counts"]["failed"]) != (len(records), 0) or rows != want:
    fail(f"a frame index past INT64_MAX: counts {d['counts']}, errors {d['errors']}, rows {rows}")
else:
    ok("a frame index past INT64_MAX: the frame is analysed, its index stored as unknown (NULL)")

# ---- a creation-with-upload cut off mid-body ----------------------------------------
# Its client never got the 201, so it never learnt the upload's URL and
# starts a new upload. The bytes that arrived stay in the study, but the
# orphan is closed: left open, it would hold the new upload's analysis
# back until it expired (a day by default).
study, token = new_study()
before = metric("capscreen_bytes_received_total")
half = len(stream) // 2
s = socket.create_connection((HOST, PORT), timeout=30)
s.sendall((f"POST /uploads/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
           f"Authorization: Bearer {token}\r\nUpload-Defer-Length: 1\r\n"
           f"Content-Type: {OCTET}\r\nContent-Length: {len(stream)}\r\n\r\n").encode() +
          stream[:half])
wait_for("the cut creation's first half", lambda: metric("capscreen_bytes_received_total")
         >= before + half)
s.close()
wait_for("the cut creation to end", lambda: metric("capscreen_uploads_active") == 0)
orphan = uploads(study)
B = create(token, {"Upload-Defer-Length": "1"})
st, _, d = tus("PATCH", B, token, {"Content-Type": OCTET, "Upload-Offset": "0",
                                   "Upload-Length": str(len(stream))}, stream)
if st != 204:
    sys.exit(f"PATCH of the upload after the cut creation: {st} {d[:200]!r}")
done = wait_for("the study after a cut creation", lambda: study_json(study)["state"] == "complete",
                limit=20, must=False)
d = study_json(study)
if len(orphan) != 1 or orphan[0][1:] != (half, "terminated"):
    fail(f"a creation-with-upload cut off mid-body: its upload is {orphan}, expected "
         f"{half} bytes kept, terminated")
elif not done or d["counts"]["analysed"] < len(records):
    fail(f"a creation-with-upload cut off mid-body held the next upload back: state "
         f"{d['state']}, progress {d['progress']}")
else:
    ok(f"a creation-with-upload cut off mid-body: its {half} bytes kept, the upload terminated, "
       "the next upload analysed")

# ---- concurrent PATCHes: every acknowledged body stays ---------------------------
# Hubs that retry on new connections send PATCHes to one upload at once.
# One at a time writes (423 to the others); one that read the offset just
# before another request moved it on must get 409 once it holds the lock,
# not write at its stale offset over bytes already acknowledged.
study, token = new_study()
A = create(token, {"Upload-Defer-Length": "1"})
acks, tally, mu = [], {}, threading.Lock()
stop = time.monotonic() + 4.0


def hammer(k):
    c, n = http.client.HTTPConnection(HOST, PORT, timeout=30), 0
    h = {"Tus-Resumable": "1.0.0", "Authorization": "Bearer " + token}
    while time.monotonic() < stop:
        c.request("HEAD", A, headers=h)
        r = c.getresponse()
        r.read()
        off = int(r.getheader("Upload-Offset"))
        body, n = b"%02d-%06d|" % (k, n) * 3, n + 1
        c.request("PATCH", A, body=body, headers=dict(h, **{"Content-Type": OCTET,
                                                            "Upload-Offset": str(off)}))
        r = c.getresponse()
        r.read()
        if r.status >= 400:  # an early answer closes the connection
            c.close()
            c = http.client.HTTPConnection(HOST, PORT, timeout=30)
        with mu:
            tally[r.status] = tally.get(r.status, 0) + 1
            if r.status == 204:
                acks.append((off, body))
    c.close()


threads = [threading.Thread(target=hammer, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
data = open(os.path.join(DATA, "uploads", A.rsplit("/", 1)[1] + ".bin"), "rb").read()
lost = [off for off, body in acks if data[off:off + len(body)] != body]
stored = uploads(study)[0][1]
if not acks or set(tally) - {204, 409, 423}:
    fail(f"concurrent PATCHes: answers {tally}")
elif lost:
    fail(f"concurrent PATCHes: {len(lost)} of {len(acks)} acknowledged bodies were overwritten "
         f"(answers {tally})")
elif stored != sum(len(b) for _, b in acks) or stored != len(data):
    fail(f"concurrent PATCHes: stored offset {stored}, file {len(data)} bytes, "
         f"{sum(len(b) for _, b in acks)} bytes acknowledged")
else:
    ok(f"concurrent PATCHes: each of {len(acks)} acknowledged bodies is in the file "
       f"(answers {tally})")

sys.exit(1 if bad else 0)
