#!/usr/bin/python3
"""Send requests with binary and invalid UTF-8 bytes in the path, a header
and a JSON body over a raw socket; each must get a status line and a JSON
error, never an empty reply. Usage: server_raw_bytes.py URL ADMIN_TOKEN."""
import json
import socket
import sys
import urllib.parse

HOST, PORT = urllib.parse.urlparse(sys.argv[1]).netloc.rsplit(":", 1)
ADMIN = sys.argv[2].encode()


def exchange(raw):
    with socket.create_connection((HOST, int(PORT)), timeout=30) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    return out


def req(method, path, headers=b"", body=b""):
    return (method + b" " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers +
            (b"Content-Length: %d\r\n" % len(body) if body else b"") + b"\r\n" + body)


auth = b"Authorization: Bearer " + ADMIN + b"\r\n"
cases = [
    ("invalid UTF-8 in an API path", req(b"GET", b"/api/v1/studies/\xff\xfe", auth), 400),
    ("a control byte in a page path", req(b"GET", b"/index\x01.html"), 400),
    ("invalid UTF-8 in a page path", req(b"GET", b"/\xc3\x28.html"), 400),
    ("%00 in a path", req(b"GET", b"/api/v1/worklist%00", auth), 400),
    # A header the server does not read: any JSON answer will do.
    ("binary bytes in a header", req(b"GET", b"/api/v1/worklist", auth + b"X-Junk: \xff\xfe\x80\r\n"), None),
    ("binary bytes in the Authorization header",
     req(b"GET", b"/api/v1/worklist", b"Authorization: Bearer \xff\xfe\x01x\r\n"), 401),
    ("invalid UTF-8 in JSON", req(b"POST", b"/api/v1/studies", auth + b"Content-Type: application/json\r\n",
                                  b'{"label": "\xff\xfe"}'), 400),
    ("binary bytes as JSON", req(b"POST", b"/api/v1/studies", auth, b"\x00\x01\x02\xff" * 8), 400),
    ("invalid UTF-8 in a cookie", req(b"GET", b"/api/v1/worklist", b"Cookie: cs_session=\xff\xfe\r\n"), 401),
]
bad = 0
for name, raw, want in cases:
    out = exchange(raw)
    head, _, body = out.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0]
    try:
        status = int(status_line.split()[1])
        doc = json.loads(body)
        err = doc["error"] if want is not None else doc.get("error", "answered")
    except Exception:
        print(f"FAIL - {name}: no status line and JSON error: {out[:300]!r}")
        bad += 1
        continue
    if want is not None and status != want:
        print(f"FAIL - {name}: {status} {err}, not {want}")
        bad += 1
        continue
    print(f"ok - {name}: {status} {err}")
sys.exit(1 if bad else 0)
