/* Profile headers: the behaviour a NAT profile declares (format: docs/profile-format.md).
 *
 * Every file under nat-profiles/ starts with a block of "# key: value" lines that states, in
 * the terms of RFC 4787 and RFC 3489, how the ruleset below it behaves. This module parses that
 * block into a struct profile_header; it never looks at the ruleset (libnftables does, when a
 * lab loads it) and it does not check that the ruleset behaves as declared (classify does).
 *
 * Pure C, no allocation: a header is plain data. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "base/out.h"

/* RFC 3489 name. Determined by mapping and filtering (see profile_rfc3489_of()). */
enum profile_rfc3489 {
	PROFILE_FULL_CONE,
	PROFILE_RESTRICTED_CONE,
	PROFILE_PORT_RESTRICTED_CONE,
	PROFILE_SYMMETRIC,
};

/* RFC 4787 mapping and filtering behaviour. The last two values exist for hairpin-filtering
 * only (mapping and filtering never take them): NONE, the NAT lets no hairpinned packet through
 * (it does not hairpin); UNDECLARED, the header does not say (allowed only with hairpin: no). */
enum profile_dependency {
	PROFILE_ENDPOINT_INDEPENDENT,
	PROFILE_ADDRESS_DEPENDENT,
	PROFILE_ADDRESS_AND_PORT_DEPENDENT,
	PROFILE_DEPENDENCY_NONE,
	PROFILE_DEPENDENCY_UNDECLARED,
};

/* How the public port of a new mapping is chosen. */
enum profile_ports {
	PROFILE_PORTS_PRESERVE,   /* the internal port, when free */
	PROFILE_PORTS_SEQUENTIAL, /* the last one plus a fixed stride */
	PROFILE_PORTS_RANDOM,
};

/* What an unsolicited inbound TCP SYN gets (UDP: nothing, or ICMP port unreachable). */
enum profile_unsolicited {
	PROFILE_UNSOLICITED_DROP,
	PROFILE_UNSOLICITED_RST,
};

/* The address family a profile filters and translates: its ruleset is loaded with the NAT
 * node's addresses of that family ($WAN_ADDR, $LAN_ADDR, $LAN_NET), so a node without them
 * can not run it. IPv4 is the default so that every header written before stays valid. */
enum profile_family {
	PROFILE_FAMILY_IPV4,
	PROFILE_FAMILY_IPV6,
};

/* What the node does to addresses (header key translation): NAPT, the default (addresses and
 * ports rewritten per flow: every other profile); none (a firewall: the home is on routed
 * addresses, a host's public endpoint is its own); prefix (NPTv6, RFC 6296: the internal prefix
 * is rewritten to an external one, hosts' interface identifiers and ports kept). The lab checks
 * that the node's LAN fits (lab_translation_check()), classify picks a lab that routes the LAN
 * for none (classify_topology_name()). */
enum profile_translation {
	PROFILE_TRANSLATION_NAPT,
	PROFILE_TRANSLATION_NONE,
	PROFILE_TRANSLATION_PREFIX,
};
/* Port-mapping protocols the router offers (bit mask, header key portmap): the lab runs
 * miniupnpd in the NAT node for them (lab/portmapd.h). */
#define PROFILE_PORTMAP_UPNP 0x1u
#define PROFILE_PORTMAP_NATPMP 0x2u
#define PROFILE_PORTMAP_PCP 0x4u

/* Transports the declared behaviour covers (bit mask). */
#define PROFILE_UDP 0x1u
#define PROFILE_TCP 0x2u

/* The keys, in the order the format documents them. */
enum profile_key {
	PROFILE_KEY_NAME,
	PROFILE_KEY_RFC3489,
	PROFILE_KEY_MAPPING,
	PROFILE_KEY_FILTERING,
	PROFILE_KEY_PORTS,
	PROFILE_KEY_STRIDE, /* optional: only with ports: sequential, default 1 */
	PROFILE_KEY_HAIRPIN,
	PROFILE_KEY_HAIRPIN_FILTERING, /* required with hairpin: yes; optional (none) with no */
	PROFILE_KEY_TCP_UNSOLICITED,
	PROFILE_KEY_PREDICTABLE,
	PROFILE_KEY_TRANSPORTS,
	PROFILE_KEY_UDP_TIMEOUT,
	PROFILE_KEY_DESCRIPTION,
	/* Optional behaviours beyond RFC 4787's classes (docs/profile-format.md "Generating
	 * profiles"); classify does not measure them, their own lab tests do. */
	PROFILE_KEY_PORT_PARITY, /* optional: yes or no (default) */
	PROFILE_KEY_PORT_BLOCK,  /* optional: ports per subscriber, 0 (default) for no blocks */
	PROFILE_KEY_POOLING,     /* optional: paired|arbitrary ADDR, ADDR... (default: none) */
	PROFILE_KEY_FAMILY,      /* optional: ipv4 (default) or ipv6 */
	PROFILE_KEY_OUTBOUND,    /* optional: all (default), no-udp, tcp:PORT,PORT... */
	PROFILE_KEY_PORTMAP,     /* optional: upnp, natpmp, pcp or none (default) */
	PROFILE_KEY_TRANSLATION, /* optional: napt (default), none or prefix */
	PROFILE_KEY_COUNT,
};

#define PROFILE_NAME_MAX 63
#define PROFILE_DESCRIPTION_MAX 255
#define PROFILE_STRIDE_MAX 1024
#define PROFILE_UDP_TIMEOUT_MAX 86400
#define PROFILE_PORT_BLOCK_MAX 256
#define PROFILE_POOL_MAX 8
#define PROFILE_OUTBOUND_PORTS_MAX 8

/* Address pooling (RFC 4787 section 4.1, REQ-2): which of several public addresses a mapping
 * gets. NONE: the NAT's one address ($WAN_ADDR). PAIRED: every mapping of one internal address
 * gets the same public address; ARBITRARY: any. */
enum profile_pooling {
	PROFILE_POOLING_NONE,
	PROFILE_POOLING_PAIRED,
	PROFILE_POOLING_ARBITRARY,
};

struct profile_header {
	char file[512];                /* as given to the parser */
	char name[PROFILE_NAME_MAX + 1];
	enum profile_rfc3489 rfc3489;
	enum profile_dependency mapping;
	enum profile_dependency filtering;
	enum profile_ports ports;
	int stride;                    /* step between sequential ports; 1 unless declared */
	bool hairpin;
	/* Who may send a hairpinned packet to a public endpoint (RFC 4787 section 5's filtering,
	 * applied to senders on the inside): endpoint-independent, address-dependent,
	 * address-and-port-dependent, NONE (no hairpinning), or UNDECLARED (key absent, which
	 * only hairpin: no allows; line[PROFILE_KEY_HAIRPIN_FILTERING] is then 0). */
	enum profile_dependency hairpin_filtering;
	enum profile_unsolicited tcp_unsolicited;
	bool predictable;
	unsigned transports;           /* PROFILE_UDP | PROFILE_TCP */
	/* UDP mapping lifetimes in seconds: udp_timeout for a mapping that saw a reply (conntrack's
	 * "replied"), udp_timeout_unreplied for one that did not. "udp-timeout: 30" sets both;
	 * "udp-timeout: unreplied 30, replied 120" sets them apart. Both are parameters a cell
	 * can set (nft/profile_params.h). udp_timeout_unreplied 0 (a header filled in by hand)
	 * means the same as udp_timeout: read it with profile_udp_unreplied(). */
	int udp_timeout;
	int udp_timeout_unreplied;
	char description[PROFILE_DESCRIPTION_MAX + 1];
	/* RFC 4787 section 4.2.2: a public port of the internal port's parity (even to even). */
	bool port_parity;
	/* Port-block allocation (RFC 6888 REQ-3/4, a CGN's per-subscriber limit): each internal
	 * address owns this many public ports, and a flow that needs another is refused; 0: none. */
	int port_block;
	/* Address pooling over pool[0..npool-1] (dotted IPv4, 2 to PROFILE_POOL_MAX addresses the
	 * NAT node holds on its WAN side: the topology gives them). */
	enum profile_pooling pooling;
	int npool;
	char pool[PROFILE_POOL_MAX][16];
	enum profile_family family;    /* ipv4 unless declared */
	enum profile_translation translation; /* napt unless declared */
	/* What the network lets leave it (key outbound): a firewall in front of the NAT that
	 * blocks all UDP (outbound_no_udp), and with outbound_nports > 0 passes TCP only to
	 * outbound_ports[] (and no UDP: "tcp:80,443"). All zero (the default): everything leaves. */
	bool outbound_no_udp;
	int outbound_nports;
	int outbound_ports[PROFILE_OUTBOUND_PORTS_MAX];
	/* Port-mapping protocols the router answers (PROFILE_PORTMAP_*; 0: none). A mapping made
	 * over one of them is endpoint-independent and unfiltered whatever mapping and filtering
	 * say: they describe the router's NAT for flows nobody asked it to map. */
	unsigned portmap;
	int line[PROFILE_KEY_COUNT];   /* line of each key in the file, 0 when absent */
	int end_line;                  /* first line after the header */
};

/* Parse the header of the profile file at path into *h. Every error found is added to dl as
 * FILE:LINE: naming the key and what is expected (unknown key, unknown or malformed value,
 * duplicate key, missing key, an rfc3489 name that contradicts mapping and filtering, a stride
 * without sequential ports, a hairpin-filtering that contradicts hairpin or is missing with
 * hairpin: yes). Returns 0; -EINVAL when dl holds errors (*h is then unusable); or
 * another -errno when the file cannot be read (also added to dl). */
int profile_header_parse_file(struct profile_header *h, const char *path, struct diag_list *dl);

/* The same from a buffer of len bytes (need not be NUL-terminated); name stands for the file
 * name in diagnostics and in h->file. */
int profile_header_parse_buffer(struct profile_header *h, const char *name, const char *buf,
				size_t len, struct diag_list *dl);

/* The value of a pooling line ("paired 203.0.113.2, 203.0.113.3"; commas with or without
 * blanks) into h->pooling, npool and pool. Returns 0, or -1 when malformed: not paired or
 * arbitrary, not 2 to PROFILE_POOL_MAX distinct IPv4 addresses. */
int profile_pooling_parse(const char *v, struct profile_header *h);

/* The family the header of the profile at path declares (ipv4 when it says nothing), or -1
 * when the header does not parse (whoever parses it next reports why). */
int profile_family_of_file(const char *path);
/* The value of an outbound line ("all", "no-udp", "tcp:80,443") into h's outbound fields.
 * Returns 0, or -1 when malformed (ports 1 to 65535, 1 to PROFILE_OUTBOUND_PORTS_MAX distinct). */
int profile_outbound_parse(const char *v, struct profile_header *h);

/* Whether the network behind h lets a packet of this transport to this destination port out
 * (h NULL: no NAT, everything leaves). */
bool profile_outbound_allows(const struct profile_header *h, bool tcp, int port);

/* The header spelling of h's outbound fields ("all", "no-udp", "tcp:80,443") into buf. */
char *profile_outbound_format(const struct profile_header *h, char *buf, size_t len);

/* The RFC 3489 name implied by RFC 4787 mapping and filtering: a cone for each filtering
 * behaviour when the mapping is endpoint-independent, symmetric otherwise. */
enum profile_rfc3489 profile_rfc3489_of(enum profile_dependency mapping,
					enum profile_dependency filtering);

/* Whether a port can be predicted (the Wikipedia seed's notion): the mapping is
 * endpoint-independent, or the port is the internal one or the next in a sequence. */
bool profile_predictable_of(enum profile_dependency mapping, enum profile_ports ports);

/* The spelling used in headers and reports ("port-restricted-cone", "address-dependent",
 * "sequential", "rst", "udp-timeout"...). Never NULL: "?" for a value out of range. */
const char *profile_rfc3489_name(enum profile_rfc3489 v);
const char *profile_dependency_name(enum profile_dependency v); /* "none", "undeclared" too */
const char *profile_ports_name(enum profile_ports v);
const char *profile_unsolicited_name(enum profile_unsolicited v);
const char *profile_key_name(enum profile_key k);
const char *profile_family_name(enum profile_family v); /* "ipv4", "ipv6" */
const char *profile_translation_name(enum profile_translation v); /* "napt", "none", "prefix" */

/* "udp", "tcp", "udp, tcp" (the header spelling) into buf; returns buf. */
char *profile_transports_format(unsigned transports, char *buf, size_t len);

/* The portmap header value: "none" or "upnp, natpmp, pcp" (any, each once) into *mask
 * (PROFILE_PORTMAP_*); v is modified. 0 or -EINVAL. And back, as the header writes it. */
int profile_portmap_parse(char *v, unsigned *mask);
char *profile_portmap_format(unsigned mask, char *buf, size_t len);

/* The header spelling of the UDP lifetimes: "30", or "unreplied 30, replied 120" when they
 * differ. Returns buf. */
char *profile_udp_timeout_format(const struct profile_header *h, char *buf, size_t len);

/* The unreplied lifetime: udp_timeout_unreplied, or udp_timeout when that is 0. */
int profile_udp_unreplied(const struct profile_header *h);
