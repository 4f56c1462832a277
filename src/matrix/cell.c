#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matrix/cell.h"

const char *const matrix_default_techniques[] = { "plain", "auto", NULL };

static const struct {
	const char *name;
	bool udp, tcp;
} techniques[] = {
	{ "udp", true, false },     { "tcp", false, true },      { "tcp-ttl", false, true },
	{ "predict", true, true },  { "birthday", true, false }, { "relay", true, true },
	{ "auto", true, true },
};

bool technique_fits(const char *t, const char *proto)
{
	bool udp = strcmp(proto, "udp") == 0;

	for (size_t i = 0; i < sizeof(techniques) / sizeof(techniques[0]); i++)
		if (strcmp(techniques[i].name, t) == 0)
			return udp ? techniques[i].udp : techniques[i].tcp;
	return false;
}

void cell_spec_set_id(struct cell_spec *c)
{
	snprintf(c->id, sizeof(c->id), "%s/%s/%s/%s~%s", c->topology, c->proto, c->technique,
		 c->profile_a, c->profile_b[0] ? c->profile_b : "-");
}

int cell_id_parse(const char *id, struct cell_spec *c)
{
	char buf[sizeof(c->id)], *parts[4], *tilde, *save = NULL;
	int n = 0;

	memset(c, 0, sizeof(*c));
	if (strlen(id) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, id);
	for (char *tok = strtok_r(buf, "/", &save); tok && n < 4; tok = strtok_r(NULL, "/", &save))
		parts[n++] = tok;
	if (n != 4 || strtok_r(NULL, "/", &save))
		return -EINVAL;
	tilde = strchr(parts[3], '~');
	if (!tilde || tilde == parts[3] || !tilde[1])
		return -EINVAL;
	*tilde = '\0';
	if (strlen(parts[0]) >= sizeof(c->topology) || strlen(parts[3]) >= sizeof(c->profile_a) ||
	    strlen(tilde + 1) >= sizeof(c->profile_b))
		return -EINVAL;
	if ((strcmp(parts[1], "udp") && strcmp(parts[1], "tcp")) ||
	    !technique_fits(parts[2], parts[1]))
		return -EINVAL;
	snprintf(c->topology, sizeof(c->topology), "%s", parts[0]);
	snprintf(c->proto, sizeof(c->proto), "%s", parts[1]);
	snprintf(c->technique, sizeof(c->technique), "%s", parts[2]);
	snprintf(c->profile_a, sizeof(c->profile_a), "%s", parts[3]);
	snprintf(c->profile_b, sizeof(c->profile_b), "%s", strcmp(tilde + 1, "-") ? tilde + 1 : "");
	cell_spec_set_id(c);
	return strcmp(c->id, id) == 0 ? 0 : -EINVAL;
}

int cells_enumerate(const struct matrix_dims *d, struct cell_spec **out)
{
	const char *protos[2];
	int nprotos = 0, n = 0, cap;
	struct cell_spec *cells;

	*out = NULL;
	if (d->udp)
		protos[nprotos++] = "udp";
	if (d->tcp)
		protos[nprotos++] = "tcp";
	cap = nprotos * d->ntechniques * d->nprofiles * (d->b_has_nat ? d->nprofiles : 1);
	cells = calloc((size_t)(cap > 0 ? cap : 1), sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	for (int p = 0; p < nprotos; p++)
		for (int t = 0; t < d->ntechniques; t++) {
			const char *tech = d->techniques[t];
			if (strcmp(tech, "plain") == 0)
				tech = protos[p];
			if (!technique_fits(tech, protos[p]))
				continue;
			for (int a = 0; a < d->nprofiles; a++)
				for (int b = 0; b < (d->b_has_nat ? d->nprofiles : 1); b++) {
					struct cell_spec *c = &cells[n++];
					snprintf(c->topology, sizeof(c->topology), "%s", d->topology);
					snprintf(c->proto, sizeof(c->proto), "%s", protos[p]);
					snprintf(c->technique, sizeof(c->technique), "%s", tech);
					snprintf(c->profile_a, sizeof(c->profile_a), "%s", d->profiles[a]);
					snprintf(c->profile_b, sizeof(c->profile_b), "%s",
						 d->b_has_nat ? d->profiles[b] : "");
					cell_spec_set_id(c);
				}
		}
	*out = cells;
	return n;
}

int shard_parse(const char *s, int *k, int *n)
{
	char *end;
	long kk = strtol(s, &end, 10), nn;

	if (end == s || *end != '/')
		return -EINVAL;
	nn = strtol(end + 1, &end, 10);
	if (*end || nn < 1 || nn > 1000 || kk < 1 || kk > nn)
		return -EINVAL;
	*k = (int)kk;
	*n = (int)nn;
	return 0;
}

bool shard_has(int index, int k, int n)
{
	return index % n == k - 1;
}
