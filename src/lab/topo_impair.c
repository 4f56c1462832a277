/* Impairing a topology's links from outside its file: --impair LINK=SPEC and presets
 * (docs/impairments.md). Pure code on struct topo; the lab builds what the model says. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/paths.h"
#include "lab/topo.h"

bool topo_impaired(const struct topo *t)
{
	for (int li = 0; li < t->nlinks; li++)
		if (t->links[li].impair.active)
			return true;
	return false;
}

/* The two-end link between nodes a and b, -1 when none. */
static int link_between(const struct topo *t, int a, int b)
{
	for (int li = 0; li < t->nlinks; li++)
		if (t->links[li].nends == 2 && topo_link_end_of(&t->links[li], a) >= 0 &&
		    topo_link_end_of(&t->links[li], b) >= 0)
			return li;
	return -1;
}

/* "inet:server, inet:nat-a, ...": what a user may name. */
static void link_names(const struct topo *t, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int li = 0; li < t->nlinks && n < len; li++)
		if (t->links[li].nends == 2)
			n += (size_t)snprintf(buf + n, len - n, "%s%s:%s", n ? ", " : "",
					      t->nodes[t->links[li].ends[0].node].name,
					      t->nodes[t->links[li].ends[1].node].name);
}

/* Impair link li with s, whose first direction goes from node `from` into the link. */
static void link_impair(struct topo *t, int li, int from, const struct impair_spec *s, int line)
{
	struct topo_link *l = &t->links[li];

	l->impair = *s;
	l->impair_line = line;
	if (l->ends[0].node != from)
		impair_spec_swap(&l->impair);
}

int topo_impair_set(struct topo *t, const char *arg, struct diag_list *dl)
{
	char opt[512], a[32], b[32], why[256], names[600];
	const char *eq = strchr(arg, '='), *colon = strchr(arg, ':');
	struct impair_spec s;
	int na, nb, li;

	snprintf(opt, sizeof(opt), "--impair %s", arg);
	if (!eq || !colon || colon > eq || colon == arg || eq == colon + 1 ||
	    (size_t)(colon - arg) >= sizeof(a) || (size_t)(eq - colon - 1) >= sizeof(b))
		return diag_add(dl, opt, 0, "expected LINK=SPEC with LINK named by its two ends, "
				"e.g. --impair 'inet:nat-a=delay 40ms loss 2%%'");
	snprintf(a, sizeof(a), "%.*s", (int)(colon - arg), arg);
	snprintf(b, sizeof(b), "%.*s", (int)(eq - colon - 1), colon + 1);
	na = topo_node_find(t, a);
	nb = topo_node_find(t, b);
	li = na >= 0 && nb >= 0 ? link_between(t, na, nb) : -1;
	if (li < 0) {
		link_names(t, names, sizeof(names));
		return diag_add(dl, opt, 0, "topology %s has no link between \"%s\" and \"%s\", "
				"expected one of: %s", t->name, a, b, names);
	}
	if (impair_spec_parse(eq + 1, &s, why, sizeof(why)) < 0)
		return diag_add(dl, opt, 0, "%s", why);
	link_impair(t, li, na, &s, 0);
	return 0;
}

/* The link between node n and its gateway, -1 when it has none or it is a LAN. */
static int uplink(const struct topo *t, int n)
{
	return t->nodes[n].gateway >= 0 ? link_between(t, n, t->nodes[n].gateway) : -1;
}

static int apply_line(struct topo *t, const char *file, int line, const char *sel,
		      const struct impair_spec *s, struct diag_list *dl)
{
	int applied = 0;

	if (strcmp(sel, "wan") != 0 && strcmp(sel, "access") != 0)
		return diag_add(dl, file, line, "unknown link selector \"%s\", expected wan (each "
				"NAT's link to its gateway) or access (each peer's)", sel);
	for (int n = 0; n < t->nnodes; n++) {
		bool want = strcmp(sel, "wan") == 0
				    ? t->nodes[n].kind == NODE_NAT
				    : (n == t->roles[ROLE_PEER_A] || n == t->roles[ROLE_PEER_B]);
		int li;

		if (!want)
			continue;
		li = uplink(t, n);
		if (li < 0)
			return diag_add(dl, file, line, "%s: node \"%s\" of topology %s reaches its "
					"gateway over a LAN, expected a link of two ends to impair",
					sel, t->nodes[n].name, t->name);
		link_impair(t, li, t->nodes[n].gateway, s, line);
		applied++;
	}
	return applied;
}

int topo_impair_preset(struct topo *t, const char *preset, struct diag_list *dl)
{
	char path[4096], line[512];
	int lineno = 0, ret = 0, applied = 0;
	FILE *f;

	if (strcmp(preset, "none") == 0)
		return 0;
	if (paths_resolve("impairments", ".impair", preset, path, sizeof(path)) < 0)
		return diag_add(dl, "--impairments", 0, "preset \"%s\" not found (looked for %s), "
				"expected none, a name from impairments/ or a path to an .impair file",
				preset, path);
	f = fopen(path, "re");
	if (!f)
		return diag_add(dl, path, 0, "cannot read: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *colon, *end, why[256];
		struct impair_spec s;
		int r;

		lineno++;
		line[strcspn(line, "#\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*p)
			continue;
		colon = strchr(p, ':');
		if (!colon) {
			ret = diag_add(dl, path, lineno, "expected SELECTOR: SPEC (wan: delay 20ms)");
			continue;
		}
		*colon = '\0';
		if (impair_spec_parse(colon + 1, &s, why, sizeof(why)) < 0) {
			ret = diag_add(dl, path, lineno, "%s", why);
			continue;
		}
		r = apply_line(t, path, lineno, p, &s, dl);
		if (r < 0)
			ret = r;
		else
			applied += r;
	}
	fclose(f);
	if (ret == 0 && applied == 0)
		ret = diag_add(dl, path, 0, "preset %s impairs no link of topology %s, expected a "
			       "wan: or access: line that matches its NATs or peers", preset, t->name);
	return ret;
}
