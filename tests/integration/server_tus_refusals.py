#!/usr/bin/python3
"""Every refused tus request changes nothing: HEAD (offset, length,
deferred length) and the study's upload count are the same before and
after each refusal. Then a PATCH streaming slowly from a device is cut
within 2 s of the study's devices being revoked, and the upload keeps
only bytes that were sent before the revocation.

Usage: server_tus_refusals.py URL ADMIN_TOKEN DEVICE_TOKEN STUDY
(the device must belong to STUDY; it is revoked at the end)."""
import base64
import hashlib
import http.client
import json
import socket
import sys
import time
import urllib.parse

URL, ADMIN, DEVICE, STUDY = sys.argv[1:5]
HOST, PORT = urllib.parse.urlparse(URL).netloc.rsplit(":", 1)
PORT = int(PORT)
OCTET = "application/offset+octet-stream"
bad = 0


def req(method, path, token, headers=None, body=None):
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    h = {"Tus-Resumable": "1.0.0", "Authorization": "Bearer " + token}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def fail(msg):
    global bad
    bad += 1
    print("FAIL - " + msg)


def state(up):
    st, h, _ = req("HEAD", up, ADMIN)
    return (st, h.get("upload-offset"), h.get("upload-length"), h.get("upload-defer-length"))


def uploads_of_study():
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("GET", "/api/v1/studies/" + STUDY, headers={"Authorization": "Bearer " + ADMIN})
    d = json.loads(c.getresponse().read())
    c.close()
    return d["progress"]["uploads"]


def uploads_active():
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    for line in text.splitlines():
        if line.startswith("capscreen_uploads_active "):
            return int(line.split()[1])
    sys.exit("/metrics has no capscreen_uploads_active")


def create(headers, body=None):
    st, h, data = req("POST", "/uploads/", DEVICE, headers, body)
    if st != 201:
        sys.exit(f"create: {st} {data[:200]!r}")
    return h["location"]


def sha1(b):
    return "sha1 " + base64.b64encode(hashlib.sha1(b).digest()).decode()


def refused(name, up, method, headers, body, want):
    before = state(up) if up else None
    n_before = uploads_of_study()
    st, _, data = req(method, up or "/uploads/", DEVICE, headers, body)
    after = state(up) if up else None
    n_after = uploads_of_study()
    try:
        err = json.loads(data)["error"]
    except Exception:
        err = None
    if st != want or not err:
        fail(f"{name}: HTTP {st} {data[:200]!r}, expected {want} with a JSON error")
    elif before != after:
        fail(f"{name}: refused ({st} {err}) but the upload changed: {before} -> {after}")
    elif n_before != n_after:
        fail(f"{name}: refused ({st} {err}) but the study's uploads went {n_before} -> {n_after}")
    else:
        print(f"ok - {name}: {st} {err}, nothing changed")


def patch(up, offset, body, extra=None):
    h = {"Content-Type": OCTET, "Upload-Offset": str(offset)}
    h.update(extra or {})
    return h, body


# An upload of known length, 10 bytes in.
A = create({"Upload-Length": "100"})
st, _, _ = req("PATCH", A, DEVICE, *patch(A, 0, b"0123456789"))
assert st == 204, st
refused("PATCH at a wrong offset", A, "PATCH", *patch(A, 5, b"xxxxx"), 409)
refused("PATCH with Content-Type text/plain", A, "PATCH",
        {"Content-Type": "text/plain", "Upload-Offset": "10"}, b"abc", 415)
refused("PATCH with a checksum that does not match", A, "PATCH",
        *patch(A, 10, b"abcdef", {"Upload-Checksum": sha1(b"other")}), 460)
refused("PATCH with an unsupported checksum algorithm", A, "PATCH",
        *patch(A, 10, b"abcdef", {"Upload-Checksum": "md5 AAAA"}), 400)
refused("PATCH with a body over Upload-Length", A, "PATCH", *patch(A, 10, b"y" * 91), 413)
refused("PATCH with a different Upload-Length", A, "PATCH",
        *patch(A, 10, b"abc", {"Upload-Length": "200"}), 400)

# A deferred-length upload, 10 bytes in: a refused PATCH must not leave
# the Upload-Length it declared (nor complete the upload).
B = create({"Upload-Defer-Length": "1"})
st, _, _ = req("PATCH", B, DEVICE, *patch(B, 0, b"0123456789"))
assert st == 204, st
refused("deferred: Upload-Length below the bytes received", B, "PATCH",
        *patch(B, 10, b"", {"Upload-Length": "5"}), 400)
refused("deferred: Upload-Length over Tus-Max-Size", B, "PATCH",
        *patch(B, 10, b"", {"Upload-Length": str(10 ** 15)}), 413)
refused("deferred: Upload-Length with a checksum that does not match", B, "PATCH",
        *patch(B, 10, b"abcdef", {"Upload-Length": "50", "Upload-Checksum": sha1(b"x")}), 460)
refused("deferred: Upload-Length with a body over it", B, "PATCH",
        *patch(B, 10, b"z" * 20, {"Upload-Length": "12"}), 413)
refused("deferred: Upload-Length equal to the offset with a bad checksum header", B, "PATCH",
        *patch(B, 10, b"ab", {"Upload-Length": "10", "Upload-Checksum": "md5 AAAA"}), 400)
refused("deferred: a wrong offset with Upload-Length", B, "PATCH",
        *patch(B, 3, b"", {"Upload-Length": "10"}), 409)

# Creation with upload: a refused POST creates no upload.
refused("POST with upload and an unsupported checksum", None, "POST",
        {"Upload-Length": "10", "Content-Type": OCTET, "Upload-Checksum": "md5 AAAA"}, b"0123456789", 400)
refused("POST with upload and a body over Upload-Length", None, "POST",
        {"Upload-Length": "5", "Content-Type": OCTET}, b"0123456789", 413)

# A terminated upload takes nothing.
C = create({"Upload-Length": "10"})
st, _, _ = req("DELETE", C, DEVICE)
assert st == 204, st
st, _, data = req("PATCH", C, DEVICE, *patch(C, 0, b"abc"))
if st != 410:
    fail(f"PATCH of a terminated upload: {st} {data[:200]!r}")
else:
    print("ok - PATCH of a terminated upload: 410")

# ---- a body in flight from a device whose study's devices are revoked --------
D = create({"Upload-Defer-Length": "1"})
total = 4 << 20
s = socket.create_connection((HOST, PORT), timeout=10)
s.sendall((f"PATCH {D} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
           f"Authorization: Bearer {DEVICE}\r\nContent-Type: {OCTET}\r\n"
           f"Upload-Offset: 0\r\nContent-Length: {total}\r\n\r\n").encode())
sent = 0
chunk = b"q" * 4096
for _ in range(4):
    s.sendall(chunk)
    sent += len(chunk)
sent_before_revoke = sent
c = http.client.HTTPConnection(HOST, PORT, timeout=30)
c.request("POST", f"/api/v1/studies/{STUDY}/revoke-devices", body=b"{}",
          headers={"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"})
r = c.getresponse()
r.read()
assert r.status == 200, r.status
t0 = time.monotonic()
cut = False
while time.monotonic() - t0 < 5:
    try:
        s.sendall(chunk)
        sent += len(chunk)
    except OSError:
        cut = True
        break
    time.sleep(0.02)  # a slow device: one chunk every 20 ms
    s.setblocking(False)
    try:
        got = s.recv(65536)
        if got == b"" or got.startswith(b"HTTP/"):
            cut = True
            break
    except BlockingIOError:
        pass
    except OSError:
        cut = True
        break
    finally:
        s.setblocking(True)
took = time.monotonic() - t0
s.close()
if not cut or took > 2.0:
    fail(f"the revoked device's PATCH was not cut within 2 s (cut={cut}, {took:.2f} s, {sent} bytes sent)")
else:
    print(f"ok - the revoked device's PATCH was cut {took:.2f} s after the revocation")
# The server persists what it wrote before it saw the revocation. It does
# so when it ends the request, which may come after the client sees the
# cut (or after its own close): read the offset once no body is being
# received, or a HEAD could see the offset from before the request.
t1 = time.monotonic()
while uploads_active() != 0 and time.monotonic() - t1 < 10:
    time.sleep(0.05)
if uploads_active() != 0:
    fail("the revoked device's PATCH is still being received 10 s after the client closed")
st, off, _, _ = state(D)
if st != 200 or off is None or int(off) > sent_before_revoke:
    fail(f"after the cut: HEAD {st}, offset {off}; at most {sent_before_revoke} bytes were sent "
         "before the revocation")
else:
    print(f"ok - after the cut the upload holds {off} bytes (<= {sent_before_revoke} sent before the revocation)")
st, _, data = req("PATCH", D, DEVICE, *patch(D, int(off or 0), b"more"))
if st not in (401, 403):
    fail(f"PATCH with the revoked token: {st} {data[:200]!r}")
refused("PATCH from a revoked device", A, "PATCH", *patch(A, 10, b"abc"), st if st in (401, 403) else 401)
sys.exit(1 if bad else 0)
