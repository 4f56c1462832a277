/* Opening a kept lab from its record: the topology it was built from, its pinned namespaces
 * and each NAT node's profile (and a dual lab's IPv6 companion), so that `punchlab lab event` can act on a lab another process
 * built. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "lab/lab_internal.h"
#include "lab/registry.h"
#include "nft/profile.h"
#include "nl/nl.h"

int lab_attach(const char *name, struct lab **labp, struct diag_list *dl)
{
	struct registry_record *r = calloc(1, sizeof(*r));
	struct lab *lab = calloc(1, sizeof(*lab));
	int home = -1, ret;

	*labp = NULL;
	if (!r || !lab) {
		ret = -ENOMEM;
		diag_add(dl, name, 0, "out of memory");
		goto fail;
	}
	for (int n = 0; n < TOPO_MAX_NODES; n++)
		lab->nodes[n].netns = lab->nodes[n].watch = -1;
	ret = lab_name_valid(name) ? registry_read(name, r) : -ENOENT;
	if (ret < 0) {
		diag_add(dl, name, 0, "no kept lab named \"%s\" (%s), expected one of `punchlab lab "
			 "list`", name, strerror(-ret));
		goto fail;
	}
	ret = topo_parse_file(&lab->topo, r->topology, dl);
	if (ret < 0)
		goto fail;
	snprintf(lab->name, sizeof(lab->name), "%s", r->name);
	home = netns_current();
	if (home < 0) {
		ret = home;
		diag_add(dl, name, 0, "open own network namespace: %s", strerror(-ret));
		goto fail;
	}
	for (int n = 0; n < lab->topo.nnodes; n++) {
		int k;

		for (k = 0; k < r->nnodes && strcmp(r->node[k], lab->topo.nodes[n].name); k++)
			;
		if (k == r->nnodes) {
			ret = diag_add(dl, name, 0, "the record of lab %s lacks node %s of topology %s",
				       name, lab->topo.nodes[n].name, r->topology);
			goto fail;
		}
		snprintf(lab->nodes[n].profile, sizeof(lab->nodes[n].profile), "%s", r->profile[k]);
		snprintf(lab->nodes[n].companion, sizeof(lab->nodes[n].companion), "%s",
			 r->companion[k]);
		/* the family its ruleset was loaded with (lab.c's profile_family_check()): a
		 * reboot reloads it with the same variables */
		lab->nodes[n].family = r->profile[k][0] &&
				       profile_family_of_file(r->profile[k]) == PROFILE_FAMILY_IPV6
					       ? AF_INET6 : AF_INET;
		lab->nodes[n].netns = open(r->pinned[k], O_RDONLY | O_CLOEXEC);
		if (lab->nodes[n].netns < 0) {
			ret = -errno;
			diag_add(dl, r->pinned[k], 0, "open the namespace of node %s: %s",
				 lab->topo.nodes[n].name, strerror(-ret));
			goto fail;
		}
		/* an rtnetlink socket stays in the namespace it was opened in */
		ret = netns_enter(lab->nodes[n].netns);
		if (ret == 0) {
			lab->nodes[n].sk = nl_route_open();
			if (!lab->nodes[n].sk)
				ret = -errno ? -errno : -ENOMEM;
		}
		if (netns_enter(home) < 0)
			abort(); /* see lab.c's load_rulesets() */
		if (ret < 0) {
			diag_add(dl, r->pinned[k], 0, "open rtnetlink in node %s: %s",
				 lab->topo.nodes[n].name, strerror(-ret));
			goto fail;
		}
	}
	close(home);
	free(r);
	*labp = lab;
	return 0;
fail:
	if (home >= 0)
		close(home);
	free(r);
	lab_release(lab);
	return ret;
}
