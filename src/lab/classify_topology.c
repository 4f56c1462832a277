/* Classifying the profiles a topology itself names for nodes a matrix cell does not set (the
 * CGN of double-nat): a cell's verdict rests on them as much as on the cell's own two. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/paths.h"
#include "lab/classify.h"

struct topo_job {
	const struct topo *lab_topo;
	const struct classify_opts *opts;
	const char *node;
	char path[PATH_MAX];
	struct classify_result r;
	struct diag_list dl;
	int ret;
	pthread_t th;
	bool started;
};

static void *topo_job_run(void *arg)
{
	struct topo_job *j = arg;

	j->ret = classify_profile(j->lab_topo, j->path, j->opts, &j->r, &j->dl);
	return NULL;
}

int classify_topology_profiles(const struct topo *lab_topo, const struct topo *used,
			       const struct classify_opts *opts, char *why, size_t len, int *n)
{
	struct topo_job *jobs = calloc(TOPO_MAX_NODES, sizeof(*jobs));
	int nj = 0, ret = 0;
	size_t w = 0;

	if (n)
		*n = 0;
	if (len)
		why[0] = '\0';
	if (!jobs)
		return -ENOMEM;
	for (int i = 0; i < used->nnodes; i++) {
		const struct topo_node *nd = &used->nodes[i];
		struct topo_job *j = &jobs[nj];

		if (nd->kind != NODE_NAT || !nd->profile[0] || i == used->roles[ROLE_NAT_A] ||
		    i == used->roles[ROLE_NAT_B])
			continue;
		j->lab_topo = lab_topo;
		j->opts = opts;
		j->node = nd->name;
		if (paths_resolve("nat-profiles", ".nft", nd->profile, j->path, sizeof(j->path)) < 0) {
			snprintf(why, len, "node %s: profile \"%s\" not found (looked for %s)",
				 nd->name, nd->profile, j->path);
			ret = 1;
			goto out;
		}
		nj++;
	}
	for (int i = 0; i < nj; i++) {
		jobs[i].started = pthread_create(&jobs[i].th, NULL, topo_job_run, &jobs[i]) == 0;
		if (!jobs[i].started)
			topo_job_run(&jobs[i]); /* no thread: run it here */
	}
	for (int i = 0; i < nj; i++)
		if (jobs[i].started)
			pthread_join(jobs[i].th, NULL);
	for (int i = 0; i < nj && w < len; i++) {
		const struct topo_job *j = &jobs[i];

		if (j->ret < 0) {
			w += (size_t)snprintf(why + w, len - w, "%snode %s: classify of %s could not "
					      "run: %s", w ? "; " : "", j->node, j->path,
					      j->dl.count ? j->dl.items[0].msg : strerror(-j->ret));
			ret = 1;
		} else if (j->r.mismatches) {
			w += (size_t)snprintf(why + w, len - w, "%snode %s: profile %s behaves unlike "
					      "its header (punchlab classify %s): ", w ? "; " : "",
					      j->node, j->r.declared.name, j->path);
			for (int k = 0, first = 1; k < PROFILE_KEY_COUNT && w < len; k++)
				if (j->r.mismatches & (1u << k)) {
					w += (size_t)snprintf(why + w, len - w, "%s%s", first ? "" : " ",
							      profile_key_name((enum profile_key)k));
					first = 0;
				}
			ret = 1;
		}
	}
	if (n)
		*n = nj;
out:
	for (int i = 0; i < nj; i++)
		classify_result_free(&jobs[i].r);
	free(jobs);
	return ret;
}
