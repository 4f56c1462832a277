/* NAT64 in a node (topology key "nat64: PREFIX" on a nat node, docs/topology-format.md): the
 * lab runs Debian's tayga confined to the node, with its own config, TUN device and data
 * directory per lab, the packaged service never started. tayga translates IPv6 packets to
 * PREFIX (an IPv4 address embedded as RFC 6052 says) into IPv4 ones from a private pool inside
 * the node, and back; the node's own IPv4 profile then translates the pool to its WAN address
 * (NAT44), as it does its LAN. So an IPv6-only host behind the node reaches IPv4 peers at
 * PREFIX + their address, through whatever NAT the profile is.
 *
 * Per node, a directory $TMPDIR/punchlab-nat64-<lab>-<node> holds tayga.conf, its dynamic map
 * and its log; tayga is a lab child: lab_down() ends it with the namespaces and removes the
 * directory. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "base/netaddr.h"
#include "base/out.h"

struct lab;
struct topo;

/* The tayga the lab runs: $PUNCHLAB_TAYGA when set (tests point it at a missing file), else
 * /usr/sbin/tayga. */
const char *lab_nat64_program(void);

/* Start tayga in every nat node with a nat64 prefix and configure its TUN device there.
 * keep: the lab outlives this process. Returns 0, or -errno with dl naming the topology line
 * and what is wrong (tayga missing, tayga refusing its config or exiting: its last log line). */
int lab_nat64_start(struct lab *lab, bool keep, struct diag_list *dl);

/* Remove the per-node directories of a lab whose programs have ended (no-op when none). */
void lab_nat64_cleanup(const struct lab *lab);

/* Remove the directory of node's tayga in lab lab_name, if any (`lab down` of a kept lab). */
void lab_nat64_remove(const char *lab_name, const char *node_name);

/* tayga's dynamic pool (the same in every NAT64 node): the IPv4 sources of the flows it makes
 * of its IPv6 hosts' (the attestation counts them as the IPv6-only peer's own). */
void lab_nat64_pool(struct net_addr *out);

/* The value of the profile variable $LAN_IF for node n's IPv4 profile: its LAN interface
 * (lan_if), and for a NAT64 node also tayga's TUN device, as an nft set ({ "LAN", "nat64" }):
 * the IPv6-only hosts' traffic enters the IPv4 ruleset from the TUN device after tayga, and a
 * profile's egress filter (udp-blocked, web-only: iifname $LAN_IF ... drop) must see it as the
 * LAN's. Without it those filters let every NAT64 flow out. Written into val (64 bytes). */
void lab_nat64_lan_if(const struct topo *t, int n, const char *lan_if, char *val, size_t len);
