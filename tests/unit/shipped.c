/* Shipped profiles and topologies for the unit tests (shipped.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "config.h"
#include "shipped.h"

void shipped_profile_load(const char *name, struct profile_header *h)
{
	char path[512];
	struct diag_list dl = { 0 };

	snprintf(path, sizeof(path), "%s/nat-profiles/%s.nft", PUNCHLAB_SOURCE_DIR, name);
	if (profile_header_parse_file(h, path, &dl) < 0)
		fail_msg("%s: %s", path, dl.count ? dl.items[0].msg : "?");
}

void shipped_topo_load(const char *name, struct topo *t)
{
	char path[512];
	struct diag_list dl = { 0 };

	snprintf(path, sizeof(path), "%s/topologies/%s.yaml", PUNCHLAB_SOURCE_DIR, name);
	if (topo_parse_file(t, path, &dl) < 0)
		fail_msg("%s: %s", path, dl.count ? dl.items[0].msg : "?");
}
