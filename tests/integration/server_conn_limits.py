#!/usr/bin/python3
"""The per-address connection limit and the header timeout, over raw
sockets. Usage: server_conn_limits.py URL PER_IP HEADER_TIMEOUT_S."""
import socket
import sys
import time
import urllib.parse

HOST, PORT = urllib.parse.urlparse(sys.argv[1]).netloc.rsplit(":", 1)
PER_IP, HEADER_TIMEOUT = int(sys.argv[2]), float(sys.argv[3])
bad = 0


def closed_within(s, seconds):
    """Seconds until the server closes `s` (EOF), or None if still open."""
    t0 = time.monotonic()
    s.settimeout(seconds)
    try:
        while s.recv(4096):
            pass
        return time.monotonic() - t0
    except (socket.timeout, TimeoutError):
        return None
    except ConnectionResetError:
        return time.monotonic() - t0


# 1. A client that sends half a request line is dropped after header_timeout.
s = socket.create_connection((HOST, int(PORT)))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
t = closed_within(s, HEADER_TIMEOUT + 5)
s.close()
if t is None or t < HEADER_TIMEOUT - 0.5:
    print(f"FAIL - a connection stuck in its headers: closed after {t} s, "
          f"want about {HEADER_TIMEOUT} s")
    bad += 1
else:
    print(f"ok - a connection stuck in its headers closed after {t:.1f} s "
          f"(header_timeout {HEADER_TIMEOUT:g} s)")

# 2. PER_IP open connections are served; one more from the address is not.
held = [socket.create_connection((HOST, int(PORT))) for _ in range(PER_IP)]
for h in held:
    h.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
time.sleep(0.3)
extra = socket.create_connection((HOST, int(PORT)))
extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
t = closed_within(extra, 1.0)
extra.close()
for h in held:
    h.close()
if t is None:
    print(f"FAIL - connection {PER_IP + 1} from one address was kept open")
    bad += 1
else:
    print(f"ok - connection {PER_IP + 1} from one address refused at once ({t:.2f} s)")

# 3. Once they are closed the address is served again.
deadline = time.monotonic() + 10
while True:
    s = socket.create_connection((HOST, int(PORT)))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    s.settimeout(5)
    try:
        out = s.recv(4096)
    except (socket.timeout, ConnectionResetError):
        out = b""
    s.close()
    if out.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
        break
    time.sleep(0.1)
if not out.startswith(b"HTTP/1.1 200"):
    print(f"FAIL - the address was not served again: {out[:80]!r}")
    bad += 1
else:
    print("ok - served again once its connections closed")
sys.exit(1 if bad else 0)
