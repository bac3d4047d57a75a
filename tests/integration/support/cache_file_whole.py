"""Exits 0 when every file named is a whole `oomlint check` results cache (server/cli/cache.cpp's
layout, read to its last byte), else prints what is wrong and exits 1."""
import struct
import sys


def whole(data):
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            raise ValueError("ends early, at byte %d of %d" % (pos, len(data)))
        pos += n
        return data[pos - n:pos]

    def u32():
        return struct.unpack("<I", take(4))[0]

    def string():
        return take(u32())

    if string() != b"oomlint-cache\n":
        raise ValueError("no magic")
    for _ in range(u32()):
        string()  # dependency groups
    for _ in range(u32()):
        string()  # path
        take(8)  # content hash
        if take(1) != b"\0":
            take(40)  # stamp
        string()  # settings
        string()  # dependencies
        string()  # findings
    if pos != len(data):
        raise ValueError("%d bytes after the last entry" % (len(data) - pos))


bad = 0
for name in sys.argv[1:]:
    try:
        with open(name, "rb") as f:
            whole(f.read())
    except ValueError as e:
        print("%s: %s" % (name, e))
        bad += 1
sys.exit(1 if bad else 0)
