/* A TLS tunnel for TURN over TLS (RFC 8656 3.1: TURN over TLS on 443 is how a client gets out
 * of a network that lets out only web traffic).
 *
 * Why a tunnel: libnice 0.1.21 has no TLS of its own. Its NICE_RELAY_TYPE_TURN_TLS opens a plain
 * TCP connection and, only in the Google and MS-OC2007 compatibility modes, wraps it in a
 * "pseudo-SSL" socket (a fixed fake handshake those servers expect); in RFC 5245 mode it is
 * byte for byte TURN over plain TCP (agent/agent.c agent_create_tcp_turn_socket). A real TLS
 * server (coturn) would see a TURN request where it expects a ClientHello. So the driver
 * listens on the loopback, and for each connection libnice makes there (its TURN-TCP
 * allocation) opens a real TLS connection (GIO, GnuTLS through glib-networking) to the TURN
 * server and splices the two: libnice speaks TURN over TCP into a TLS session.
 *
 * The server's certificate is checked against a CA file (the lab's self-signed certificate,
 * made per run), with the server's address as its identity. */
#pragma once
#include <gio/gio.h>
#include <stdbool.h>

struct tls_tunnel;

/* Start listening on loopback (an ephemeral port, *local_port) for connections to tunnel to
 * host:port over TLS: on ::1 when host is an IPv6 address (libnice makes a TURN-TCP allocation
 * only from a host candidate of the relay's family), else on 127.0.0.1; *loopback names it.
 * The TLS is verified against ca_file (NULL: the system's trust store). Returns the
 * tunnel (free with tls_tunnel_free) or NULL with why filled (no TLS backend: glib-networking
 * missing; an unreadable CA file; no loopback). */
struct tls_tunnel *tls_tunnel_new(GMainContext *ctx, const char *host, unsigned port,
				  const char *ca_file, unsigned *local_port,
				  const char **loopback, char *why, size_t wlen);
/* The tunnel starts closed: see tls_tunnel_open. */

/* Connections libnice makes before this are held (accepted, not yet sent on) until it is
 * called; after it they go on at once. The driver opens the tunnel only once a TURN allocation
 * over UDP has answered or a grace period passed (main.c: libnice keeps one relayed candidate
 * per relay address, the first, so TLS must not win a race UDP would have won). */
void tls_tunnel_open(struct tls_tunnel *t);
/* Or never: held and later connections are closed at once (libnice's TURN-TCP allocation over
 * them fails at once). Either call is final; the later one is ignored. */
void tls_tunnel_refuse(struct tls_tunnel *t);

/* How many tunnelled connections completed their TLS handshake / failed so far (the driver
 * reports them: a TLS relay that never came up says why). The last error, "" if none. */
int tls_tunnel_established(const struct tls_tunnel *t);
const char *tls_tunnel_error(const struct tls_tunnel *t);

/* Close the listener and every spliced connection. NULL: a no-op. */
void tls_tunnel_free(struct tls_tunnel *t);
