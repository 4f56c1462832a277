#!/usr/bin/env python3
"""punch-hostile.py ADDR PORT: malformed and hostile packets for a punch rendezvous (issue 5,
"Bad input"), sent from a lab node by tests/lab/punch-rendezvous.sh.

Sends, over UDP, datagrams that the wire decoder (src/punch/wire.c) must drop for each reason
the rendezvous counts, and over TCP one garbage frame and one oversized frame length; checks
that nothing is ever answered; then floods bad datagrams from this one source, paced at about
25,000 per second (above the server's per-source limit, below what would overflow its socket
buffer, so the drops are the server's own and counted). Prints one JSON object: how many of each
it sent, and how many answers it got (must be 0)."""
import json
import socket
import struct
import sys
import time

MAGIC, VERSION, HDR = 0x5048, 1, 24


def msg(mtype, attrs=b"", role=0, version=VERSION, length=None, token=0, nonce=0x1234):
    body_len = HDR + len(attrs)
    return struct.pack(">HBBBBHQQ", MAGIC, version, mtype, role, 0,
                       body_len if length is None else length, token, nonce) + attrs


def attr(t, v):
    return bytes([t, len(v)]) + v


REGISTER, PROBE, RELAY, BYE = 3, 6, 12, 15
SESSION = attr(1, b"hostile")
ROUND = attr(2, b"\x00\x00")
PROTO = attr(3, b"\x11")
PAYLOAD = bytes([15, 0, 0, 4]) + b"junk"

# reason -> datagrams (the keys are the rendezvous's stats names without "drop_")
UDP = {
    "truncated": [b"", b"\x50", b"\x50\x48\x01", msg(REGISTER)[:10],
                  msg(REGISTER, SESSION + ROUND + PROTO, length=200)],
    "bad_magic": [b"GET / HTTP/1.0\r\n\r\n", bytes(64), b"\xff" * 100],
    "wrong_version": [msg(REGISTER, SESSION + ROUND + PROTO, version=2),
                      msg(REGISTER, SESSION + ROUND + PROTO, version=0)],
    "bad_length": [msg(REGISTER, SESSION + ROUND + PROTO) + b"\x00" * 16,   # length < datagram
                   msg(REGISTER, b"\x00" * 8, length=10)],                # length < header
    "unknown_type": [msg(0), msg(99)],
    "bad_attribute": [msg(REGISTER, attr(1, b"") + ROUND + PROTO),         # empty session
                      msg(REGISTER, SESSION + ROUND + PROTO, role=7),        # no such role
                      msg(REGISTER, SESSION + bytes([2, 200, 0]))],         # runs past the end
    "missing_attribute": [msg(REGISTER), msg(REGISTER, SESSION)],
    "oversized": [b"\x50\x48\x01\x03" + b"\x00" * 1197,                     # 1201 bytes
                  b"\x00" * 1400, b"\xff" * 4000],                          # 4000: fragmented
    "unexpected": [msg(PROBE, attr(13, b"\x00\x00\x00\x01"))],              # peer-to-peer type
    "bad_token": [msg(RELAY, attr(1, b"nosuch") + PAYLOAD, token=42),
                  msg(BYE, attr(1, b"nosuch"), token=42)],
}
FLOOD = 12000


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    sent, answers = {}, 0
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect((addr, port))
    for reason, grams in UDP.items():
        for g in grams:
            u.send(g)
        sent[reason] = len(grams)
    # nothing malformed is ever answered (a connected UDP socket also sees ICMP errors here)
    u.settimeout(0.3)
    try:
        while True:
            u.recv(2048)
            answers += 1
    except socket.timeout:
        pass

    # TCP: a frame of garbage (dropped, the connection lives on), then a frame length beyond
    # the limit (the connection is dropped: tcp_bad_frames)
    t = socket.create_connection((addr, port), timeout=2)
    t.sendall(struct.pack(">H", 30) + b"\xee" * 30)
    sent["bad_magic"] += 1
    t.sendall(struct.pack(">H", 0xFFFF) + b"\x00" * 64)
    sent["tcp_bad_frames"] = 1
    try:
        closed = t.recv(64) == b""
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    t.close()

    # the flood: bad magic from this one source, paced in bursts of 100 every 4 ms
    start = time.monotonic()
    for i in range(FLOOD // 100):
        for _ in range(100):
            u.send(b"flood!")
        delay = start + (i + 1) * 0.004 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    flood_s = time.monotonic() - start
    try:
        while True:
            u.recv(2048)
            answers += 1
    except socket.timeout:
        pass
    print(json.dumps({"sent": sent, "flood": FLOOD, "flood_s": round(flood_s, 3),
                      "answers": answers, "tcp_closed": closed}))


if __name__ == "__main__":
    main()
