#!/usr/bin/env python3
"""udp-probe.py: one-shot UDP probes over IPv4 or IPv6 (by the address given), run inside a node
(tests/lab/probe-lib.sh for the profile tests; nat64.sh, attest-ipv6.sh).

  listen FAMILY PORT [SEND_TO_ADDR SEND_TO_PORT] WAIT_S
      FAMILY is 4 or 6. Bind PORT on every address; when SEND_TO is given, first send one
      datagram there (this opens the firewall's or the NAT's state for PORT); then print
      "got ADDR PORT" for the first datagram that arrives within WAIT_S seconds, or "none".
  send FROM_ADDR FROM_PORT TO_ADDR TO_PORT
      send one datagram from FROM_ADDR:FROM_PORT to TO_ADDR:TO_PORT.
  echo FAMILY PORT WAIT_S
      bind PORT; answer the first datagram within WAIT_S seconds to where it came from and print
      "got ADDR PORT" (or "none").
  connect FROM_ADDR TO_ADDR TO_PORT WAIT_S
      a TCP connect from FROM_ADDR: print "connected", "refused" or "none" (no answer).
"""
import errno
import socket
import sys


def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def main(argv):
    if argv[1] == "listen":
        f = socket.AF_INET6 if argv[2] == "6" else socket.AF_INET
        s = socket.socket(f, socket.SOCK_DGRAM)
        s.bind(("::" if f == socket.AF_INET6 else "0.0.0.0", int(argv[3])))
        if len(argv) == 7:
            s.sendto(b"out", (argv[4], int(argv[5])))
        s.settimeout(float(argv[-1]))
        print("listening", flush=True)
        try:
            _, src = s.recvfrom(2048)
            print("got %s %d" % (src[0], src[1]), flush=True)
        except socket.timeout:
            print("none", flush=True)
        return 0
    if argv[1] == "echo":
        f = socket.AF_INET6 if argv[2] == "6" else socket.AF_INET
        s = socket.socket(f, socket.SOCK_DGRAM)
        s.bind(("::" if f == socket.AF_INET6 else "0.0.0.0", int(argv[3])))
        s.settimeout(float(argv[4]))
        print("listening", flush=True)
        try:
            _, src = s.recvfrom(2048)
            s.sendto(b"back", src[:2])
            print("got %s %d" % (src[0], src[1]), flush=True)
        except socket.timeout:
            print("none", flush=True)
        return 0
    if argv[1] == "send":
        s = socket.socket(fam(argv[2]), socket.SOCK_DGRAM)
        s.bind((argv[2], int(argv[3])))
        s.sendto(b"in", (argv[4], int(argv[5])))
        return 0
    if argv[1] == "connect":
        s = socket.socket(fam(argv[2]), socket.SOCK_STREAM)
        s.bind((argv[2], 0))
        s.settimeout(float(argv[5]))
        try:
            s.connect((argv[3], int(argv[4])))
            print("connected", flush=True)
        except socket.timeout:
            print("none", flush=True)
        except OSError as e:
            print("refused" if e.errno == errno.ECONNREFUSED else "error %s" % e.strerror,
                  flush=True)
        return 0
    print("usage: udp-probe.py listen|echo|send|connect ...", file=sys.stderr)
    return 2


sys.exit(main(sys.argv))
