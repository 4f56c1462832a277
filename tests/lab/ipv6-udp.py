#!/usr/bin/env python3
"""ipv6-udp.py: one-shot IPv6 UDP probes for tests/lab/ipv6-profiles.sh (run inside a node).

  listen PORT [SEND_TO_ADDR SEND_TO_PORT] WAIT_S
      bind [::]:PORT; when SEND_TO is given, first send one datagram there (this opens the
      firewall's or the NAT's state for PORT); then print "got ADDR PORT" for the first datagram
      that arrives within WAIT_S seconds, or "none".
  send FROM_ADDR FROM_PORT TO_ADDR TO_PORT
      send one datagram from [FROM_ADDR]:FROM_PORT to [TO_ADDR]:TO_PORT.
"""
import socket
import sys


def main(argv):
    if argv[1] == "listen":
        port = int(argv[2])
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::", port))
        if len(argv) == 6:
            s.sendto(b"out", (argv[3], int(argv[4])))
        s.settimeout(float(argv[-1]))
        # flush=True: the test waits for this line before it sends
        print("listening", flush=True)
        try:
            _, src = s.recvfrom(2048)
            print("got %s %d" % (src[0], src[1]), flush=True)
        except socket.timeout:
            print("none", flush=True)
        return 0
    if argv[1] == "send":
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind((argv[2], int(argv[3])))
        s.sendto(b"in", (argv[4], int(argv[5])))
        return 0
    print("usage: ipv6-udp.py listen|send ...", file=sys.stderr)
    return 2


sys.exit(main(sys.argv))
