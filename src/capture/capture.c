#include "capture/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/paths.h"
#include "lab/lab.h"

#define CAPTURE_NODE_IFS 16              /* interfaces captured per node at most */
#define CAPTURE_BUFFER (512 * 1024)      /* kernel ring per handle: a cell sends little */
#define CAPTURE_START_MS 5000            /* opening every handle; bounded */

struct cap_if {
	pcap_t *h;
	pcap_dumper_t *d;
	char file[64];
	long bytes;
	long packets;
	long limit;       /* max_bytes */
	bool cut;
};

struct capture;

/* One node's captures: its thread enters the node, opens its handles there, then reads them. */
struct cap_node {
	struct capture *c;
	int node;
	struct cap_if ifs[CAPTURE_NODE_IFS];
	int nifs;
	pthread_t th;
	bool running;
	int err;
	char why[256];
};

struct capture {
	struct lab *lab;
	char dir[PATH_MAX];
	struct capture_opts o;
	struct cap_node nodes[TOPO_MAX_NODES];
	int nnodes;
	int stop_fd;        /* an eventfd written once: readable for every thread until closed */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int opened;         /* nodes whose thread has opened its handles (or failed: err) */
};

/* One packet into its file, unless the file is full (then it is counted as cut). */
static void write_packet(u_char *arg, const struct pcap_pkthdr *hdr, const u_char *bytes)
{
	struct cap_if *ci = (struct cap_if *)arg;
	long size = (long)sizeof(struct pcap_pkthdr) + (long)hdr->caplen;

	if (ci->cut || ci->bytes + size > ci->limit) {
		ci->cut = true;
		return;
	}
	pcap_dump((u_char *)ci->d, hdr, bytes);
	ci->bytes += size;
	ci->packets++;
}

static void cap_if_close(struct cap_if *ci)
{
	if (ci->d)
		pcap_dump_close(ci->d);
	if (ci->h)
		pcap_close(ci->h);
	ci->d = NULL;
	ci->h = NULL;
}

/* A NAT's interface toward its gateway is its WAN, the one toward its LAN its LAN (the topology
 * says which, topo_node.wan_link/lan_link): the file name says so, "" for other interfaces. */
static const char *nat_side(const struct topo *t, int n, const char *ifname)
{
	const struct topo_node *nd = &t->nodes[n];

	if (nd->kind != NODE_NAT)
		return "";
	if (nd->wan_link >= 0 && strcmp(t->links[nd->wan_link].ends[nd->wan_end].ifname, ifname) == 0)
		return "-wan";
	if (nd->lan_link >= 0 && (strcmp(t->links[nd->lan_link].ends[nd->lan_end].ifname, ifname) == 0 ||
				  strcmp(t->links[nd->lan_link].bridge, ifname) == 0))
		return "-lan";
	return "";
}

/* Open one interface's handle in the thread's current namespace (the node's). */
static int cap_if_open(struct cap_node *cn, const char *ifname)
{
	struct capture *c = cn->c;
	const struct topo *t = lab_topo(c->lab);
	const char *node = t->nodes[cn->node].name, *side = nat_side(t, cn->node, ifname);
	struct cap_if *ci = &cn->ifs[cn->nifs];
	char err[PCAP_ERRBUF_SIZE] = "", path[PATH_MAX + 80];
	size_t nl = strlen(node);

	if (cn->nifs >= CAPTURE_NODE_IFS)
		return 0; /* enough files for one node: the rest is not captured */
	memset(ci, 0, sizeof(*ci));
	if (strncmp(ifname, node, nl) == 0 && ifname[nl] == '-')
		snprintf(ci->file, sizeof(ci->file), "%s%s.pcap", ifname, side);
	else
		snprintf(ci->file, sizeof(ci->file), "%s-%s%s.pcap", node, ifname, side);
	ci->h = pcap_create(ifname, err);
	if (!ci->h)
		goto fail;
	/* immediate mode: each packet is handed over as it comes, so poll() wakes for it and
	 * the stop finds nothing held back in a half-filled block */
	if (pcap_set_snaplen(ci->h, c->o.snaplen) != 0 || pcap_set_immediate_mode(ci->h, 1) != 0 ||
	    pcap_set_buffer_size(ci->h, CAPTURE_BUFFER) != 0 || pcap_set_promisc(ci->h, 0) != 0 ||
	    pcap_activate(ci->h) < 0 || pcap_setnonblock(ci->h, 1, err) < 0) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s", pcap_geterr(ci->h));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/%s", c->dir, ci->file);
	ci->d = pcap_dump_open(ci->h, path);
	if (!ci->d) {
		snprintf(err, sizeof(err), "%s: %s", path, pcap_geterr(ci->h));
		goto fail;
	}
	ci->limit = c->o.max_bytes;
	cn->nifs++;
	return 0;
fail:
	snprintf(cn->why, sizeof(cn->why), "capture %s in node %s: %s", ifname, node, err);
	cap_if_close(ci);
	return -EIO;
}

/* Enter the node and open its interfaces but lo. */
static int node_open(struct cap_node *cn)
{
	const struct topo *t = lab_topo(cn->c->lab);
	const char *name = t->nodes[cn->node].name;
	struct if_nameindex *ifs;
	int ret = 0;

	/* this thread lives in the node until it ends: nothing else runs on it */
	if (setns(lab_node_netns(cn->c->lab, cn->node), CLONE_NEWNET) < 0) {
		snprintf(cn->why, sizeof(cn->why), "enter node %s: %s", name, strerror(errno));
		return -errno;
	}
	ifs = if_nameindex();
	if (!ifs) {
		snprintf(cn->why, sizeof(cn->why), "list the interfaces of node %s: %s", name,
			 strerror(errno));
		return -errno;
	}
	for (struct if_nameindex *i = ifs; i->if_index && ret == 0; i++)
		if (strcmp(i->if_name, "lo") != 0)
			ret = cap_if_open(cn, i->if_name);
	if_freenameindex(ifs);
	return ret;
}

static void drain(struct cap_if *ci)
{
	/* non-blocking: each call returns what is queued; a full file still reads (and drops)
	 * its packets so that the ring does not back up. Bounded. */
	for (int guard = 0; guard < 64; guard++)
		if (pcap_dispatch(ci->h, -1, write_packet, (u_char *)ci) <= 0)
			break;
}

static void *node_thread(void *arg)
{
	struct cap_node *cn = arg;
	struct capture *c = cn->c;
	int ret = node_open(cn);

	pthread_mutex_lock(&c->lock);
	cn->err = ret;
	c->opened++;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (ret < 0)
		return NULL;
	/* every wait bounded by the stop fd, which capture_stop() always writes */
	for (;;) {
		struct pollfd pfd[CAPTURE_NODE_IFS + 1];
		int n = 0;

		for (int i = 0; i < cn->nifs; i++)
			pfd[n++] = (struct pollfd){ .fd = pcap_get_selectable_fd(cn->ifs[i].h),
						    .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = c->stop_fd, .events = POLLIN };
		if (poll(pfd, (nfds_t)n, 1000) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < cn->nifs; i++)
			if (pfd[i].revents)
				drain(&cn->ifs[i]);
		if (pfd[n - 1].revents)
			break;
	}
	for (int i = 0; i < cn->nifs; i++)
		drain(&cn->ifs[i]); /* what came after the last wake-up */
	return NULL;
}

int capture_start(struct lab *lab, const char *dir, const struct capture_opts *opts,
		  struct capture **out, char *why, size_t wlen)
{
	struct capture *c = calloc(1, sizeof(*c));
	const struct topo *t = lab_topo(lab);
	struct timespec until;
	int ret = 0, started = 0;

	*out = NULL;
	if (!c) {
		snprintf(why, wlen, "out of memory");
		return -ENOMEM;
	}
	c->lab = lab;
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	c->o.snaplen = opts && opts->snaplen > 0 ? opts->snaplen : CAPTURE_SNAPLEN;
	c->o.max_bytes = opts && opts->max_bytes > 0 ? opts->max_bytes : CAPTURE_MAX_BYTES;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (c->stop_fd < 0 || paths_mkdir_p(dir) < 0) {
		ret = -errno;
		snprintf(why, wlen, "%s: %s", c->stop_fd < 0 ? "eventfd" : dir, strerror(errno));
		capture_stop(c, NULL, 0);
		return ret;
	}
	/* One thread per node, all at once: setting up a handle's ring waits for an RCU grace
	 * period in the kernel (packet_set_ring), 5-15 ms each here; one after the other that was
	 * 85-135 ms for two-nats' 7 interfaces, in parallel it is one node's worth. */
	for (int n = 0; n < t->nnodes; n++) {
		enum node_kind k = t->nodes[n].kind;
		struct cap_node *cn = &c->nodes[c->nnodes];

		if (k != NODE_HOST && k != NODE_NAT && k != NODE_SERVER)
			continue;
		cn->c = c;
		cn->node = n;
		c->nnodes++;
		if ((ret = -pthread_create(&cn->th, NULL, node_thread, cn)) < 0) {
			snprintf(why, wlen, "start a capture thread: %s", strerror(-ret));
			break;
		}
		cn->running = true;
		started++;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CAPTURE_START_MS / 1000;
	pthread_mutex_lock(&c->lock);
	while (c->opened < started) {
		int r = pthread_cond_timedwait(&c->cond, &c->lock, &until);
		if (r) {
			if (!ret)
				snprintf(why, wlen, "the capture did not start within %d ms",
					 CAPTURE_START_MS);
			ret = ret ? ret : -r;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	for (int i = 0; i < c->nnodes && ret == 0; i++)
		if (c->nodes[i].err < 0) {
			ret = c->nodes[i].err;
			snprintf(why, wlen, "%s", c->nodes[i].why);
		}
	if (ret < 0) {
		capture_stop(c, NULL, 0);
		return ret;
	}
	*out = c;
	return 0;
}

long capture_stop(struct capture *c, char *files, size_t len)
{
	uint64_t one = 1;
	long packets = 0;
	size_t used = 0;

	if (!c)
		return 0;
	if (files && len)
		files[0] = '\0';
	if (c->stop_fd >= 0 && write(c->stop_fd, &one, sizeof(one)) < 0) {
		/* an eventfd write cannot fail here; the threads also wake every second */
	}
	for (int k = 0; k < c->nnodes; k++) {
		struct cap_node *cn = &c->nodes[k];

		if (cn->running)
			pthread_join(cn->th, NULL);
		for (int i = 0; i < cn->nifs; i++) {
			struct cap_if *ci = &cn->ifs[i];
			packets += ci->packets;
			if (files && used < len)
				used += (size_t)snprintf(files + used, len - used, "%s%s\n", ci->file,
							 ci->cut ? " (cut)" : "");
			cap_if_close(ci);
		}
	}
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
	return packets;
}
