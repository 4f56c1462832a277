/* Conntrack events over libmnl: a socket subscribed to ctnetlink's multicast groups
 * (NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY) inside a node, so that `punchlab run` sees each
 * mapping as it is created, changes state and dies, with its tuple before and after NAT.
 *
 * The kernel sends no event when a packet only refreshes an entry's timeout (nf_ct_refresh()
 * raises none): refreshes are seen by comparing periodic dumps (ct_dump_mappings()), not here.
 * Events are lost, not queued without bound, when the reader is slower than the NAT: a read
 * then returns -ENOBUFS once and the caller says so. */
#pragma once
#include "ct/conntrack.h"

enum ct_event_kind { CT_EVENT_NEW, CT_EVENT_UPDATE, CT_EVENT_DESTROY };

/* "new", "update", "destroy". */
const char *ct_event_kind_name(enum ct_event_kind k);

/* Open a socket inside netns_fd (-1: the calling thread's namespace) subscribed to every
 * conntrack event of that namespace; the thread is back in its own namespace on return. The
 * socket is non-blocking. Returns it (ct_socket_close()) or NULL with errno set. */
struct mnl_socket *ct_events_open(int netns_fd);

/* Called per event: the entry (NATed or not: nat says which). */
typedef void (*ct_event_cb)(enum ct_event_kind kind, const struct ct_mapping *m, bool nat,
			    void *arg);

/* Read every event queued on the socket now (never blocks) and call cb on each. Returns the
 * number of events, -ENOBUFS when the kernel dropped some (the socket stays usable), or
 * -errno. */
int ct_events_read(struct mnl_socket *nl, ct_event_cb cb, void *arg);
