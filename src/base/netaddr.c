/* Addresses with a prefix: parsing and formatting (topology files, netlink, engine templates). */
#include "base/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *net_addr_format(const struct net_addr *a, bool with_prefix, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (!inet_ntop(a->family, &a->a, tmp, sizeof(tmp)))
		snprintf(tmp, sizeof(tmp), "?");
	if (with_prefix)
		snprintf(buf, len, "%s/%d", tmp, a->prefix);
	else
		snprintf(buf, len, "%s", tmp);
	return buf;
}

int net_addr_parse(const char *s, struct net_addr *a, const char **why)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	char *end;
	long prefix;
	size_t hl;

	*why = NULL;
	memset(a, 0, sizeof(*a));
	if (!slash) {
		*why = "missing /PREFIX";
		return -EINVAL;
	}
	hl = (size_t)(slash - s);
	if (hl == 0 || hl >= sizeof(host)) {
		*why = "not an address";
		return -EINVAL;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &a->a.v4) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, host, &a->a.v6) == 1)
		a->family = AF_INET6;
	else {
		*why = "not an IPv4 or IPv6 address";
		return -EINVAL;
	}
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end != '\0' || prefix < 1 ||
	    prefix > (a->family == AF_INET ? 32 : 128)) {
		*why = a->family == AF_INET ? "prefix must be 1..32" : "prefix must be 1..128";
		return -EINVAL;
	}
	a->prefix = (int)prefix;
	return 0;
}

/* Zero the host bits of an address of `bits` total length. */
static void mask_bytes(uint8_t *b, int bits, int prefix)
{
	for (int i = 0; i < bits / 8; i++) {
		int keep = prefix - i * 8;
		if (keep >= 8)
			continue;
		b[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
}

char *net_addr_network(const struct net_addr *a, char *buf, size_t len)
{
	struct net_addr n = *a;

	mask_bytes((uint8_t *)&n.a, a->family == AF_INET ? 32 : 128, a->prefix);
	return net_addr_format(&n, true, buf, len);
}
