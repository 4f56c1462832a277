/* RFC 6052 address synthesis (nat64.h). */
#include "nat64.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nat64_prefix_parse(const char *s, struct nat64_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long len;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	len = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 ||
	    (len != 32 && len != 40 && len != 48 && len != 56 && len != 64 && len != 96))
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET6, buf, &p->addr) != 1)
		return -EINVAL;
	/* RFC 6052 2.2: bits 64 to 71 must be zero; only a /96 holds them in the prefix */
	if (len == 96 && p->addr.s6_addr[8])
		return -EINVAL;
	/* what follows the prefix is the synthesis' to write */
	for (int i = (int)len / 8; i < 16; i++)
		p->addr.s6_addr[i] = 0;
	p->len = (int)len;
	return 0;
}

void nat64_synthesize(const struct nat64_prefix *p, const struct sockaddr_storage *v4,
		      struct sockaddr_storage *out)
{
	struct sockaddr_in in = *(const struct sockaddr_in *)v4; /* out may be v4 */
	struct sockaddr_in6 *o6 = (struct sockaddr_in6 *)out;
	const uint8_t *a = (const uint8_t *)&in.sin_addr;
	struct in6_addr x = p->addr;
	int at = p->len / 8;

	for (int i = 0; i < 4; i++, at++) {
		if (at == 8)
			at++; /* bits 64-71 stay zero */
		x.s6_addr[at] = a[i];
	}
	memset(out, 0, sizeof(*out));
	o6->sin6_family = AF_INET6;
	o6->sin6_addr = x;
	o6->sin6_port = in.sin_port;
}

bool nat64_ipv4_routed(const struct sockaddr_storage *v4)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, (const struct sockaddr *)v4, sizeof(struct sockaddr_in)) == 0;
	close(fd);
	return ok;
}
