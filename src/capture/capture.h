/* Packet captures of a lab (`punchlab run --pcap DIR`, `punchlab matrix --pcap failed|all`):
 * one pcap file per interface of interest (every interface but lo of each host, NAT and server
 * node: a NAT's LAN and WAN sides, the peers, the rendezvous/relay), written with libpcap.
 *
 * A packet socket stays in the network namespace it was opened in, like a netlink socket. Each
 * node's captures have a thread of their own that enters the node (setns() is per thread,
 * BRIEF.md), opens that node's handles there and reads them from one poll() loop until told to
 * stop; the orchestrating thread never changes namespace. Threads, not children: the handles
 * must be read and the files written until the caller says stop, and a thread shares the
 * caller's lifetime for free (no process to reap or to leak when punchlab is killed; the files
 * are complete up to the last packet written); and the threads open their nodes' handles at
 * once, where one after the other would wait for the kernel's RCU grace period per handle.
 * Bounded: each packet is cut at snaplen bytes and a file stops growing at max_bytes (the
 * capture says which files were cut). */
#pragma once
#include <stddef.h>

struct lab;
struct capture;

#define CAPTURE_SNAPLEN 512                 /* headers and the start of every payload */
#define CAPTURE_MAX_BYTES (16L * 1024 * 1024) /* per file */

struct capture_opts {
	int snaplen;     /* 0: CAPTURE_SNAPLEN */
	long max_bytes;  /* 0: CAPTURE_MAX_BYTES */
};

/* Start capturing every interface of interest of lab into dir (created if missing), files named
 * "<ifname>.pcap" (interfaces are "<node>-eth<N>"; others "<node>-<ifname>.pcap"). Returns once
 * every handle is open and capturing (so packets sent afterwards are in the files), 0 with *out
 * set, or -errno with why filled (naming the node and interface). opts may be NULL. */
int capture_start(struct lab *lab, const char *dir, const struct capture_opts *opts,
		  struct capture **out, char *why, size_t wlen);

/* Stop: read what is still queued, close every file, end the thread. files (may be NULL) gets
 * the file names written, each ending in a newline; a file cut at max_bytes is followed by " (cut)".
 * Returns the number of packets written. Frees c; NULL is a no-op (returns 0). */
long capture_stop(struct capture *c, char *files, size_t len);
