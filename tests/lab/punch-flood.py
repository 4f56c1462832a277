#!/usr/bin/env python3
"""punch-flood.py RDV_ADDR PORT SECRET_FILE SESSION [--net 203.0.113.128/25] [--ports 80]
[--rate 20000] [--seconds 3]: flood a punch rendezvous from spoofed source endpoints (every
address of --net times --ports ports: 128 x 80 = 10,240 by default) and measure what it sends
back to them. Run in a node that takes --net as local (tests/data/topologies/flood.yaml), so
every answer to a spoofed source comes back here and is counted by a raw UDP socket.

The flood mixes what an attacker without the secret can send, and one thing an on-path one
can (a valid message it recorded):
  - forged REGISTERs for SESSION (a MAC of random bytes), padded like a real one;
  - forged BINDs (no valid MAC);
  - REGISTERs of wire version 1 (they get the small version-error reply);
  - a valid REGISTER for SESSION, first sent once from this node's own address (the capture),
    then replayed from every spoofed endpoint.
Prints one JSON object: packets and UDP payload bytes sent from spoofed sources, packets and
bytes that came back to them, the amplification ratio (bytes back / bytes sent), and how the
valid original was answered."""
import ipaddress
import json
import os
import socket
import struct
import sys
import threading
import time

from punchwire import (BIND, MIN_BIND, MIN_REGISTER, REGISTER, REGISTERED, A_SESSION, attr,
                       message, register_attrs, session_key)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ip_udp(src, sport, dst, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + udp


def main():
    args = sys.argv[1:]
    opts = {"--net": "203.0.113.128/25", "--ports": "80", "--rate": "20000", "--seconds": "3"}
    pos = []
    while args:
        a = args.pop(0)
        if a in opts:
            opts[a] = args.pop(0)
        else:
            pos.append(a)
    rdv, port, secret, session = pos[0], int(pos[1]), pos[2], pos[3]
    net = ipaddress.ip_network(opts["--net"])
    addrs = [str(a) for a in net.hosts()]
    ports = [20000 + i for i in range(int(opts["--ports"]))]
    rate, seconds = int(opts["--rate"]), float(opts["--seconds"])
    sess = attr(A_SESSION, session.encode())
    reg_attrs = register_attrs(session)

    # the capture: a valid REGISTER (role a of a session of its own, so that the legitimate
    # peers of SESSION are not disturbed by this node taking a role), answered once
    cap_session = session + "-captured"
    valid = message(REGISTER, register_attrs(cap_session), key=session_key(secret, cap_session),
                    nonce=0xC0FFEE, pad_to=MIN_REGISTER)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(2)
    u.sendto(valid, (rdv, port))
    try:
        ans = u.recv(2048)
        original = "answered" if ans[3] == REGISTERED else "type %d" % ans[3]
    except socket.timeout:
        original = "unanswered"
    u.close()

    kinds = [
        ("forged_register", message(REGISTER, reg_attrs, nonce=0xBAD, pad_to=MIN_REGISTER,
                                    mac=os.urandom(16))),
        ("forged_bind", message(BIND, sess, nonce=0xBAD1, pad_to=MIN_BIND, mac=os.urandom(16))),
        ("wrong_version", message(REGISTER, reg_attrs, nonce=0xBAD2, version=1)),
        ("replayed_register", valid),
    ]

    # count what comes back to the spoofed sources (a raw UDP socket sees every datagram
    # delivered here, also to the local-routed spoofed addresses)
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    r.settimeout(0.2)
    back = {"packets": 0, "bytes": 0}
    stop = threading.Event()

    def receive():
        while not stop.is_set():
            try:
                pkt = r.recv(4096)
            except socket.timeout:
                continue
            ihl = (pkt[0] & 0xF) * 4
            src, dst = socket.inet_ntoa(pkt[12:16]), pkt[16:20]
            if src == rdv and ipaddress.ip_address(dst) in net:
                back["packets"] += 1
                back["bytes"] += len(pkt) - ihl - 8

    th = threading.Thread(target=receive)
    th.start()

    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sent = {k: 0 for k, _ in kinds}
    sent_bytes = 0
    endpoints = set()
    n, start, batch = 0, time.monotonic(), 200
    deadline = start + seconds
    while time.monotonic() < deadline:
        for _ in range(batch):
            a = addrs[n % len(addrs)]
            p = ports[(n // len(addrs)) % len(ports)]
            name, payload = kinds[n % len(kinds)]
            try:
                s.sendto(ip_udp(a, p, rdv, port, payload), (rdv, 0))
            except OSError:
                n += 1
                continue
            sent[name] += 1
            sent_bytes += len(payload)
            endpoints.add((a, p))
            n += 1
        # pace to the rate (bounded: the loop ends at the deadline)
        ahead = start + n / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    elapsed = time.monotonic() - start
    time.sleep(0.5)           # the last answers
    stop.set()
    th.join()
    total = sum(sent.values())
    print(json.dumps({
        "endpoints": len(endpoints), "sent": sent, "packets": total, "bytes": sent_bytes,
        "seconds": round(elapsed, 2), "pps": round(total / elapsed) if elapsed else 0,
        "back_packets": back["packets"], "back_bytes": back["bytes"],
        "amplification": round(back["bytes"] / sent_bytes, 4) if sent_bytes else None,
        "captured_original": original,
    }))


if __name__ == "__main__":
    main()
