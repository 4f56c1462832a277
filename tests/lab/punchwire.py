"""punchwire: punch's wire format (src/punch/wire.h) and its authentication (src/punch/auth.h)
in Python, for the hostile-packet and flood tests (punch-hostile.py, punch-flood.py): messages
built byte by byte, sealed with the session key exactly as punch seals them, or forged."""
import hashlib
import struct
import time

MAGIC, VERSION, HDR = 0x5048, 2, 24
BIND, BIND_REPLY, REGISTER, REGISTERED, PEER, PROBE, RELAY, ERROR, BYE = 1, 2, 3, 4, 5, 6, 12, 14, 15
A_SESSION, A_ROUND, A_PROTO, A_PAYLOAD, A_ERROR, A_CTR, A_MAC, A_PAD = 1, 2, 3, 15, 16, 19, 20, 21
MIN_BIND, MIN_REGISTER = 200, 400      # wire.h WIRE_MIN_BIND, WIRE_MIN_REGISTER
ERR_VERSION = 8
A_RESPONSE_PORT = 24                   # RFC 5780's RESPONSE-PORT (punch probe)
F_CHANGE_ADDR, F_CHANGE_PORT = 0x02, 0x04


def session_key(secret_file, session):
    """auth_session_key(): libsodium's crypto_generichash is BLAKE2b, as hashlib's; the label
    goes in with its NUL (sizeof in C)."""
    s = open(secret_file, "rb").read()
    if s.endswith(b"\n"):
        s = s[:-1]
    master = hashlib.blake2b(s, digest_size=32).digest()
    return hashlib.blake2b(b"punch session key v2\0" + session.encode(), key=master,
                           digest_size=32).digest()


def attr(t, v):
    return bytes([t, len(v)]) + v


def now_ctr():
    """A counter as punch starts them: the wall clock in microseconds."""
    return time.time_ns() // 1000


def message(mtype, attrs=b"", key=None, nonce=0, version=VERSION, pad_to=0, mac=None, ctr=None,
            token=0, role=1, length=None, flags=0):
    """A message: attrs, a counter (unless ctr is False), padding up to pad_to bytes, then a MAC
    sealed with key, or the 16 bytes mac (a forgery), or none. flags: the header's (F_*)."""
    body = attrs
    if ctr is not False:
        body += attr(A_CTR, struct.pack(">Q", now_ctr() if ctr is None else ctr))
    tail = 18 if (key or mac) else 0
    short = pad_to - (HDR + len(body) + tail)
    while short >= 2:
        k = min(short - 2, 255)
        if short - 2 - k == 1:
            k -= 1
        body += attr(A_PAD, bytes(k))
        short -= 2 + k
    total = HDR + len(body) + tail if length is None else length
    raw = struct.pack(">HBBBBHQQ", MAGIC, version, mtype, role, flags, total, token, nonce) + body
    if key:
        raw += bytes([A_MAC, 16]) + hashlib.blake2b(raw, key=key, digest_size=16).digest()
    elif mac:
        raw += bytes([A_MAC, 16]) + mac
    return raw


def register_attrs(session, rnd=0):
    return attr(A_SESSION, session.encode()) + struct.pack(">BBH", A_ROUND, 2, rnd) + \
        attr(A_PROTO, b"\x11")
