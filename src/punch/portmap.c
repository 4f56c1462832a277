/* portmap: a mapping from the router (portmap.h). */
#include "portmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <natpmp.h>

#include "endpoint.h"

#define UPNP_DISCOVER_MS 400 /* a LAN router answers in well under a millisecond */

const char *portmap_proto_name(enum portmap_proto p)
{
	return p == PORTMAP_NATPMP ? "nat-pmp" : p == PORTMAP_UPNP ? "upnp-igd" : "none";
}

bool portmap_wanted(enum technique tech, int proto, int family, bool *try_upnp)
{
	*try_upnp = tech == TECH_PORTMAP;
	/* NAT-PMP and IGDv1 map IPv4 ports; over TCP the simultaneous open would need the
	 * mapping on the listener and on every connect's port (not done: UDP only) */
	if (family != AF_INET || proto != PROTO_UDP)
		return false;
	return tech == TECH_PORTMAP || tech == TECH_AUTO;
}

int portmap_announce(const struct sockaddr_storage *local, const struct sockaddr_storage *mapped,
		     struct wire_ep *out, int max)
{
	int n = 0;

	if (n < max && local && local->ss_family && ep_to_wire(local, &out[n]) == 0)
		n++;
	if (n < max && mapped && mapped->ss_family && !(local && ep_equal(local, mapped, true)) &&
	    ep_to_wire(mapped, &out[n]) == 0)
		n++;
	return n;
}

int portmap_endpoint(uint32_t addr_be, uint16_t port, struct sockaddr_storage *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)out;

	if (addr_be == htonl(INADDR_ANY) || port == 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = addr_be;
	sin->sin_port = htons(port);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One NAT-PMP exchange already sent: its answer before deadline (ms, monotonic). */
static int natpmp_answer(natpmp_t *n, natpmpresp_t *r, int64_t deadline)
{
	for (;;) {
		struct timeval tv;
		fd_set fds;
		int64_t left = deadline - now_ms();
		int ret;

		if (left <= 0)
			return -ETIMEDOUT;
		if (getnatpmprequesttimeout(n, &tv) < 0 ||
		    (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000 > left) {
			tv.tv_sec = left / 1000;
			tv.tv_usec = (left % 1000) * 1000;
		}
		FD_ZERO(&fds);
		FD_SET(n->s, &fds);
		if (select(n->s + 1, &fds, NULL, NULL, &tv) < 0 && errno != EINTR)
			return -errno;
		ret = readnatpmpresponseorretry(n, r);
		if (ret == 0)
			return r->resultcode ? -EPERM : 0;
		if (ret != NATPMP_TRYAGAIN)
			return -ECONNREFUSED; /* no NAT-PMP server (ICMP port unreachable) or junk */
	}
}

static int natpmp_map(int proto, uint16_t port, int64_t deadline, struct sockaddr_storage *out,
		      char *why, size_t wlen)
{
	natpmp_t n;
	natpmpresp_t pub, map;
	int ret;

	if (initnatpmp(&n, 0, 0) < 0) {
		snprintf(why, wlen, "nat-pmp: no default gateway");
		return -ENETUNREACH;
	}
	ret = sendpublicaddressrequest(&n) < 0 ? -EIO : natpmp_answer(&n, &pub, deadline);
	if (ret == 0)
		ret = sendnewportmappingrequest(&n, proto == PROTO_TCP ? NATPMP_PROTOCOL_TCP :
						NATPMP_PROTOCOL_UDP, port, port,
						PORTMAP_LIFETIME_S) < 0 ? -EIO :
		      natpmp_answer(&n, &map, deadline);
	closenatpmp(&n);
	if (ret == 0)
		ret = portmap_endpoint(pub.pnu.publicaddress.addr.s_addr,
				       map.pnu.newportmapping.mappedpublicport, out);
	if (ret < 0)
		snprintf(why, wlen, "nat-pmp: %s", ret == -EPERM ? "the router refused" :
			 strerror(-ret));
	return ret;
}

static int upnp_map(int proto, uint16_t port, int64_t deadline, struct sockaddr_storage *out,
		    char *why, size_t wlen)
{
	int64_t left = deadline - now_ms();
	struct UPNPDev *devs;
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lan[64], ext[40], p[8];
	struct in_addr a;
	int err = 0, ret = -ENOENT;

	if (left <= 0) {
		snprintf(why, wlen, "upnp-igd: no time left");
		return -ETIMEDOUT;
	}
	/* One device type, the IGD every router of the lab (miniupnpd) is: upnpDiscover would
	 * wait its delay once per type it tries, and a discovery waits the whole delay even
	 * after an answer (more devices may answer), so the delay is what portmap may spend. */
	devs = upnpDiscoverDevice("urn:schemas-upnp-org:device:InternetGatewayDevice:1",
				  (int)(left < UPNP_DISCOVER_MS ? left : UPNP_DISCOVER_MS), NULL, NULL,
				  UPNP_LOCAL_PORT_ANY, 0, 2, &err);
	if (!devs) {
		snprintf(why, wlen, "upnp-igd: no device answered discovery");
		return -ENOENT;
	}
	/* 1: an IGD that says it is connected; 2: one that says it is not (miniupnpd says so of
	 * a WAN address in a reserved block, as the lab's are): AddPortMapping decides */
	err = UPNP_GetValidIGD(devs, &urls, &data, lan, sizeof(lan));
	if (err == 1 || err == 2) {
		snprintf(p, sizeof(p), "%u", port);
		if (UPNP_GetExternalIPAddress(urls.controlURL, data.first.servicetype, ext) != 0 ||
		    inet_pton(AF_INET, ext, &a) != 1)
			snprintf(why, wlen, "upnp-igd: no external address");
		else if ((err = UPNP_AddPortMapping(urls.controlURL, data.first.servicetype, p, p,
						    lan, "punch", proto == PROTO_TCP ? "TCP" : "UDP",
						    NULL, "3600")) != 0)
			snprintf(why, wlen, "upnp-igd: AddPortMapping: error %d", err);
		else
			ret = portmap_endpoint(a.s_addr, port, out);
		FreeUPNPUrls(&urls);
	} else {
		if (err)
			FreeUPNPUrls(&urls);
		snprintf(why, wlen, "upnp-igd: no internet gateway device");
	}
	freeUPNPDevlist(devs);
	return ret;
}

enum portmap_proto portmap_request(int proto, uint16_t port, bool try_upnp, int timeout_ms,
				   struct sockaddr_storage *mapped, char *why, size_t wlen)
{
	int64_t deadline = now_ms() + timeout_ms;
	char first[128] = "";

	memset(mapped, 0, sizeof(*mapped));
	if (natpmp_map(proto, port, deadline, mapped, first, sizeof(first)) == 0)
		return PORTMAP_NATPMP;
	if (try_upnp && upnp_map(proto, port, deadline, mapped, why, wlen) == 0)
		return PORTMAP_UPNP;
	if (try_upnp) {
		char second[128];

		snprintf(second, sizeof(second), "%s", why);
		snprintf(why, wlen, "%s; %s", first, second);
	} else {
		snprintf(why, wlen, "%s", first);
	}
	memset(mapped, 0, sizeof(*mapped));
	return PORTMAP_NONE;
}
