#!/usr/bin/env python3
"""Read frame-stream files (docs/frame-stream.md) strictly, for the tests.

usage: csfs.py FILE... [--allow-truncated] [--sha256 | --ends]

The FILEs are read as one stream, in order (a study's uploads joined): the
first must start with the file header; later ones may continue the stream
without one. Every record must follow the previous one exactly and pass both
CRC-32C checks; anything else exits non-zero naming the file and offset. With
--allow-truncated an incomplete last record is ignored. Prints one line per
record: its frame index, and with --sha256 the SHA-256 of its payload; with
--ends, the offset just past the record in the joined stream instead (where
an upload may be cut between two records).
"""
import hashlib
import struct
import sys

_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    for x in data:
        c = _TABLE[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def records(paths, allow_truncated=False, ends=None):
    """Yield (frame_index, payload) of every record; raise ValueError on damage.
    With a list as `ends`, append each record's end offset in the joined
    stream to it before yielding the record."""
    first = True  # the first upload that holds bytes starts with the file header
    base = 0  # the joined stream's offset of this file's first byte
    for path in paths:
        b = open(path, "rb").read()
        if not b:
            continue  # an upload that never stored a byte (ended by a newer one)
        pos = 0
        if b[:4] == b"CSFS":
            pos, = struct.unpack_from("<H", b, 6)
        elif first:
            raise ValueError("%s: no file header" % path)
        first = False
        while pos < len(b):
            if len(b) - pos < 32 or b[pos:pos + 4] != b"CSFR":
                if allow_truncated and len(b) - pos < 32 and b"CSFR".startswith(b[pos:pos + 4]):
                    break
                raise ValueError("%s: no record at offset %d" % (path, pos))
            rh, = struct.unpack_from("<H", b, pos + 4)
            idx, = struct.unpack_from("<Q", b, pos + 8)
            pl, = struct.unpack_from("<I", b, pos + 24)
            end = pos + rh + pl + 4
            if crc32c(b[pos:pos + rh - 4]) != struct.unpack_from("<I", b, pos + rh - 4)[0]:
                raise ValueError("%s: header CRC mismatch at %d" % (path, pos))
            if end > len(b):
                if allow_truncated:
                    break
                raise ValueError("%s: truncated record at %d" % (path, pos))
            payload = b[pos + rh:pos + rh + pl]
            if crc32c(payload) != struct.unpack_from("<I", b, end - 4)[0]:
                raise ValueError("%s: payload CRC mismatch at %d" % (path, pos))
            if ends is not None:
                ends.append(base + end)
            yield idx, payload
            pos = end
        base += len(b)


def main():
    paths = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not paths:
        sys.exit(__doc__)
    try:
        ends = []
        for idx, payload in records(paths, "--allow-truncated" in sys.argv, ends):
            if "--ends" in sys.argv:
                print(ends[-1])
            elif "--sha256" in sys.argv:
                print(idx, hashlib.sha256(payload).hexdigest())
            else:
                print(idx)
    except ValueError as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
