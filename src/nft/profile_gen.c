/* Profiles from behaviour (docs/profile-format.md "Generating profiles").
 *
 * Each behaviour of the header is one building block of the ruleset, and the blocks are
 * independent, so that every combination is one ruleset:
 *  - mapping x ports: who gets which public port. Endpoint-independent and address-dependent
 *    mappings keep a reuse map @mapping (internal endpoint, plus the remote address for
 *    address-dependent mapping -> public port), learnt after source NAT and consulted before
 *    the allocator; address-and-port-dependent mapping reuses nothing. The allocator for a new
 *    mapping: preserve = masquerade while no mapping holds the internal port as its public
 *    port (set @used), else masquerade random; random = masquerade random; sequential = snat
 *    to a port from numgen inc through the typed map @seq_ports (BRIEF trap: never numgen
 *    with an offset as the port). Plain masquerade would not do for preserve: it gives two
 *    LAN hosts that use the same port towards different remotes the same public port (port
 *    overloading, which RFC 4787 REQ-4 recommends against, and which breaks every map keyed
 *    by public port; topologies/same-port.yaml, tests/lab/same-port.sh), and with a mapping
 *    other than endpoint-independent it would reuse the port for the next remote, which
 *    would look endpoint-independent.
 *  - filtering: address-and-port-dependent is conntrack's own; endpoint-independent DNATs any
 *    inbound packet to a known public port through @eim (public port -> internal endpoint);
 *    address-dependent only when (public port, remote address) is in @peers.
 *  - hairpin: LAN traffic to $WAN_ADDR is DNATed through @eim and SNATed to $WAN_ADDR, where the
 *    kernel reuses the sender's mapping (hairpin-filtering endpoint-independent).
 *  - tcp-unsolicited: drop or reject in the input chain (no conntrack entry left behind, BRIEF).
 *  - udp-timeout: a ct timeout object applied at priority filter, and every UDP element of the
 *    dynamic maps and sets with the same lifetime (so profile_params.c can rewrite them). */
#include "nft/profile_gen.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

/* Sequential ports: 20000 + stride * counter, the counter cycling through SEQ_SLOTS values
 * (fewer when a long stride would pass 65535). A long cycle because a one-port snat drops a
 * flow whose port is still taken (BRIEF). */
#define SEQ_BASE 20000
#define SEQ_SLOTS 1024
/* TCP elements of the dynamic maps live as long as an established TCP mapping (RFC 5382
 * REQ-5: 2 h 4 min). profile_params.c rewrites only the UDP value, so it must differ. */
#define TCP_TIMEOUT 7440
/* Port parity: random ports of each parity come from PARITY_SLOTS ports from PARITY_BASE
 * (even) or PARITY_BASE + 1 (odd) on, two apart, picked by numgen random through a typed map. */
#define PARITY_BASE 50000
#define PARITY_SLOTS 1024
/* Port blocks: the subscriber whose address ends in byte K (1-254) owns the ports from
 * BLOCK_BASE + (K - 1) x size; every block must fit below 65536. */
#define BLOCK_BASE 1024
#define BLOCK_SUBSCRIBERS 254
#define BLOCK_MAX ((65535 - BLOCK_BASE + 1) / BLOCK_SUBSCRIBERS)

static const char *short_dep(enum profile_dependency d)
{
	switch (d) {
	case PROFILE_ENDPOINT_INDEPENDENT: return "ei";
	case PROFILE_ADDRESS_DEPENDENT: return "ad";
	case PROFILE_ADDRESS_AND_PORT_DEPENDENT: return "apd";
	default: return "?";
	}
}

static int seq_slots(int stride)
{
	int n = (65535 - SEQ_BASE) / stride + 1;

	return n < SEQ_SLOTS ? n : SEQ_SLOTS;
}

void profile_gen_header(struct profile_header *h, enum profile_dependency mapping,
			enum profile_dependency filtering, enum profile_ports ports, bool hairpin,
			enum profile_unsolicited tcp_unsolicited, int udp_timeout)
{
	memset(h, 0, sizeof(*h));
	h->mapping = mapping;
	h->filtering = filtering;
	h->ports = ports;
	h->stride = 1;
	h->hairpin = hairpin;
	h->hairpin_filtering = hairpin ? PROFILE_ENDPOINT_INDEPENDENT : PROFILE_DEPENDENCY_NONE;
	h->tcp_unsolicited = tcp_unsolicited;
	h->transports = PROFILE_UDP | PROFILE_TCP;
	h->udp_timeout = udp_timeout;
	h->udp_timeout_unreplied = udp_timeout;
	h->rfc3489 = profile_rfc3489_of(mapping, filtering);
	h->predictable = profile_predictable_of(mapping, ports);
	profile_gen_name(h);
}

void profile_gen_name(struct profile_header *h)
{
	char extra[64] = "";

	if (h->port_parity)
		snprintf(extra, sizeof(extra), "-parity");
	if (h->port_block)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "-block%d",
			 h->port_block);
	if (h->pooling != PROFILE_POOLING_NONE)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "-%s",
			 h->pooling == PROFILE_POOLING_PAIRED ? "paired" : "arbitrary");
	snprintf(h->name, sizeof(h->name), "gen-%s-%s-%s%s%s%s", short_dep(h->mapping),
		 short_dep(h->filtering), profile_ports_name(h->ports), h->hairpin ? "-hairpin" : "",
		 h->tcp_unsolicited == PROFILE_UNSOLICITED_RST ? "-rst" : "", extra);
	snprintf(h->description, sizeof(h->description),
		 "Generated: %s mapping, %s filtering, %s ports, %s, unsolicited SYN %s%s%s",
		 profile_dependency_name(h->mapping), profile_dependency_name(h->filtering),
		 profile_ports_name(h->ports), h->hairpin ? "hairpinning" : "no hairpinning",
		 h->tcp_unsolicited == PROFILE_UNSOLICITED_RST ? "reset" : "dropped",
		 h->port_parity ? ", port parity kept" : "", h->port_block ? ", port blocks" : "");
	if (h->pooling != PROFILE_POOLING_NONE)
		snprintf(h->description + strlen(h->description),
			 sizeof(h->description) - strlen(h->description), ", %s pooling of %d addresses",
			 h->pooling == PROFILE_POOLING_PAIRED ? "paired" : "arbitrary", h->npool);
}

static int refuse(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool dep_valid(enum profile_dependency d)
{
	return d == PROFILE_ENDPOINT_INDEPENDENT || d == PROFILE_ADDRESS_DEPENDENT ||
	       d == PROFILE_ADDRESS_AND_PORT_DEPENDENT;
}

int profile_gen_check(const struct profile_header *h, char *why, size_t len)
{
	int unreplied = profile_udp_unreplied(h);

	if (why && len)
		why[0] = '\0';
	if (!dep_valid(h->mapping))
		return refuse(why, len, "mapping: expected endpoint-independent, "
			      "address-dependent or address-and-port-dependent");
	if (!dep_valid(h->filtering))
		return refuse(why, len, "filtering: expected endpoint-independent, "
			      "address-dependent or address-and-port-dependent");
	if (h->ports != PROFILE_PORTS_PRESERVE && h->ports != PROFILE_PORTS_SEQUENTIAL &&
	    h->ports != PROFILE_PORTS_RANDOM)
		return refuse(why, len, "ports: expected preserve, sequential or random");
	if (h->stride < 1 || h->stride > PROFILE_STRIDE_MAX)
		return refuse(why, len, "stride: expected 1 to %d", PROFILE_STRIDE_MAX);
	if (h->stride != 1 && h->ports != PROFILE_PORTS_SEQUENTIAL)
		return refuse(why, len, "stride: only with sequential ports");
	if (h->hairpin && h->hairpin_filtering != PROFILE_ENDPOINT_INDEPENDENT &&
	    h->hairpin_filtering != PROFILE_DEPENDENCY_UNDECLARED)
		return refuse(why, len, "hairpin-filtering: the generator hairpins through the "
			      "map of public ports, which lets any LAN endpoint in: expected "
			      "endpoint-independent");
	if (!h->hairpin && h->hairpin_filtering != PROFILE_DEPENDENCY_NONE &&
	    h->hairpin_filtering != PROFILE_DEPENDENCY_UNDECLARED)
		return refuse(why, len, "hairpin-filtering: expected none without hairpinning");
	if (h->tcp_unsolicited != PROFILE_UNSOLICITED_DROP &&
	    h->tcp_unsolicited != PROFILE_UNSOLICITED_RST)
		return refuse(why, len, "tcp-unsolicited: expected drop or rst");
	if (h->transports != (PROFILE_UDP | PROFILE_TCP))
		return refuse(why, len, "transports: the generated ruleset translates both, "
			      "expected udp, tcp");
	if (h->udp_timeout < 1 || h->udp_timeout > PROFILE_UDP_TIMEOUT_MAX || unreplied < 1 ||
	    unreplied > PROFILE_UDP_TIMEOUT_MAX)
		return refuse(why, len, "udp-timeout: expected whole seconds from 1 to %d",
			      PROFILE_UDP_TIMEOUT_MAX);
	if (h->port_block < 0 || h->port_block > BLOCK_MAX)
		return refuse(why, len, "port-block: expected 0 (no blocks) to %d ports a "
			      "subscriber (%d subscribers' blocks must fit from port %d to 65535)",
			      BLOCK_MAX, BLOCK_SUBSCRIBERS, BLOCK_BASE);
	if (h->port_block && h->ports != PROFILE_PORTS_RANDOM)
		return refuse(why, len, "port-block: a subscriber's public ports are its block's, "
			      "picked at random by the kernel, so ports can only be random (ports "
			      "is %s)", profile_ports_name(h->ports));
	/* A preserved port has its parity; the generator keeps it where preservation fails
	 * (the port is held) by drawing from ports of that parity. A random picker of its own
	 * for every flow would collide too often in 1024 slots (a one-port snat drops a flow
	 * whose port is taken), and one sequence can not keep both parities. */
	if (h->port_parity && h->ports != PROFILE_PORTS_PRESERVE)
		return refuse(why, len, "port-parity: only with ports preserve (where a held port "
			      "is replaced by a random one of its parity); ports is %s",
			      profile_ports_name(h->ports));
	if (h->pooling != PROFILE_POOLING_NONE) {
		if (h->npool < 2 || h->npool > PROFILE_POOL_MAX)
			return refuse(why, len, "pooling: expected 2 to %d addresses",
				      PROFILE_POOL_MAX);
		/* the maps behind inbound DNAT and hairpinning know one public address */
		if (h->filtering != PROFILE_ADDRESS_AND_PORT_DEPENDENT || h->hairpin)
			return refuse(why, len, "pooling: only with address-and-port-dependent "
				      "filtering and no hairpinning (the map of public ports that "
				      "endpoint-independent or address-dependent filtering and "
				      "hairpinning use knows one public address)");
		if (h->ports == PROFILE_PORTS_SEQUENTIAL || h->port_block || h->port_parity)
			return refuse(why, len, "pooling: only with ports preserve or random, "
				      "without port-block or port-parity (their port maps name "
				      "$WAN_ADDR)");
	}
	/* profile_params.c tells the UDP elements of the dynamic maps from the TCP ones by
	 * their value (docs/profile-format.md "Parameters"). */
	if (h->udp_timeout == TCP_TIMEOUT || unreplied == TCP_TIMEOUT)
		return refuse(why, len, "udp-timeout: %d is the TCP lifetime of the generated "
			      "maps, which a cell's udp-timeout parameter must be able to tell "
			      "apart: choose another value", TCP_TIMEOUT);
	return 0;
}

/* The pieces a behaviour needs. */
struct gen_plan {
	bool eim;      /* public port -> internal endpoint (EI/AD filtering, hairpin) */
	bool peers;    /* (public port, remote address) contacted (AD filtering) */
	bool reuse;    /* internal endpoint [. remote address] -> public port */
	bool used;     /* public ports held by a mapping (preserve) */
	bool seq;      /* sequential ports */
	bool inbound;  /* inbound DNAT through @eim from the WAN */
	bool parity;   /* random ports of the internal port's parity */
};

static void gen_plan(const struct profile_header *h, struct gen_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->inbound = h->filtering != PROFILE_ADDRESS_AND_PORT_DEPENDENT;
	p->eim = p->inbound || h->hairpin;
	p->peers = h->filtering == PROFILE_ADDRESS_DEPENDENT;
	p->reuse = h->mapping != PROFILE_ADDRESS_AND_PORT_DEPENDENT;
	p->used = h->ports == PROFILE_PORTS_PRESERVE;
	p->seq = h->ports == PROFILE_PORTS_SEQUENTIAL;
	p->parity = h->port_parity;
}

/* The public address of a new mapping from the pool: paired, by a hash of the internal address
 * (every mapping of one host gets the same one); arbitrary, at random per mapping. */
static const char *pool_expr(const struct profile_header *h, char *buf, size_t len)
{
	size_t n;

	if (h->pooling == PROFILE_POOLING_NONE) {
		snprintf(buf, len, "$WAN_ADDR");
		return buf;
	}
	n = (size_t)snprintf(buf, len, "%s mod %d map { ",
			     h->pooling == PROFILE_POOLING_PAIRED ? "jhash ip saddr" : "numgen random",
			     h->npool);
	for (int i = 0; i < h->npool && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%d : %s", i ? ", " : "", i, h->pool[i]);
	if (n < len)
		snprintf(buf + n, len - n, " }");
	return buf;
}

static void write_pool_line(const struct profile_header *h, FILE *f)
{
	fprintf(f, "# pooling: %s", h->pooling == PROFILE_POOLING_PAIRED ? "paired" : "arbitrary");
	for (int i = 0; i < h->npool; i++)
		fprintf(f, "%s%s", i ? ", " : " ", h->pool[i]);
	fputc('\n', f);
}

static void write_header(const struct profile_header *h, FILE *f)
{
	char buf[64];
	char cmd[1024];

	fprintf(f, "# name: %s\n", h->name);
	fprintf(f, "# rfc3489: %s\n",
		profile_rfc3489_name(profile_rfc3489_of(h->mapping, h->filtering)));
	fprintf(f, "# mapping: %s\n", profile_dependency_name(h->mapping));
	fprintf(f, "# filtering: %s\n", profile_dependency_name(h->filtering));
	fprintf(f, "# ports: %s\n", profile_ports_name(h->ports));
	if (h->ports == PROFILE_PORTS_SEQUENTIAL && h->stride != 1)
		fprintf(f, "# stride: %d\n", h->stride);
	fprintf(f, "# hairpin: %s\n", h->hairpin ? "yes" : "no");
	if (h->hairpin)
		fprintf(f, "# hairpin-filtering: endpoint-independent\n");
	fprintf(f, "# tcp-unsolicited: %s\n", profile_unsolicited_name(h->tcp_unsolicited));
	fprintf(f, "# predictable: %s\n",
		profile_predictable_of(h->mapping, h->ports) ? "yes" : "no");
	fprintf(f, "# transports: %s\n", profile_transports_format(h->transports, buf, sizeof(buf)));
	fprintf(f, "# udp-timeout: %s\n", profile_udp_timeout_format(h, buf, sizeof(buf)));
	fprintf(f, "# description: %s\n", h->description);
	if (h->port_parity)
		fprintf(f, "# port-parity: yes\n");
	if (h->port_block)
		fprintf(f, "# port-block: %d\n", h->port_block);
	if (h->pooling != PROFILE_POOLING_NONE)
		write_pool_line(h, f);
	fprintf(f, "#\n");
	fprintf(f, "#   LAN $LAN_NET -- $LAN_IF [ nat ] $WAN_IF ($WAN_ADDR) -- internet\n");
	fprintf(f, "#\n");
	fprintf(f, "# Written by: %s\n", profile_gen_command(h, cmd, sizeof(cmd)));
	fprintf(f, "# (src/nft/profile_gen.c; docs/profile-format.md \"Generating profiles\").\n");
}

/* One comment line per building block, so that a reader of the file sees why each part is
 * there without reading the generator. */
static void write_explanation(const struct profile_header *h, const struct gen_plan *p, FILE *f)
{
	if (p->reuse)
		fprintf(f, "# Mapping: @mapping remembers the public port of each internal endpoint%s,\n"
			"# learnt after source NAT; a new flow that finds its key there keeps that port.\n",
			h->mapping == PROFILE_ADDRESS_DEPENDENT ? " per remote address" : "");
	if (h->mapping == PROFILE_ADDRESS_AND_PORT_DEPENDENT)
		fprintf(f, "# Mapping: every new flow gets a new public port (address-and-port-dependent).\n");
	if (p->used)
		fprintf(f, "# Ports: the internal port while no mapping holds it (@used), else a random "
			"one: no port\n# overloading (two LAN hosts never share a public port).\n");
	if (h->ports == PROFILE_PORTS_RANDOM && !h->port_block)
		fprintf(f, "# Ports: masquerade random picks a random port for every new mapping.\n");
	if (h->port_block)
		fprintf(f, "# Ports: port-block allocation. The subscriber whose address ends in K owns "
			"the %d ports\n# from %d + (K - 1) x %d; the kernel picks one at random; a "
			"flow that needs one more\n# than the block holds is dropped (RFC 6888 "
			"REQ-3/4: a per-subscriber limit). One LAN of at\n# most 254 subscribers "
			"(a /24).\n", h->port_block, BLOCK_BASE, h->port_block);
	if (h->pooling != PROFILE_POOLING_NONE)
		fprintf(f, "# Address pooling (RFC 4787 REQ-2): a new mapping's public address comes "
			"from the pool,\n# %s. The topology must give this node every pool address on "
			"its WAN side.\n", h->pooling == PROFILE_POOLING_PAIRED ?
			"by a hash of the internal address (paired: one address per host)" :
			"at random for every mapping (arbitrary)");
	if (p->parity)
		fprintf(f, "# Port parity (RFC 4787 section 4.2.2): a held internal port is replaced by "
			"a random one\n# of its parity (@parity_even, @parity_odd).\n");
	if (p->seq)
		fprintf(f, "# Ports: a counter (numgen inc) through @seq_ports: %d + %d x counter, %d "
			"ports, then it wraps\n# (nft 1.0.6: numgen with an offset as the port is "
			"byte-swapped, hence the map).\n", SEQ_BASE, h->stride, seq_slots(h->stride));
	if (h->filtering == PROFILE_ENDPOINT_INDEPENDENT)
		fprintf(f, "# Filtering: any inbound packet to a public port @eim knows is DNATed to "
			"its internal endpoint.\n");
	else if (h->filtering == PROFILE_ADDRESS_DEPENDENT)
		fprintf(f, "# Filtering: inbound is DNATed through @eim only from an address the "
			"public port sent to (@peers).\n");
	else
		fprintf(f, "# Filtering: conntrack's own, only replies from the remote endpoint "
			"contacted.\n");
	if (h->hairpin)
		fprintf(f, "# Hairpin: LAN traffic to $WAN_ADDR is DNATed through @eim and SNATed to the "
			"sender's public\n# endpoint for that destination, as the mapping has it; any "
			"LAN endpoint may send\n# (hairpin-filtering endpoint-independent). Needs "
			"net.bridge.bridge-nf-call-iptables=0 on a bridged LAN (the lab's business).\n");
	fprintf(f, "# Unsolicited inbound: %s in the input chain, which leaves no conntrack "
		"entry to steal a\n# port from a later outbound flow.\n",
		h->tcp_unsolicited == PROFILE_UNSOLICITED_RST ?
		"TCP reset, ICMP port unreachable for UDP," : "dropped");
	if (p->eim)
		fprintf(f, "# Like every dynamic-map NAT it assumes one LAN host per public port.\n");
	fprintf(f, "\n# Loaded into a fresh node, so it does not delete an old table first; to reload "
		"by hand:\n# nft delete table ip punchlab_nat, then nft -f.\n\n");
}

static void write_timed(FILE *f, const char *kind, const char *name, const char *type,
			int timeout)
{
	fprintf(f, "\t%s %s {\n\t\ttypeof %s\n\t\tflags dynamic, timeout\n\t\ttimeout %ds\n\t}\n\n",
		kind, name, type, timeout);
}

/* An update of one dynamic map or set for UDP and for TCP, each with its lifetime. */
static void write_learn(FILE *f, const char *set, const char *key, const char *data, int udp)
{
	static const char *const proto[] = { "udp", "tcp" };

	for (int i = 0; i < 2; i++)
		fprintf(f, "\t\toifname $WAN_IF ct direction original ct original ip saddr $LAN_NET "
			"meta l4proto %s update @%s { %s timeout %ds%s%s }\n", proto[i], set, key,
			i == 0 ? udp : TCP_TIMEOUT, data ? " : " : "", data ? data : "");
}

/* The source of a hairpinned packet: the sender's public endpoint for this destination, as
 * the mapping behaviour has it. The destination is a public endpoint of this very NAT
 * ($WAN_ADDR, `ct original ip daddr`). Endpoint-independent: snat to $WAN_ADDR, where the
 * kernel reuses the sender's existing mapping. Address-dependent: the mapping of the sender for
 * $WAN_ADDR from @mapping, else a new random one (learnt in the learn chain). Address-and-port-
 * dependent: a new random port (`random` keeps the kernel from reusing a mapping). Without
 * this a symmetric NAT would hairpin from the mapping its host registered with a rendezvous,
 * and peers behind it would meet where the theory (rightly) says they can not. */
static void write_hairpin_snat(const struct profile_header *h, FILE *f)
{
	const char *m = "\t\toifname $LAN_IF ip saddr $LAN_NET ct status dnat ";

	switch (h->mapping) {
	case PROFILE_ADDRESS_DEPENDENT:
		fprintf(f, "%smeta l4proto { tcp, udp } snat ip to $WAN_ADDR : meta l4proto . "
			"ip saddr . th sport . ct original ip daddr map @mapping\n", m);
		fprintf(f, "%ssnat ip to $WAN_ADDR random\n", m);
		break;
	case PROFILE_ADDRESS_AND_PORT_DEPENDENT:
		fprintf(f, "%ssnat ip to $WAN_ADDR random\n", m);
		break;
	default:
		fprintf(f, "%ssnat ip to $WAN_ADDR\n", m);
		break;
	}
}

static void write_ruleset(const struct profile_header *h, const struct gen_plan *p, FILE *f)
{
	int replied = h->udp_timeout, unreplied = profile_udp_unreplied(h);
	bool ad = h->mapping == PROFILE_ADDRESS_DEPENDENT;
	bool pool = h->pooling != PROFILE_POOLING_NONE;
	/* with a pool the reuse map keeps the public address too */
	const char *reuse_type = ad ? (pool ? "meta l4proto . ip saddr . th sport . ip daddr : "
					      "ip saddr . th sport"
					    : "meta l4proto . ip saddr . th sport . ip daddr : th sport")
				    : (pool ? "meta l4proto . ip saddr . th sport : ip saddr . th sport"
					    : "meta l4proto . ip saddr . th sport : th sport");
	char px[512];

	pool_expr(h, px, sizeof(px));
	const char *reuse_key = ad ? "meta l4proto . ip saddr . th sport . ip daddr"
				   : "meta l4proto . ip saddr . th sport";
	const char *reuse_learn = ad ?
		"meta l4proto . ct original ip saddr . ct original proto-src . ip daddr" :
		"meta l4proto . ct original ip saddr . ct original proto-src";

	fprintf(f, "table ip punchlab_nat {\n");
	fprintf(f, "\t# UDP mapping lifetime (header udp-timeout), applied after conntrack "
		"(priority filter);\n\t# at priority raw it would do nothing.\n");
	fprintf(f, "\tct timeout udp_mapping {\n\t\tprotocol udp\n\t\tl3proto ip\n"
		"\t\tpolicy = { unreplied : %d, replied : %d }\n\t}\n\n", unreplied, replied);
	if (p->eim) {
		fprintf(f, "\t# protocol . public port -> internal address . internal port\n");
		write_timed(f, "map", "eim", "meta l4proto . th dport : ip saddr . th sport", replied);
	}
	if (p->peers) {
		fprintf(f, "\t# protocol . public port . remote address the public port has sent to\n");
		write_timed(f, "set", "peers", "meta l4proto . th sport . ip daddr", replied);
	}
	if (p->reuse) {
		fprintf(f, "\t# protocol . internal endpoint%s -> its public port\n",
			ad ? " . remote address" : "");
		write_timed(f, "map", "mapping", reuse_type, replied);
	}
	if (p->used) {
		fprintf(f, "\t# protocol . public port held by a mapping\n");
		write_timed(f, "set", "used", "meta l4proto . th sport", replied);
	}
	if (p->seq) {
		int n = seq_slots(h->stride);

		fprintf(f, "\t# new-flow counter -> public port (port = %d + %d * counter)\n",
			SEQ_BASE, h->stride);
		fprintf(f, "\tmap seq_ports {\n\t\ttypeof numgen inc mod %d : th sport\n"
			"\t\telements = {", n);
		for (int i = 0; i < n; i++)
			fprintf(f, "%s%d : %d", i % 8 ? ", " : (i ? ",\n\t\t\t" : "\n\t\t\t"), i,
				SEQ_BASE + h->stride * i);
		fprintf(f, "\n\t\t}\n\t}\n\n");
	}
	if (p->parity)
		for (int odd = 0; odd < 2; odd++) {
			fprintf(f, "\t# random slot -> public port of %s parity, for a held internal "
				"port\n", odd ? "odd" : "even");
			fprintf(f, "\tmap parity_%s {\n\t\ttypeof numgen random mod %d : th sport\n"
				"\t\telements = {", odd ? "odd" : "even", PARITY_SLOTS);
			for (int i = 0; i < PARITY_SLOTS; i++)
				fprintf(f, "%s%d : %d", i % 8 ? ", " : (i ? ",\n\t\t\t" : "\n\t\t\t"),
					i, PARITY_BASE + odd + 2 * i);
			fprintf(f, "\n\t\t}\n\t}\n\n");
		}
	fprintf(f, "\tchain timeouts {\n\t\ttype filter hook prerouting priority filter; "
		"policy accept;\n\t\tct state new meta l4proto udp ct timeout set \"udp_mapping\"\n"
		"\t}\n\n");

	if (p->eim) {
		fprintf(f, "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; "
			"policy accept;\n");
		if (p->inbound)
			fprintf(f, "\t\tiifname $WAN_IF ip daddr $WAN_ADDR meta l4proto { tcp, udp } "
				"%sdnat ip to meta l4proto . th dport map @eim\n",
				p->peers ? "meta l4proto . th dport . ip saddr @peers " : "");
		if (h->hairpin)
			fprintf(f, "\t\tiifname $LAN_IF ip daddr $WAN_ADDR meta l4proto { tcp, udp } "
				"dnat ip to meta l4proto . th dport map @eim\n");
		fprintf(f, "\t}\n\n");
	}

	fprintf(f, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; "
		"policy accept;\n");
	if (p->reuse && pool)
		fprintf(f, "\t\toifname $WAN_IF meta l4proto { tcp, udp } snat ip to %s map @mapping\n",
			reuse_key);
	else if (p->reuse)
		fprintf(f, "\t\toifname $WAN_IF meta l4proto { tcp, udp } snat ip to $WAN_ADDR : "
			"%s map @mapping\n", reuse_key);
	switch (h->ports) {
	case PROFILE_PORTS_PRESERVE:
		if (pool) {
			fprintf(f, "\t\toifname $WAN_IF meta l4proto { tcp, udp } meta l4proto . "
				"th sport != @used snat ip to %s\n\t\toifname $WAN_IF snat ip to %s "
				"random\n", px, px);
			break;
		}
		fprintf(f, "\t\toifname $WAN_IF meta l4proto { tcp, udp } meta l4proto . "
			"th sport != @used masquerade\n");
		if (p->parity)
			fprintf(f, "\t\toifname $WAN_IF meta l4proto { tcp, udp } th sport & 0x1 == 0x0 "
				"snat ip to $WAN_ADDR : numgen random mod %d map @parity_even\n"
				"\t\toifname $WAN_IF meta l4proto { tcp, udp } th sport & 0x1 == 0x1 "
				"snat ip to $WAN_ADDR : numgen random mod %d map @parity_odd\n",
				PARITY_SLOTS, PARITY_SLOTS);
		fprintf(f, "\t\toifname $WAN_IF masquerade random\n");
		break;
	case PROFILE_PORTS_SEQUENTIAL:
		fprintf(f, "\t\toifname $WAN_IF meta l4proto { tcp, udp } snat ip to $WAN_ADDR : "
			"numgen inc mod %d map @seq_ports\n\t\toifname $WAN_IF masquerade\n",
			seq_slots(h->stride));
		break;
	case PROFILE_PORTS_RANDOM:
		if (h->port_block) {
			/* the last byte of the source address (@nh,120,8) picks the block; a
			 * block with no free port leaves the kernel no tuple: the flow is dropped */
			fprintf(f, "\t\toifname $WAN_IF meta l4proto { tcp, udp } snat ip to "
				"@nh,120,8 map {");
			for (int k = 1; k <= BLOCK_SUBSCRIBERS; k++) {
				int lo = BLOCK_BASE + (k - 1) * h->port_block;

				fprintf(f, "%s%d : $WAN_ADDR . %d-%d", k % 4 == 1 ? "\n\t\t\t" : " ",
					k, lo, lo + h->port_block - 1);
				if (k < BLOCK_SUBSCRIBERS)
					fputc(',', f);
			}
			fprintf(f, "\n\t\t}\n");
		}
		if (pool)
			fprintf(f, "\t\toifname $WAN_IF snat ip to %s random\n", px);
		else
			fprintf(f, "\t\toifname $WAN_IF masquerade random\n");
		break;
	}
	if (h->hairpin)
		write_hairpin_snat(h, f);
	fprintf(f, "\t}\n\n");

	if (p->eim || p->peers || p->reuse || p->used) {
		fprintf(f, "\t# Learn from every outbound packet, after source NAT (th sport is the "
			"public port).\n");
		fprintf(f, "\tchain learn {\n\t\ttype filter hook postrouting priority srcnat + 10; "
			"policy accept;\n");
		if (p->eim)
			write_learn(f, "eim", "meta l4proto . th sport",
				    "ct original ip saddr . ct original proto-src", replied);
		if (p->peers)
			write_learn(f, "peers", "meta l4proto . th sport . ip daddr", NULL, replied);
		if (p->reuse)
			write_learn(f, "mapping", reuse_learn, pool ? "ip saddr . th sport" : "th sport",
				    replied);
		/* a hairpinned flow's mapping, keyed by the public address it was sent to */
		if (h->hairpin && h->mapping == PROFILE_ADDRESS_DEPENDENT)
			for (int i = 0; i < 2; i++)
				fprintf(f, "\t\toifname $LAN_IF ct direction original ct status dnat "
					"ct original ip saddr $LAN_NET meta l4proto %s update @mapping { "
					"meta l4proto . ct original ip saddr . ct original proto-src . "
					"ct original ip daddr timeout %ds : th sport }\n", i ? "tcp" : "udp",
					i ? TCP_TIMEOUT : replied);
		if (p->used)
			write_learn(f, "used", "meta l4proto . th sport", NULL, replied);
		fprintf(f, "\t}\n\n");
	}

	fprintf(f, "\tchain forward {\n\t\ttype filter hook forward priority filter; "
		"policy accept;\n");
	if (p->inbound)
		fprintf(f, "\t\tiifname $WAN_IF ct state new ct status dnat accept\n");
	fprintf(f, "\t\tiifname $WAN_IF ct state new,invalid drop\n\t}\n\n");

	fprintf(f, "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n");
	if (h->tcp_unsolicited == PROFILE_UNSOLICITED_RST)
		fprintf(f, "\t\tiifname $WAN_IF ct state new meta l4proto tcp counter reject with "
			"tcp reset\n\t\tiifname $WAN_IF ct state new meta l4proto udp counter "
			"reject with icmp type port-unreachable\n");
	fprintf(f, "\t\tiifname $WAN_IF ct state new,invalid drop\n");
	/* A LAN packet to a public port no mapping claims would be answered by this node and
	 * leave a conntrack entry holding the port that a hairpinned flow should get. */
	if (h->hairpin)
		fprintf(f, "\t\tiifname $LAN_IF ip daddr $WAN_ADDR ct state new meta l4proto "
			"{ tcp, udp } drop\n");
	fprintf(f, "\t}\n}\n");
}

int profile_generate(const struct profile_header *h, FILE *out, char *why, size_t len)
{
	struct gen_plan p;
	int r = profile_gen_check(h, why, len);

	if (r < 0)
		return r;
	gen_plan(h, &p);
	write_header(h, out);
	write_explanation(h, &p, out);
	write_ruleset(h, &p, out);
	if (fflush(out) != 0 || ferror(out))
		return refuse(why, len, "writing the profile: %s", strerror(errno ? errno : EIO)),
		       -EIO;
	return 0;
}

char *profile_gen_command(const struct profile_header *h, char *buf, size_t len)
{
	char stride[320] = "";
	char t[64];

	if (h->ports == PROFILE_PORTS_SEQUENTIAL && h->stride != 1)
		snprintf(stride, sizeof(stride), " --stride %d", h->stride);
	if (h->port_parity)
		snprintf(stride + strlen(stride), sizeof(stride) - strlen(stride), " --port-parity yes");
	if (h->port_block)
		snprintf(stride + strlen(stride), sizeof(stride) - strlen(stride), " --port-block %d",
			 h->port_block);
	if (h->pooling != PROFILE_POOLING_NONE) {
		snprintf(stride + strlen(stride), sizeof(stride) - strlen(stride),
			 " --pooling %s --pool ", h->pooling == PROFILE_POOLING_PAIRED ? "paired" :
			 "arbitrary");
		for (int i = 0; i < h->npool; i++)
			snprintf(stride + strlen(stride), sizeof(stride) - strlen(stride), "%s%s",
				 i ? "," : "", h->pool[i]);
	}
	profile_udp_timeout_format(h, t, sizeof(t));
	/* The split form has blanks: quote it for the shell. */
	snprintf(buf, len, "punchlab profile new --mapping %s --filtering %s --ports %s%s "
		 "--hairpin %s --tcp-unsolicited %s --udp-timeout %s%s%s%s%s",
		 profile_dependency_name(h->mapping), profile_dependency_name(h->filtering),
		 profile_ports_name(h->ports), stride, h->hairpin ? "yes" : "no",
		 profile_unsolicited_name(h->tcp_unsolicited), strchr(t, ' ') ? "'" : "", t,
		 strchr(t, ' ') ? "'" : "", h->name[0] ? " --name " : "", h->name);
	return buf;
}
