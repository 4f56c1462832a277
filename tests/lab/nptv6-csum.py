#!/usr/bin/env python3
"""nptv6-csum.py: the UDP checksum of one datagram before and after a translator, for
tests/lab/nptv6.sh (run inside a node).

  send FROM_ADDR FROM_PORT TO_ADDR TO_PORT
      send one UDP datagram over a raw IPv6 socket with a checksum computed here (a raw socket
      gets no checksum offload: the field on the wire is complete, not a partial sum a veth
      would leave unfinished); print "sent csum 0xNNNN".
  sniff IFNAME PORT WAIT_S
      print "got SRC csum 0xNNNN valid yes|no" for the first IPv6 UDP datagram to PORT seen on
      IFNAME within WAIT_S seconds (valid: the checksum checks against the addresses it
      arrived with), or "none".
"""
import select
import socket
import struct
import sys
import time

ETH_P_IPV6 = 0x86DD


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def pseudo(src, dst, length):
    return src + dst + struct.pack("!I3xB", length, socket.IPPROTO_UDP)


def main(argv):
    if argv[1] == "send":
        src = socket.inet_pton(socket.AF_INET6, argv[2])
        dst = socket.inet_pton(socket.AF_INET6, argv[4])
        payload = b"nptv6 checksum probe"
        length = 8 + len(payload)
        hdr = struct.pack("!HHHH", int(argv[3]), int(argv[5]), length, 0)
        c = 0xFFFF - csum(pseudo(src, dst, length) + hdr + payload)
        c = c or 0xFFFF
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_UDP)
        s.bind((argv[2], 0))
        s.sendto(struct.pack("!HHHH", int(argv[3]), int(argv[5]), length, c) + payload,
                 (argv[4], 0))
        print("sent csum 0x%04x" % c, flush=True)
        return 0
    if argv[1] == "sniff":
        port = int(argv[3])
        s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IPV6))
        s.bind((argv[2], 0))
        print("listening", flush=True)
        deadline = time.monotonic() + float(argv[4])
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                print("none", flush=True)
                return 0
            pkt = s.recv(4096)
            if len(pkt) < 48 or pkt[6] != socket.IPPROTO_UDP:
                continue
            udp = pkt[40:]
            if struct.unpack("!H", udp[2:4])[0] != port:
                continue
            length = struct.unpack("!H", udp[4:6])[0]
            ok = csum(pseudo(pkt[8:24], pkt[24:40], length) + udp[:length]) == 0xFFFF
            print("got %s csum 0x%04x valid %s" % (
                socket.inet_ntop(socket.AF_INET6, pkt[8:24]),
                struct.unpack("!H", udp[6:8])[0], "yes" if ok else "no"), flush=True)
            return 0
    print("usage: nptv6-csum.py send|sniff ...", file=sys.stderr)
    return 2


sys.exit(main(sys.argv))
