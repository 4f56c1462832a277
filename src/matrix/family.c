#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/paths.h"
#include "matrix/family.h"
#include "nft/profile.h"

bool family_topo_has_ipv6(const struct topo *t)
{
	for (int li = 0; li < t->nlinks; li++)
		for (int e = 0; e < t->links[li].nends; e++)
			if (topo_end_addr(&t->links[li].ends[e], AF_INET6))
				return true;
	return false;
}

int family_twin_topology(const struct topo *t, const char *what, struct topo *twin,
			 struct diag_list *dl)
{
	char name[CELL_REF_MAX + 8], path[PATH_MAX];

	/* a NAT64 home is IPv6 inside only: its peer reaches the rendezvous and the other peer
	 * over IPv4 through tayga, a family 4 cell (docs/matrix.md "NAT64") */
	for (int n = 0; n < t->nnodes; n++)
		if (t->nodes[n].nat64.family)
			return diag_add(dl, t->file, t->nodes[n].nat64_line, "node \"%s\": a home "
					"behind NAT64 reaches the rendezvous and the other peer over "
					"IPv4 (through tayga), so topology %s has family 4 cells only, "
					"expected --family 4", t->nodes[n].name, t->name);
	if (family_topo_has_ipv6(t)) {
		*twin = *t;
		return 0;
	}
	/* the twin is found by name among the shipped topologies only: a user's topology file
	 * carries its own IPv6 addresses or has no twin */
	snprintf(name, sizeof(name), "%s-dual", t->name);
	if (strchr(t->name, '/') ||
	    paths_resolve("topologies", ".yaml", name, path, sizeof(path)) < 0)
		return diag_add(dl, what, 0, "topology %s (%s) has no IPv6 address and no "
				"dual-stack twin (looked for %s): families 6 and dual need a topology "
				"whose homes have IPv6 addresses, expected --topology two-nats (its twin "
				"is two-nats-dual) or a topology file with IPv6 addresses", t->name,
				t->file, path);
	if (topo_parse_file(twin, path, dl) < 0)
		return -EINVAL;
	if (!family_topo_has_ipv6(twin))
		return diag_add(dl, twin->file, 0, "topology %s, the dual-stack twin of %s, has no "
				"IPv6 address, expected IPv6 addresses on its links", twin->name,
				t->name);
	for (int r = 0; r < ROLE_COUNT; r++) {
		int a = t->roles[r], b = twin->roles[r];

		if ((a < 0) != (b < 0) ||
		    (a >= 0 && strcmp(t->nodes[a].name, twin->nodes[b].name) != 0))
			return diag_add(dl, twin->file, 0, "topology %s is no twin of %s: role %s is "
					"%s there and %s here, expected the same node",
					twin->name, t->name, topo_role_name((enum topo_role)r),
					a >= 0 ? t->nodes[a].name : "absent",
					b >= 0 ? twin->nodes[b].name : "absent");
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

int family_ipv6_profiles(char names[][CELL_REF_MAX], int max)
{
	char dir[PATH_MAX - 300];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/nat-profiles", paths_data_dir());
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d)) && n < max) {
		size_t l = strlen(e->d_name);
		char path[PATH_MAX];

		if (l <= 4 || l - 4 >= CELL_REF_MAX || strcmp(e->d_name + l - 4, ".nft") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (profile_family_of_file(path) != PROFILE_FAMILY_IPV6)
			continue;
		snprintf(names[n++], CELL_REF_MAX, "%.*s", (int)(l - 4), e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, CELL_REF_MAX, cmp_name);
	return n;
}
