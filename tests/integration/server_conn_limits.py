#!/usr/bin/python3
"""The per-address connection limit, the header timeout, and an event
stream whose client is gone ending at once, over raw sockets.
Usage: server_conn_limits.py URL PER_IP HEADER_TIMEOUT_S TOKEN STUDY
(TOKEN may read STUDY's event stream)."""
import socket
import struct
import sys
import threading
import time
import urllib.parse

HOST, PORT = urllib.parse.urlparse(sys.argv[1]).netloc.rsplit(":", 1)
PER_IP, HEADER_TIMEOUT = int(sys.argv[2]), float(sys.argv[3])
TOKEN, STUDY = sys.argv[4], sys.argv[5]
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
# No fixed sleeps: the held connections keep trickling header lines (so
# header_timeout never closes them, however slow the machine), the server's
# own count of accepted connections says when it has taken all of them
# (asked from another loopback address, which the limit does not count),
# and the extra one must be closed without an answer (a served request
# would get one).
def metric(name):
    """A value of the server's /metrics, asked from 127.0.0.2: another
    address, which the per-address limit does not count."""
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.settimeout(10)
    s.connect((HOST, int(PORT)))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    for line in out.decode(errors="replace").splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise RuntimeError("no %s in /metrics" % name)


def connections_total():
    return metric("capscreen_connections_total")


stop = threading.Event()


def trickle(socks):
    while not stop.wait(0.3):
        for h in socks:
            try:
                h.sendall(b"X-Still-Here: 1\r\n")
            except OSError:
                pass


def server_side_from_loopback():
    """The server's sockets (local port PORT) whose peer is 127.0.0.1, in
    any state but TIME_WAIT: what the per-address limit may still count."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            local, remote, state = line.split()[1:4]
            if (int(local.split(":")[1], 16) == int(PORT) and remote.startswith("0100007F:")
                    and state not in ("0A", "06")):
                n += 1
    return n


def requests_active():
    return metric("capscreen_requests_active")


# Earlier checks' connections must be gone first: no request in flight but
# the one asking (an event stream whose client left ends within a second)
# and no socket of this address left on the server's side.
deadline = time.monotonic() + 60
while (requests_active() > 1 or server_side_from_loopback()) and time.monotonic() < deadline:
    time.sleep(0.1)
if requests_active() > 1:
    print("FAIL - requests still in flight 60 s after the earlier checks")
    bad += 1

# 2a. An event stream whose client resets the connection ends within a
# second or two (it used to hold its thread and its slot until the next
# heartbeat, 15 s).
es = socket.create_connection((HOST, int(PORT)))
es.sendall((f"GET /api/v1/studies/{STUDY}/events HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {TOKEN}\r\n\r\n").encode())
es.settimeout(10)
first = es.recv(65536)
streaming = requests_active()
es.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
es.close()  # a reset, as a browser tab killed or a link cut shows it
t0 = time.monotonic()
while requests_active() > 1 and time.monotonic() - t0 < 10:
    time.sleep(0.05)
gone = time.monotonic() - t0
if not first.startswith(b"HTTP/1.1 200") or streaming != 2:
    print(f"FAIL - the event stream did not open: {first[:60]!r}, {streaming} requests active")
    bad += 1
elif gone > 5:
    print(f"FAIL - an event stream whose client is gone ended after {gone:.1f} s")
    bad += 1
else:
    print(f"ok - an event stream whose client reset the connection ended after {gone:.1f} s")

before = connections_total()
held = [socket.create_connection((HOST, int(PORT))) for _ in range(PER_IP)]
for h in held:
    h.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
keeper = threading.Thread(target=trickle, args=(held,), daemon=True)
keeper.start()
# Each count is a connection too: `asked` of them since `before`.
deadline, asked, taken = time.monotonic() + 30, 0, 0
while taken < PER_IP and time.monotonic() < deadline:
    asked += 1
    taken = connections_total() - before - asked
    if taken < PER_IP:
        time.sleep(0.05)
if taken < PER_IP:
    print(f"FAIL - the server took {taken} of {PER_IP} connections in 30 s")
    bad += 1
extra = socket.create_connection((HOST, int(PORT)))
extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
extra.settimeout(10)
t0, answer, closed = time.monotonic(), b"", False
try:
    while True:
        b = extra.recv(4096)
        if not b:
            closed = True
            break
        answer += b
        break  # any answer means it was served
except ConnectionResetError:
    closed = True
except (socket.timeout, TimeoutError):
    pass
t = time.monotonic() - t0
extra.close()
stop.set()
keeper.join()
for h in held:
    h.close()
if answer:
    print(f"FAIL - connection {PER_IP + 1} from one address was served: {answer[:40]!r}")
    bad += 1
elif not closed:
    print(f"FAIL - connection {PER_IP + 1} from one address was kept open")
    bad += 1
else:
    print(f"ok - connection {PER_IP + 1} from one address refused without an answer ({t:.2f} s)")

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
