#include "ct/conntrack.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Big enough for any batch of dump messages the kernel sends at once (it sizes them from the
 * reader's buffer, up to 32 KiB) without MSG_TRUNC. */
#define CT_BUF_SIZE 65536

struct mnl_socket *ct_socket_open_opts(int netns_fd, int sock_flags, unsigned int groups,
				       int rcvbuf)
{
	struct mnl_socket *nl = NULL;
	int self = -1, err = 0;

	if (netns_fd >= 0) {
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self < 0)
			return NULL;
		/* setns() moves only this thread (BRIEF.md); the socket stays in the node. */
		if (setns(netns_fd, CLONE_NEWNET) < 0) {
			err = errno;
			goto out;
		}
	}
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | sock_flags);
	if (!nl) {
		err = errno;
	} else if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		mnl_socket_close(nl);
		nl = NULL;
	} else if (rcvbuf > 0 && setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE,
					    &rcvbuf, sizeof(rcvbuf)) < 0) {
		/* Rootless (docs/rootless.md) the force needs a capability over the machine's
		 * network that a user never has: ask for what net.core.rmem_max allows instead.
		 * Not fatal either way: a smaller buffer only loses events sooner (and says so). */
		if (errno == EPERM && setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF,
						 &rcvbuf, sizeof(rcvbuf)) < 0) {
			/* the default buffer, as above */
		}
	}
	if (self >= 0 && setns(self, CLONE_NEWNET) < 0) {
		/* The thread is stranded in the node: say so rather than carry on there. */
		err = errno;
		if (nl)
			mnl_socket_close(nl);
		nl = NULL;
	}
out:
	if (self >= 0)
		close(self);
	if (!nl)
		errno = err ? err : EIO;
	return nl;
}

struct mnl_socket *ct_socket_open(int netns_fd)
{
	return ct_socket_open_opts(netns_fd, 0, 0, 0);
}

void ct_socket_close(struct mnl_socket *nl)
{
	if (nl)
		mnl_socket_close(nl);
}

void ct_mappings_free(struct ct_mappings *m)
{
	if (!m)
		return;
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static struct nlmsghdr *put_request(char *buf, uint16_t type, uint16_t flags, uint8_t family,
				    uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

/* Send one request and run cb on every answer until the kernel says done (or acks). Every
 * receive is bounded by CT_RECV_TIMEOUT_MS. Returns 0 or -errno. */
static int transact(struct mnl_socket *nl, struct nlmsghdr *nlh, char *buf, mnl_cb_t cb,
		    void *data)
{
	uint32_t seq = nlh->nlmsg_seq, portid = mnl_socket_get_portid(nl);
	int ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		struct pollfd pfd = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
		ssize_t n;

		ret = poll(&pfd, 1, CT_RECV_TIMEOUT_MS);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (ret == 0)
			return -ETIMEDOUT;
		n = mnl_socket_recvfrom(nl, buf, CT_BUF_SIZE);
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (ret < 0)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

/* Run fn on a socket, opening one in the current namespace when nl is NULL. */
static int with_socket(struct mnl_socket *nl, int (*fn)(struct mnl_socket *, void *), void *arg)
{
	struct mnl_socket *own = NULL;
	int ret;

	if (!nl) {
		own = ct_socket_open(-1);
		if (!own)
			return -errno;
		nl = own;
	}
	ret = fn(nl, arg);
	ct_socket_close(own);
	return ret;
}

static int do_flush(struct mnl_socket *nl, void *arg)
{
	char *buf = malloc(CT_BUF_SIZE);
	struct nlmsghdr *nlh;
	int ret;

	(void)arg;
	if (!buf)
		return -ENOMEM;
	/* No tuple: delete everything. AF_UNSPEC with version 0 means every family. */
	nlh = put_request(buf, IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, AF_UNSPEC,
			  (uint32_t)time(NULL));
	ret = transact(nl, nlh, buf, NULL, NULL);
	free(buf);
	return ret;
}

int ct_flush(struct mnl_socket *nl)
{
	return with_socket(nl, do_flush, NULL);
}

/* Attribute tables: collect every attribute up to max by type; lengths are checked on use. */
struct attr_table {
	const struct nlattr *tb[CTA_MAX + 1];
	int max;
};

static int collect_cb(const struct nlattr *attr, void *data)
{
	struct attr_table *t = data;
	int type = mnl_attr_get_type(attr);

	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

static int parse_nested(const struct nlattr *attr, struct attr_table *t, int max)
{
	memset(t, 0, sizeof(*t));
	t->max = max;
	return attr ? mnl_attr_parse_nested(attr, collect_cb, t) : MNL_CB_ERROR;
}

static bool get_u8(const struct nlattr *a, uint8_t *v)
{
	if (!a || mnl_attr_get_payload_len(a) < sizeof(*v))
		return false;
	*v = mnl_attr_get_u8(a);
	return true;
}

static bool get_u16(const struct nlattr *a, uint16_t *v)
{
	if (!a || mnl_attr_get_payload_len(a) < sizeof(*v))
		return false;
	*v = ntohs(mnl_attr_get_u16(a));
	return true;
}

static bool get_u32(const struct nlattr *a, uint32_t *v)
{
	if (!a || mnl_attr_get_payload_len(a) < sizeof(*v))
		return false;
	*v = ntohl(mnl_attr_get_u32(a));
	return true;
}

static bool get_u64(const struct nlattr *a, uint64_t *v)
{
	if (!a || mnl_attr_get_payload_len(a) < sizeof(*v))
		return false;
	*v = be64toh(mnl_attr_get_u64(a));
	return true;
}

/* CTA_COUNTERS_ORIG / CTA_COUNTERS_REPLY: present only with conntrack accounting on. */
static bool get_counters(const struct nlattr *attr, uint64_t *packets, uint64_t *bytes)
{
	struct attr_table c;

	*packets = *bytes = 0;
	if (!attr || parse_nested(attr, &c, CTA_COUNTERS_MAX) < 0)
		return false;
	return get_u64(c.tb[CTA_COUNTERS_PACKETS], packets) &&
	       get_u64(c.tb[CTA_COUNTERS_BYTES], bytes);
}

struct tuple {
	uint8_t family;          /* AF_INET or AF_INET6 */
	struct in_addr src, dst; /* IPv4 */
	struct in6_addr src6, dst6; /* IPv6 */
	uint8_t proto;
	uint16_t sport, dport;
};

/* One address attribute of exactly len bytes into dst; false when absent or short. */
static bool get_addr(const struct nlattr *a, void *dst, size_t len)
{
	if (!a || mnl_attr_get_payload_len(a) < len)
		return false;
	memcpy(dst, mnl_attr_get_payload(a), len);
	return true;
}

/* CTA_TUPLE_ORIG / CTA_TUPLE_REPLY: IPv4 (CTA_IP_V4_*) or IPv6 (CTA_IP_V6_*) addresses and,
 * for port protocols, ports. */
static bool parse_tuple(const struct nlattr *attr, struct tuple *t)
{
	struct attr_table tt, ip, pr;

	memset(t, 0, sizeof(*t));
	if (parse_nested(attr, &tt, CTA_TUPLE_MAX) < 0 ||
	    parse_nested(tt.tb[CTA_TUPLE_IP], &ip, CTA_IP_MAX) < 0 ||
	    parse_nested(tt.tb[CTA_TUPLE_PROTO], &pr, CTA_PROTO_MAX) < 0)
		return false;
	if (ip.tb[CTA_IP_V4_SRC] || ip.tb[CTA_IP_V4_DST]) {
		t->family = AF_INET;
		if (!get_addr(ip.tb[CTA_IP_V4_SRC], &t->src, 4) ||
		    !get_addr(ip.tb[CTA_IP_V4_DST], &t->dst, 4))
			return false;
	} else {
		t->family = AF_INET6;
		if (!get_addr(ip.tb[CTA_IP_V6_SRC], &t->src6, 16) ||
		    !get_addr(ip.tb[CTA_IP_V6_DST], &t->dst6, 16))
			return false;
	}
	if (!get_u8(pr.tb[CTA_PROTO_NUM], &t->proto))
		return false;
	get_u16(pr.tb[CTA_PROTO_SRC_PORT], &t->sport); /* absent for ICMP: 0 */
	get_u16(pr.tb[CTA_PROTO_DST_PORT], &t->dport);
	return true;
}

static int grow(struct ct_mappings *out)
{
	size_t cap;
	struct ct_mapping *v;

	if (out->n < out->cap)
		return 0;
	cap = out->cap ? out->cap * 2 : 32;
	v = realloc(out->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	out->v = v;
	out->cap = cap;
	return 0;
}

/* The orientation of an entry (which tuple end is internal, public, remote), shared by both
 * families: v is 4 for in_addr or 16 for in6_addr, the fields of struct tuple and ct_mapping
 * passed by address. */
struct orient {
	const void *orig_src, *orig_dst, *reply_src, *reply_dst;
	void *internal, *public_, *remote;
	size_t len;
};

static void orient(const struct orient *o, const struct tuple *orig, const struct tuple *reply,
		   struct ct_mapping *m)
{
	/* Source NAT (outbound, and the sender's side of a hairpinned flow): the original source
	 * is the internal endpoint and the reply goes to the public one. Destination NAT only (a
	 * cone letting a new inbound flow in through its map): the original source is the remote,
	 * the original destination the public endpoint, and the reply comes from the internal
	 * endpoint. Neither (a firewall, traffic to the node itself): the original tuple as it
	 * is, internal and public both its source. */
	if (m->status & IPS_SRC_NAT) {
		memcpy(o->internal, o->orig_src, o->len);
		m->internal_port = orig->sport;
		memcpy(o->public_, o->reply_dst, o->len);
		m->public_port = reply->dport;
		memcpy(o->remote, o->orig_dst, o->len);
		m->remote_port = orig->dport;
		m->hairpin = (m->status & IPS_DST_NAT) != 0;
	} else if (m->status & IPS_DST_NAT) {
		memcpy(o->internal, o->reply_src, o->len);
		m->internal_port = reply->sport;
		memcpy(o->public_, o->orig_dst, o->len);
		m->public_port = orig->dport;
		memcpy(o->remote, o->orig_src, o->len);
		m->remote_port = orig->sport;
		m->inbound = true;
	} else {
		memcpy(o->internal, o->orig_src, o->len);
		memcpy(o->public_, o->orig_src, o->len);
		m->internal_port = m->public_port = orig->sport;
		memcpy(o->remote, o->orig_dst, o->len);
		m->remote_port = orig->dport;
	}
}

int ct_mapping_from_msg(const struct nlmsghdr *nlh, struct ct_mapping *out)
{
	struct attr_table top;
	struct tuple orig, reply;
	struct ct_mapping m = { 0 };
	struct orient o;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg)))
		return -1;
	memset(&top, 0, sizeof(top));
	top.max = CTA_MAX;
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), collect_cb, &top) < 0)
		return -1;
	if (!parse_tuple(top.tb[CTA_TUPLE_ORIG], &orig) ||
	    !parse_tuple(top.tb[CTA_TUPLE_REPLY], &reply) || orig.family != reply.family)
		return -1;
	get_u32(top.tb[CTA_STATUS], &m.status);
	get_u32(top.tb[CTA_TIMEOUT], &m.timeout);
	m.family = orig.family;
	if (m.family == AF_INET) {
		m.orig_src = orig.src;
		m.orig_dst = orig.dst;
		m.reply_src = reply.src;
		m.reply_dst = reply.dst;
		o = (struct orient){ &orig.src, &orig.dst, &reply.src, &reply.dst, &m.internal_addr,
				     &m.public_addr, &m.remote_addr, sizeof(struct in_addr) };
	} else {
		/* the IPv4 fields stay 0.0.0.0 (conntrack.h: why twins) */
		m.orig_src6 = orig.src6;
		m.orig_dst6 = orig.dst6;
		m.reply_src6 = reply.src6;
		m.reply_dst6 = reply.dst6;
		o = (struct orient){ &orig.src6, &orig.dst6, &reply.src6, &reply.dst6,
				     &m.internal_addr6, &m.public_addr6, &m.remote_addr6,
				     sizeof(struct in6_addr) };
	}
	m.has_counters = get_counters(top.tb[CTA_COUNTERS_ORIG], &m.orig_packets, &m.orig_bytes) &&
			 get_counters(top.tb[CTA_COUNTERS_REPLY], &m.reply_packets, &m.reply_bytes);
	m.proto = orig.proto;
	if (m.proto == IPPROTO_TCP && top.tb[CTA_PROTOINFO]) {
		struct attr_table pi, tcp;

		if (parse_nested(top.tb[CTA_PROTOINFO], &pi, CTA_PROTOINFO_MAX) >= 0 &&
		    parse_nested(pi.tb[CTA_PROTOINFO_TCP], &tcp, CTA_PROTOINFO_TCP_MAX) >= 0)
			get_u8(tcp.tb[CTA_PROTOINFO_TCP_STATE], &m.tcp_state);
	}
	orient(&o, &orig, &reply, &m);
	*out = m;
	return (m.status & IPS_NAT_MASK) ? 1 : 0;
}

/* Append m to out, for the dump callbacks: MNL_CB_OK, or MNL_CB_ERROR with errno ENOMEM. */
static int keep(struct ct_mappings *out, const struct ct_mapping *m)
{
	if (grow(out) < 0) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	out->v[out->n++] = *m;
	return MNL_CB_OK;
}

/* The IPv4, NATed-only API (ct_dump_mappings(), ct_get_mapping()): what it always returned. */
static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ct_mappings *out = data;
	struct ct_mapping m;

	/* skip what we can not read rather than lose the dump; only NATed entries count */
	if (ct_mapping_from_msg(nlh, &m) <= 0 || m.family != AF_INET)
		return MNL_CB_OK;
	return keep(out, &m);
}

/* The family-generic API (ct_dump_flows(), ct_get_flow()): every entry it can read. */
static int flows_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ct_mappings *out = data;
	struct ct_mapping m;

	if (ct_mapping_from_msg(nlh, &m) < 0)
		return MNL_CB_OK;
	return keep(out, &m);
}

struct dump_args {
	uint8_t family;
	mnl_cb_t cb;
	struct ct_mappings *out;
};

static int do_dump(struct mnl_socket *nl, void *arg)
{
	struct dump_args *d = arg;
	char *buf = malloc(CT_BUF_SIZE);
	struct nlmsghdr *nlh;
	int ret;

	if (!buf)
		return -ENOMEM;
	/* AF_UNSPEC: ctnetlink's dump filters by family only when one is given, so one walk of
	 * the table returns both */
	nlh = put_request(buf, IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, d->family,
			  (uint32_t)time(NULL));
	ret = transact(nl, nlh, buf, d->cb, d->out);
	free(buf);
	return ret;
}

int ct_dump_mappings(struct mnl_socket *nl, struct ct_mappings *out)
{
	struct dump_args d = { .family = AF_INET, .cb = dump_cb, .out = out };

	return with_socket(nl, do_dump, &d);
}

int ct_dump_flows(struct mnl_socket *nl, int family, struct ct_mappings *out)
{
	struct dump_args d = { .family = (uint8_t)family, .cb = flows_cb, .out = out };

	if (family != AF_INET && family != AF_INET6 && family != AF_UNSPEC)
		return -EAFNOSUPPORT;
	return with_socket(nl, do_dump, &d);
}

struct get_args {
	struct tuple t;
	mnl_cb_t cb;
	struct ct_mappings found;
};

/* One entry by its original tuple: the kernel looks it up in its hash, where a dump walks
 * every bucket of the (global) table. */
static int do_get(struct mnl_socket *nl, void *arg)
{
	struct get_args *g = arg;
	/* zeroed: libmnl 1.0.4's mnl_attr_put() leaves an attribute's alignment padding (the 3
	 * bytes after CTA_PROTO_NUM) unwritten, and they went to the kernel as heap garbage
	 * (valgrind, ci/test --valgrind) */
	char *buf = calloc(1, CT_BUF_SIZE);
	struct nlattr *tuple, *nest;
	struct nlmsghdr *nlh;
	int ret;

	if (!buf)
		return -ENOMEM;
	nlh = put_request(buf, IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_ACK, g->t.family,
			  (uint32_t)time(NULL));
	tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	if (g->t.family == AF_INET6) {
		mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, &g->t.src6);
		mnl_attr_put(nlh, CTA_IP_V6_DST, 16, &g->t.dst6);
	} else {
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, &g->t.src);
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, &g->t.dst);
	}
	mnl_attr_nest_end(nlh, nest);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, g->t.proto);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(g->t.sport));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(g->t.dport));
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_nest_end(nlh, tuple);
	ret = transact(nl, nlh, buf, g->cb, &g->found);
	free(buf);
	return ret;
}

/* Run the lookup and keep its one answer. */
static int get_one(struct mnl_socket *nl, struct get_args *g, struct ct_mapping *out)
{
	int ret = with_socket(nl, do_get, g);

	if (ret == 0 && g->found.n == 0)
		ret = -ENOENT; /* there, but not what this API returns (ct_get_mapping: not NATed) */
	if (ret == 0)
		*out = g->found.v[0];
	ct_mappings_free(&g->found);
	return ret;
}

int ct_get_mapping(struct mnl_socket *nl, uint8_t proto, struct in_addr src, uint16_t sport,
		   struct in_addr dst, uint16_t dport, struct ct_mapping *out)
{
	struct get_args g = { .t = { .family = AF_INET, .src = src, .dst = dst, .proto = proto,
				     .sport = sport, .dport = dport }, .cb = dump_cb };

	return get_one(nl, &g, out);
}

int ct_get_flow(struct mnl_socket *nl, uint8_t proto, const struct net_addr *src, uint16_t sport,
		const struct net_addr *dst, uint16_t dport, struct ct_mapping *out)
{
	struct get_args g = { .t = { .family = (uint8_t)src->family, .proto = proto,
				     .sport = sport, .dport = dport }, .cb = flows_cb };

	if (src->family != dst->family || (src->family != AF_INET && src->family != AF_INET6))
		return -EINVAL;
	if (src->family == AF_INET) {
		g.t.src = src->a.v4;
		g.t.dst = dst->a.v4;
	} else {
		g.t.src6 = src->a.v6;
		g.t.dst6 = dst->a.v6;
	}
	return get_one(nl, &g, out);
}

int ct_mapping_family(const struct ct_mapping *m)
{
	return m->family == AF_INET6 ? AF_INET6 : AF_INET;
}

struct net_addr ct_mapping_addr(const struct ct_mapping *m, enum ct_addr_field f)
{
	/* every address field F of struct ct_mapping has its IPv6 twin F6: one row per field */
#define BOTH(field) { offsetof(struct ct_mapping, field), offsetof(struct ct_mapping, field##6) }
	static const struct {
		size_t v4, v6;
	} off[] = {
		[CT_ADDR_INTERNAL] = BOTH(internal_addr),
		[CT_ADDR_PUBLIC] = BOTH(public_addr),
		[CT_ADDR_REMOTE] = BOTH(remote_addr),
		[CT_ADDR_ORIG_SRC] = BOTH(orig_src),
		[CT_ADDR_ORIG_DST] = BOTH(orig_dst),
		[CT_ADDR_REPLY_SRC] = BOTH(reply_src),
		[CT_ADDR_REPLY_DST] = BOTH(reply_dst),
	};
#undef BOTH
	struct net_addr a = { .family = ct_mapping_family(m) };

	if (a.family == AF_INET6) {
		memcpy(&a.a.v6, (const char *)m + off[f].v6, sizeof(a.a.v6));
		a.prefix = 128;
	} else {
		memcpy(&a.a.v4, (const char *)m + off[f].v4, sizeof(a.a.v4));
		a.prefix = 32;
	}
	return a;
}

bool ct_mapping_addr_is(const struct ct_mapping *m, enum ct_addr_field f, const struct net_addr *a)
{
	struct net_addr x = ct_mapping_addr(m, f);

	if (x.family != a->family)
		return false;
	return x.family == AF_INET6 ? memcmp(&x.a.v6, &a->a.v6, sizeof(x.a.v6)) == 0
				    : x.a.v4.s_addr == a->a.v4.s_addr;
}

bool ct_mapping_nated(const struct ct_mapping *m)
{
	return (m->status & IPS_NAT_MASK) != 0;
}

bool ct_mapping_same_flow(const struct ct_mapping *a, const struct ct_mapping *b)
{
	static const enum ct_addr_field f[] = { CT_ADDR_INTERNAL, CT_ADDR_PUBLIC, CT_ADDR_REMOTE };

	if (ct_mapping_family(a) != ct_mapping_family(b) || a->proto != b->proto ||
	    a->internal_port != b->internal_port || a->public_port != b->public_port ||
	    a->remote_port != b->remote_port)
		return false;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct net_addr x = ct_mapping_addr(a, f[i]);
		if (!ct_mapping_addr_is(b, f[i], &x))
			return false;
	}
	return true;
}

const char *ct_mapping_state(const struct ct_mapping *m)
{
	static const char *const tcp_states[] = {
		[TCP_CONNTRACK_NONE] = "NONE",
		[TCP_CONNTRACK_SYN_SENT] = "SYN_SENT",
		[TCP_CONNTRACK_SYN_RECV] = "SYN_RECV",
		[TCP_CONNTRACK_ESTABLISHED] = "ESTABLISHED",
		[TCP_CONNTRACK_FIN_WAIT] = "FIN_WAIT",
		[TCP_CONNTRACK_CLOSE_WAIT] = "CLOSE_WAIT",
		[TCP_CONNTRACK_LAST_ACK] = "LAST_ACK",
		[TCP_CONNTRACK_TIME_WAIT] = "TIME_WAIT",
		[TCP_CONNTRACK_CLOSE] = "CLOSE",
		[TCP_CONNTRACK_SYN_SENT2] = "SYN_SENT2",
	};

	if (m->proto == IPPROTO_TCP)
		return m->tcp_state < sizeof(tcp_states) / sizeof(tcp_states[0]) &&
				       tcp_states[m->tcp_state]
			       ? tcp_states[m->tcp_state]
			       : "?";
	if (m->status & IPS_ASSURED)
		return "ASSURED";
	return (m->status & IPS_SEEN_REPLY) ? "REPLIED" : "UNREPLIED";
}

/* "ADDR:PORT", "[ADDR6]:PORT" for an IPv6 address. */
static void format_ep(const struct ct_mapping *m, enum ct_addr_field f, uint16_t port, char *buf,
		      size_t len)
{
	struct net_addr a = ct_mapping_addr(m, f);
	char s[INET6_ADDRSTRLEN];

	if (!inet_ntop(a.family, &a.a, s, sizeof(s)))
		snprintf(s, sizeof(s), "?");
	snprintf(buf, len, a.family == AF_INET6 ? "[%s]:%u" : "%s:%u", s, port);
}

char *ct_mapping_format(const struct ct_mapping *m, char *buf, size_t len)
{
	char in[INET6_ADDRSTRLEN + 8], pub[INET6_ADDRSTRLEN + 8], rem[INET6_ADDRSTRLEN + 8];
	const char *proto = m->proto == IPPROTO_UDP ? "udp" : m->proto == IPPROTO_TCP ? "tcp" : NULL;
	char pbuf[8];
	int n;

	if (!proto) {
		snprintf(pbuf, sizeof(pbuf), "%u", m->proto);
		proto = pbuf;
	}
	format_ep(m, CT_ADDR_INTERNAL, m->internal_port, in, sizeof(in));
	format_ep(m, CT_ADDR_PUBLIC, m->public_port, pub, sizeof(pub));
	format_ep(m, CT_ADDR_REMOTE, m->remote_port, rem, sizeof(rem));
	n = snprintf(buf, len, "%s %s -> %s remote %s %s %us%s", proto, in, pub, rem,
		     ct_mapping_state(m), m->timeout,
		     m->inbound ? " inbound" : m->hairpin ? " hairpin" : "");
	if (m->has_counters && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " packets %llu/%llu bytes %llu/%llu",
			 (unsigned long long)m->orig_packets, (unsigned long long)m->reply_packets,
			 (unsigned long long)m->orig_bytes, (unsigned long long)m->reply_bytes);
	return buf;
}
