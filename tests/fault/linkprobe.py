#!/usr/bin/env python3
"""linkprobe.py - measuring ends for tests/fault/link_emulator.sh (standard
library only). Each mode runs on one side of a netlab link and prints one
JSON object on stdout.

  tcp-listen HOST PORT SECONDS      accept and close connections (connect timing)
  tcp-rtt HOST PORT COUNT GAP_MS    time COUNT TCP connects (SYN to SYN-ACK: one
                                    round trip); prints every sample in ms
  udp-recv HOST PORT SECONDS        count numbered datagrams until SECONDS of
                                    silence after the first; prints received and
                                    how many arrived after a higher number
  udp-send HOST PORT COUNT PPS      send COUNT numbered datagrams at PPS per second
  tcp-sink HOST PORT FROM TO        accept one connection, read it; prints the
                                    goodput between FROM and TO seconds after the
                                    first byte
  tcp-source HOST PORT SECONDS      connect and write as fast as the link takes
"""
import json
import socket
import struct
import sys
import time

SO_RCVBUFFORCE = 33  # Linux; as root, beyond net.core.rmem_max
SO_SNDBUFFORCE = 32


def tcp_listen(host, port, seconds):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(128)
    s.settimeout(0.2)
    end = time.monotonic() + float(seconds)
    n = 0
    while time.monotonic() < end:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        c.close()
        n += 1
    print(json.dumps({"accepted": n}))


def tcp_rtt(host, port, count, gap_ms):
    samples = []
    deadline = time.monotonic() + 30
    while len(samples) < int(count):
        try:
            t = time.monotonic()
            c = socket.create_connection((host, int(port)), timeout=5)
            samples.append((time.monotonic() - t) * 1000)
            c.close()
        except OSError:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)  # listener not up yet
            continue
        time.sleep(float(gap_ms) / 1000)
    print(json.dumps({"rtt_ms": [round(x, 3) for x in samples]}))


def udp_recv(host, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
    s.bind((host, int(port)))
    s.settimeout(60)  # the sender starts within this
    seen, reordered, top = set(), 0, -1
    while True:
        try:
            data = s.recv(2048)
        except socket.timeout:
            break
        s.settimeout(float(seconds))
        (seq,) = struct.unpack_from("!I", data)
        if seq < top:
            reordered += 1
        top = max(top, seq)
        seen.add(seq)
    print(json.dumps({"received": len(seen), "reordered": reordered}))


def udp_send(host, port, count, pps):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 32 << 20)
    pad = b"x" * 96
    start = time.monotonic()
    sent = 0
    for seq in range(int(count)):
        due = start + seq / float(pps)
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        s.sendto(struct.pack("!I", seq) + pad, (host, int(port)))
        sent += 1
    print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - start, 3)}))


def tcp_sink(host, port, t_from, t_to):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(1)
    s.settimeout(60)
    c, _ = s.accept()
    c.settimeout(30)
    t0 = None
    window = 0
    total = 0
    while True:
        data = c.recv(1 << 20)
        if not data:
            break
        now = time.monotonic()
        if t0 is None:
            t0 = now
        total += len(data)
        if float(t_from) <= now - t0 <= float(t_to):
            window += len(data)
    span = float(t_to) - float(t_from)
    print(json.dumps({"bytes": total, "window_bytes": window, "goodput_bps": 8 * window / span}))


def tcp_source(host, port, seconds):
    deadline = time.monotonic() + 30
    while True:
        try:
            c = socket.create_connection((host, int(port)), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    block = b"\0" * (1 << 16)
    end = time.monotonic() + float(seconds)
    sent = 0
    while time.monotonic() < end:
        sent += c.send(block)
    c.close()
    print(json.dumps({"sent": sent}))


if __name__ == "__main__":
    modes = {"tcp-listen": tcp_listen, "tcp-rtt": tcp_rtt, "udp-recv": udp_recv,
             "udp-send": udp_send, "tcp-sink": tcp_sink, "tcp-source": tcp_source}
    if len(sys.argv) < 2 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    modes[sys.argv[1]](*sys.argv[2:])
