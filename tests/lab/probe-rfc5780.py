"""probe-rfc5780.py LABDIR SECRET RDV_ADDR RDV_PORT: run on a host without NAT (probe.sh). The
rendezvous' RFC 5780 part under wire v2: a BIND with CHANGE flags and RESPONSE_PORT is answered
only when its MAC verifies, only to the sender's own address (the port RESPONSE_PORT names), from
the changed listener, and never with more bytes than the request; a forged one, or one sealed
with another secret's key, gets nothing at all. Prints one line per check; exit 1 on a failure."""
import os
import select
import socket
import struct
import sys

sys.path.insert(0, sys.argv[1])
import punchwire as pw  # noqa: E402

secret, rdv = sys.argv[2], (sys.argv[3], int(sys.argv[4]))
key = pw.session_key(secret, "rfc5780")
bad = 0

tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.bind(("0.0.0.0", 0))
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # RESPONSE_PORT's socket
rx.bind(("0.0.0.0", 0))
rport = rx.getsockname()[1]


def bind_msg(nonce, flags, k=None, mac=None):
    attrs = pw.attr(pw.A_SESSION, b"rfc5780") + struct.pack(">BBH", pw.A_RESPONSE_PORT, 2, rport)
    return pw.message(pw.BIND, attrs, key=k, mac=mac, nonce=nonce, pad_to=pw.MIN_BIND,
                      role=0, flags=flags)


def answers(wait=1.0):
    """Every datagram on either socket within wait seconds: (socket name, bytes, source)."""
    got = []
    while True:
        r, _, _ = select.select([tx, rx], [], [], wait)
        if not r:
            return got
        for s in r:
            d, src = s.recvfrom(2048)
            got.append(("rx" if s is rx else "tx", d, src))
        wait = 0.2


def check(ok, text):
    global bad
    print(("ok: " if ok else "FAIL: ") + text, flush=True)
    bad += 0 if ok else 1


flags = pw.F_CHANGE_ADDR | pw.F_CHANGE_PORT
# verified: answered on RESPONSE_PORT only, from the other address and port, no larger
req = bind_msg(101, flags, k=key)
tx.sendto(req, rdv)
got = answers()
check(len(got) == 1 and got[0][0] == "rx",
      f"a verified BIND (CHANGE_ADDR|CHANGE_PORT, RESPONSE_PORT) got one answer on RESPONSE_PORT: "
      f"{[(g[0], len(g[1]), g[2]) for g in got]}")
if got:
    d, src = got[0][1], got[0][2]
    check(src[0] != rdv[0] and src[1] != rdv[1],
          f"it came from the changed listener {src[0]}:{src[1]} (asked {rdv[0]}:{rdv[1]})")
    check(len(d) <= len(req), f"the answer ({len(d)} bytes) is no larger than the BIND ({len(req)})")
    check(struct.unpack(">H", d[:2])[0] == pw.MAGIC and d[3] == pw.BIND_REPLY and
          struct.unpack(">Q", d[16:24])[0] == 101, "it is the BIND_REPLY to our nonce")
# forged MAC, and a MAC by another secret: nothing anywhere
tx.sendto(bind_msg(102, flags, mac=os.urandom(16)), rdv)
got = answers()
check(not got, f"a forged BIND with CHANGE flags and RESPONSE_PORT got no answer ({len(got)})")
other = pw.session_key(secret, "another-session")
tx.sendto(bind_msg(103, flags, k=other), rdv)
got = answers()
check(not got, f"a BIND sealed with another session's key got no answer ({len(got)})")
sys.exit(1 if bad else 0)
