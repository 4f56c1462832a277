#!/usr/bin/env python3
"""punch-hostile.py ADDR PORT SECRET_FILE: malformed and hostile packets for a punch rendezvous
(issue 5, "Bad input"; issue 14, an authenticated rendezvous), sent from a lab node by
tests/lab/punch-rendezvous.sh.

Sends, over UDP, datagrams that the rendezvous must drop for each reason it counts: the wire
decoder's (src/punch/wire.c), and authentication's (src/punch/auth.c): no MAC, a wrong MAC,
a MAC of another session, a repeat of a valid message (replay), a valid message whose counter
is five minutes old (stale), a valid but unpadded REGISTER (short: its answers would be larger
than it), a valid RELAY or BYE with the wrong token. With the secret it also registers once for
real (answered: the valid original of the replay). Messages of another wire version get the
version-error reply, which must be no longer than the request. Over TCP one garbage frame and
one oversized frame length. Then floods bad datagrams from this one source, paced at about
25,000 per second (above the server's per-source limit, below what would overflow its socket
buffer, so the drops are the server's own and counted). Prints one JSON object: how many of
each it sent, the answers to the version mismatches (request and answer sizes), and how many
other answers it got (must be 0)."""
import json
import os
import socket
import struct
import sys
import time

from punchwire import (BIND, BYE, ERROR, ERR_VERSION, HDR, MAGIC, MIN_BIND, MIN_REGISTER, PROBE,
                       REGISTER, REGISTERED, RELAY, VERSION, A_ERROR, attr, message,
                       register_attrs, session_key)

SESSION = attr(1, b"hostile")
ROUND = attr(2, b"\x00\x00")
PROTO = attr(3, b"\x11")
PAYLOAD = bytes([15, 0, 0, 4]) + b"junk"


def decode_only(mtype, attrs=b"", **kw):
    """A message the decoder must reject before any key is looked at (no counter, no MAC)."""
    return message(mtype, attrs, ctr=False, **kw)


FLOOD = 12000


def main():
    addr, port, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    key = session_key(secret, "hostile")
    other_key = session_key(secret, "hostile-other")
    reg = register_attrs("hostile")

    # reason -> datagrams (the keys are the rendezvous's stats names without "drop_")
    udp = {
        "truncated": [b"", b"\x50", b"\x50\x48\x02", decode_only(REGISTER)[:10],
                      decode_only(REGISTER, SESSION + ROUND + PROTO, length=200)],
        "bad_magic": [b"GET / HTTP/1.0\r\n\r\n", bytes(64), b"\xff" * 100],
        "bad_length": [decode_only(REGISTER, SESSION + ROUND + PROTO) + b"\x00" * 16,
                       decode_only(REGISTER, b"\x00" * 8, length=10)],
        "unknown_type": [decode_only(0), decode_only(99)],
        "bad_attribute": [decode_only(REGISTER, attr(1, b"") + ROUND + PROTO),  # empty session
                          decode_only(REGISTER, SESSION + ROUND + PROTO, role=7),  # no such role
                          decode_only(REGISTER, SESSION + bytes([2, 200, 0])),  # past the end
                          # a MAC attribute that is not the last one
                          message(REGISTER, bytes([20, 16]) + bytes(16) + reg)],
        "missing_attribute": [decode_only(REGISTER), decode_only(REGISTER, SESSION),
                              decode_only(BIND)],             # version 2: BIND names its session
        "oversized": [b"\x50\x48\x02\x03" + b"\x00" * 1197,    # 1201 bytes
                      b"\x00" * 1400, b"\xff" * 4000],         # 4000: fragmented
        "unexpected": [decode_only(PROBE, attr(13, b"\x00\x00\x00\x01"))],  # peer-to-peer type
        # the spoofed REGISTERs of someone without the secret: no MAC, a forged one, one made
        # with the key of another session; a BIND likewise
        "bad_mac": [message(REGISTER, reg, pad_to=MIN_REGISTER),
                    message(REGISTER, reg, pad_to=MIN_REGISTER, mac=os.urandom(16)),
                    message(REGISTER, reg, pad_to=MIN_REGISTER, key=other_key),
                    message(BIND, SESSION, pad_to=MIN_BIND, mac=os.urandom(16)),
                    message(REGISTER, reg, pad_to=MIN_REGISTER, key=key, ctr=False)],
        # valid, but five minutes old, from a sender the server keeps nothing about
        "stale": [message(REGISTER, reg, key=key, nonce=0x57A1E, pad_to=MIN_REGISTER,
                          ctr=time.time_ns() // 1000 - 300 * 1000000)],
        # valid, but not padded: what it would bring back is larger than it
        "short_request": [message(REGISTER, reg, key=key, nonce=0x5407),
                          message(BIND, SESSION, key=key, nonce=0x5408)],
    }
    sent, answers = {}, 0
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect((addr, port))
    for reason, grams in udp.items():
        for g in grams:
            u.send(g)
        sent[reason] = len(grams)
    # nothing malformed or unauthenticated is ever answered (a connected UDP socket also sees
    # ICMP errors here)
    u.settimeout(0.3)
    try:
        while True:
            u.recv(2048)
            answers += 1
    except socket.timeout:
        pass

    # a real registration (role a of session "hostile"), answered; then the very same bytes
    # again (a replay) and a RELAY and a BYE with the wrong token from the same member: none
    # answered
    original = message(REGISTER, reg, key=key, nonce=0xA11CE, pad_to=MIN_REGISTER)
    u.send(original)
    ans = u.recv(2048)
    registered = len(ans) >= HDR and ans[3] == REGISTERED
    u.send(original)
    sent["replayed"] = 1
    u.send(message(RELAY, SESSION + PAYLOAD, key=key, nonce=0xA11CE, token=42))
    u.send(message(BYE, SESSION, key=key, nonce=0xA11CE, token=42))
    sent["bad_token"] = 2
    try:
        while True:
            u.recv(2048)
            answers += 1
    except socket.timeout:
        pass

    # another version: a small error reply that says which version the server speaks, never
    # longer than the request (the source is not verified)
    version = []
    for g in [message(REGISTER, reg, version=1, ctr=False), message(REGISTER, reg, version=3),
              decode_only(BIND, version=1)]:
        u.send(g)
        try:
            a = u.recv(2048)
        except socket.timeout:
            a = b""
        ok = (len(a) >= HDR and struct.unpack(">H", a[:2])[0] == MAGIC and a[2] == VERSION and
              a[3] == ERROR)
        code = struct.unpack(">H", a[HDR + 2:HDR + 4])[0] if len(a) >= HDR + 4 and \
            a[HDR] == A_ERROR else None
        version.append({"request": len(g), "answer": len(a), "is_error": ok,
                        "code": code, "version": a[2] if a else None})
    sent["wrong_version"] = len(version)

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
                      "answers": answers, "registered": registered, "version": version,
                      "version_expected": ERR_VERSION, "tcp_closed": closed}))


if __name__ == "__main__":
    main()
