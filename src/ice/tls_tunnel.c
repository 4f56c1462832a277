#include <stdio.h>
#include <string.h>

#include "tls_tunnel.h"

#define CONNECT_TIMEOUT_S 10 /* a TCP connect or TLS handshake never waits longer */

struct tls_tunnel {
	GSocketListener *listener;
	GCancellable *cancel;
	GSocketConnectable *server;
	GTlsDatabase *db;          /* the CA file's, NULL: the system's */
	GMainContext *ctx;
	int pending;               /* callbacks still to come: freed when 0 and dead */
	bool dead;
	bool open;                 /* tls_tunnel_open was called */
	bool refused;              /* tls_tunnel_refuse was called */
	GSList *held;              /* struct tunnel_pair: accepted while closed, in reverse order */
	int established;
	char error[200];
};

/* One accepted connection from libnice, on its way to the server. */
struct tunnel_pair {
	struct tls_tunnel *t;
	GSocketConnection *local;
	GSocketClient *client;
};

static void tunnel_unref_op(struct tls_tunnel *t)
{
	if (--t->pending == 0 && t->dead) {
		g_clear_object(&t->db);
		g_object_unref(t->server);
		g_object_unref(t->cancel);
		g_free(t);
	}
}

static void pair_free(struct tunnel_pair *p)
{
	g_clear_object(&p->local);
	g_clear_object(&p->client);
	tunnel_unref_op(p->t);
	g_free(p);
}

static void set_error(struct tls_tunnel *t, const char *what, const GError *err)
{
	snprintf(t->error, sizeof(t->error), "%s: %s", what, err ? err->message : "?");
	fprintf(stderr, "ice: TLS tunnel: %s\n", t->error);
}

/* The CA file is the whole trust: the handshake checks the server's certificate against it
 * and its identity (the address we dialled) against the certificate's subjectAltName. */
static void on_client_event(GSocketClient *client, GSocketClientEvent event,
			    GSocketConnectable *connectable, GIOStream *connection, gpointer data)
{
	struct tls_tunnel *t = data;

	(void)client, (void)connectable;
	if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING && t->db)
		g_tls_connection_set_database(G_TLS_CONNECTION(connection), t->db);
}

static void on_spliced(GObject *src, GAsyncResult *res, gpointer data)
{
	struct tunnel_pair *p = data;

	/* an error here is the end of either side (libnice closing at exit, a reset): nothing to
	 * report, both streams are closed by the splice */
	(void)g_io_stream_splice_finish(res, NULL);
	(void)src;
	pair_free(p);
}

static void on_connected(GObject *src, GAsyncResult *res, gpointer data)
{
	struct tunnel_pair *p = data;
	GError *err = NULL;
	GSocketConnection *remote = g_socket_client_connect_finish(G_SOCKET_CLIENT(src), res, &err);

	if (!remote) {
		if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			set_error(p->t, "connecting to the TURN server over TLS", err);
		g_error_free(err);
		/* libnice sees its TCP connection close: that allocation fails, others go on */
		pair_free(p);
		return;
	}
	p->t->established++;
	g_io_stream_splice_async(G_IO_STREAM(p->local), G_IO_STREAM(remote),
				 G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2,
				 G_PRIORITY_DEFAULT, p->t->cancel, on_spliced, p);
	g_object_unref(remote); /* the splice holds it */
}

static void accept_next(struct tls_tunnel *t);
static void pair_connect(struct tunnel_pair *p);

static void on_accept(GObject *src, GAsyncResult *res, gpointer data)
{
	struct tls_tunnel *t = data;
	GError *err = NULL;
	GSocketConnection *local = g_socket_listener_accept_finish(G_SOCKET_LISTENER(src), res,
								    NULL, &err);
	struct tunnel_pair *p;

	if (!local) {
		if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			set_error(t, "accepting libnice's connection", err);
		g_error_free(err);
		tunnel_unref_op(t);
		return;
	}
	if (t->dead || t->refused) {
		/* closed at once: libnice's allocation over it fails at once */
		g_io_stream_close(G_IO_STREAM(local), NULL, NULL);
		g_object_unref(local);
		if (!t->dead)
			accept_next(t);
		tunnel_unref_op(t);
		return;
	}
	p = g_new0(struct tunnel_pair, 1);
	p->t = t;
	p->local = local;
	/* the pending op of this accept passes to the pair; the next accept takes its own */
	if (t->open)
		pair_connect(p);
	else
		t->held = g_slist_prepend(t->held, p);
	accept_next(t);
}

static void pair_connect(struct tunnel_pair *p)
{
	struct tls_tunnel *t = p->t;

	p->client = g_socket_client_new();
	g_socket_client_set_tls(p->client, TRUE);
	/* straight to the server: a proxy from the environment (libproxy) is no part of the lab */
	g_socket_client_set_enable_proxy(p->client, FALSE);
	g_socket_client_set_timeout(p->client, CONNECT_TIMEOUT_S);
	g_signal_connect(p->client, "event", G_CALLBACK(on_client_event), t);
	g_socket_client_connect_async(p->client, t->server, t->cancel, on_connected, p);
}

void tls_tunnel_open(struct tls_tunnel *t)
{
	GSList *held;

	if (!t || t->open || t->refused || t->dead)
		return;
	t->open = true;
	held = g_slist_reverse(t->held);
	t->held = NULL;
	g_main_context_push_thread_default(t->ctx);
	for (GSList *i = held; i; i = i->next)
		pair_connect(i->data);
	g_main_context_pop_thread_default(t->ctx);
	g_slist_free(held);
}

static void accept_next(struct tls_tunnel *t)
{
	t->pending++;
	g_socket_listener_accept_async(t->listener, t->cancel, on_accept, t);
}

struct tls_tunnel *tls_tunnel_new(GMainContext *ctx, const char *host, unsigned port,
				  const char *ca_file, unsigned *local_port,
				  const char **loopback, char *why, size_t wlen)
{
	struct tls_tunnel *t = NULL;
	GSocketAddress *any = NULL, *bound = NULL;
	GError *err = NULL;

	if (!g_tls_backend_supports_tls(g_tls_backend_get_default())) {
		/* GIO's TLS comes from a module: Debian's glib-networking */
		snprintf(why, wlen, "GIO has no TLS backend (install glib-networking)");
		return NULL;
	}
	t = g_new0(struct tls_tunnel, 1);
	t->ctx = ctx;
	t->cancel = g_cancellable_new();
	t->server = g_network_address_new(host, (guint16)port);
	if (ca_file) {
		t->db = g_tls_file_database_new(ca_file, &err);
		if (!t->db) {
			snprintf(why, wlen, "--turn-ca %s: %s", ca_file, err->message);
			goto fail;
		}
	}
	t->listener = g_socket_listener_new();
	/* the loopback only: the tunnel is the driver's own, never a relay for the LAN */
	*loopback = strchr(host, ':') ? "::1" : "127.0.0.1";
	any = g_inet_socket_address_new_from_string(*loopback, 0);
	if (!g_socket_listener_add_address(t->listener, any, G_SOCKET_TYPE_STREAM,
					   G_SOCKET_PROTOCOL_TCP, NULL, &bound, &err)) {
		snprintf(why, wlen, "listening on %s for the TLS tunnel: %s", *loopback,
			 err->message);
		goto fail;
	}
	*local_port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
	g_object_unref(bound);
	g_object_unref(any);
	g_main_context_push_thread_default(ctx);
	accept_next(t);
	g_main_context_pop_thread_default(ctx);
	return t;
fail:
	g_clear_error(&err);
	g_clear_object(&any);
	t->dead = true;
	t->pending = 1;
	if (t->listener)
		g_object_unref(t->listener);
	tunnel_unref_op(t);
	return NULL;
}

void tls_tunnel_refuse(struct tls_tunnel *t)
{
	GSList *held;

	if (!t || t->open || t->refused || t->dead)
		return;
	t->refused = true;
	held = t->held;
	t->held = NULL;
	for (GSList *i = held; i; i = i->next) {
		struct tunnel_pair *p = i->data;

		g_io_stream_close(G_IO_STREAM(p->local), NULL, NULL);
		pair_free(p);
	}
	g_slist_free(held);
}

int tls_tunnel_established(const struct tls_tunnel *t)
{
	return t ? t->established : 0;
}

const char *tls_tunnel_error(const struct tls_tunnel *t)
{
	return t ? t->error : "";
}

void tls_tunnel_free(struct tls_tunnel *t)
{
	if (!t)
		return;
	/* our own hold on t while the cancelled operations finish: their callbacks may drop the
	 * others, and t must outlive this loop */
	t->pending++;
	t->dead = true;
	/* held connections never went on: close them (each holds one pending op) */
	g_slist_free_full(g_steal_pointer(&t->held), (GDestroyNotify)pair_free);
	g_cancellable_cancel(t->cancel);
	g_socket_listener_close(t->listener);
	g_clear_object(&t->listener);
	/* the cancelled operations finish in later iterations of ctx: let them run, bounded */
	for (int i = 0; i < 100 && t->pending > 1; i++)
		if (!g_main_context_iteration(t->ctx, FALSE))
			break;
	/* frees t now, or on the last callback still to come (or never: the process exits) */
	tunnel_unref_op(t);
}
