#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/paths.h"
#include "base/sha256.h"
#include "config.h"
#include "engine/adapter.h"
#include "engine/reach.h"
#include "lab/classify.h"
#include "lab/events.h"
#include "matrix/cell_events.h"
#include "matrix/cell_runner.h"
#include "matrix/expect.h"
#include "matrix/family.h"
#include "matrix/load_gate.h"
#include "matrix/matrix.h"
#include "matrix/results_json_read.h"
#include "matrix/theory.h"
#include "nft/profile.h"

const char *const matrix_default_profiles[] = {
	"full-cone", "restricted-cone", "port-restricted-cone", "symmetric",
	"symmetric-sequential", "port-restricted-cone-rst", NULL,
};

#define RENDEZVOUS_PORT 3478

/* One profile in use: its file, header and whether classify confirmed the header. */
struct used_profile {
	char name[CELL_REF_MAX]; /* the reference cells use (ref_canonical) */
	char path[PATH_MAX];
	struct profile_header h;
	bool bad;
	char why[256];
};

struct plan {
	struct topo topo;
	/* the dual-stack twin of topo (matrix/family.h), for cells of family 6 and dual */
	struct topo topo6;
	bool has_topo6;
	enum theory_layout layout;
	struct profile_header outer;  /* LAYOUT_SHARED_OUTER */
	bool has_outer;
	struct profile_header outer_a, outer_b; /* LAYOUT_TWO_LEVEL: each side's own outer NAT */
	bool has_outer_a, has_outer_b;
	struct used_profile *prof;
	int nprof;
	struct expectations exp;
	struct engine_file engine;
	/* an engine pair: peer B's engine (pair true); else engine_b is unused */
	struct engine_file engine_b;
	bool pair;
};

/* Peer B's engine: the pair's second one, or the engine itself. */
static const struct engine_file *plan_engine_b(const struct plan *p)
{
	return p->pair ? &p->engine_b : &p->engine;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct used_profile *profile_of(struct plan *p, const char *name)
{
	for (int i = 0; i < p->nprof; i++)
		if (strcmp(p->prof[i].name, name) == 0)
			return &p->prof[i];
	return NULL;
}

/* The reference a user's argument stands for (struct cell_spec): a shipped name stays a name;
 * a path to a shipped file becomes that file's name (one file, one cell id); any other path
 * stays as given, with "./" before a bare file name so that it reads as a path wherever the id
 * goes. Mirrors paths_resolve(): an argument with a '/', or naming an existing file, is a path.
 * Returns 0 or -ENAMETOOLONG. */
static int ref_canonical(const char *subdir, const char *ext, const char *arg, char *buf,
			 size_t len)
{
	char shipped[PATH_MAX], real_arg[PATH_MAX], real_shipped[PATH_MAX];
	const char *base = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
	size_t blen = strlen(base), elen = strlen(ext);
	struct stat st;

	if (!strchr(arg, '/') && !(stat(arg, &st) == 0 && S_ISREG(st.st_mode)))
		return (size_t)snprintf(buf, len, "%s", arg) < len ? 0 : -ENAMETOOLONG;
	if (blen > elen && strcmp(base + blen - elen, ext) == 0 &&
	    (size_t)snprintf(shipped, sizeof(shipped), "%s/%s/%s", paths_data_dir(), subdir, base) <
		    sizeof(shipped) &&
	    realpath(arg, real_arg) && realpath(shipped, real_shipped) &&
	    strcmp(real_arg, real_shipped) == 0)
		return (size_t)snprintf(buf, len, "%.*s", (int)(blen - elen), base) < len ? 0
											 : -ENAMETOOLONG;
	return (size_t)snprintf(buf, len, "%s%s", strchr(arg, '/') ? "" : "./", arg) < len
		       ? 0 : -ENAMETOOLONG;
}

/* Load a profile once per reference: arg is a name or a path as the user wrote it. Returns the
 * plan's entry, whose name is the canonical reference cells use, or NULL with a diagnostic. */
static struct used_profile *profile_add(struct plan *p, const char *arg, struct diag_list *dl)
{
	struct used_profile *u;
	char ref[CELL_REF_MAX];

	if (ref_canonical("nat-profiles", ".nft", arg, ref, sizeof(ref)) < 0) {
		diag_add(dl, arg, 0, "profile path too long, expected at most %d bytes",
			 CELL_REF_MAX - 1);
		return NULL;
	}
	u = profile_of(p, ref);
	if (u)
		return u;
	if (p->nprof >= MATRIX_MAX_PROFILES * 2) {
		diag_add(dl, arg, 0, "too many profiles in one run, expected at most %d",
			 MATRIX_MAX_PROFILES * 2);
		return NULL;
	}
	u = &p->prof[p->nprof];
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", ref);
	if (paths_resolve("nat-profiles", ".nft", ref, u->path, sizeof(u->path)) < 0) {
		diag_add(dl, arg, 0, "profile not found (looked for %s), expected a name from "
			 "nat-profiles/ or a path to a .nft file", u->path);
		return NULL;
	}
	if (profile_header_parse_file(&u->h, u->path, dl) < 0)
		return NULL;
	p->nprof++;
	return u;
}

/* A cell's profile labels: the headers' names (a path's file name says nothing). */
static void cell_names_set(struct plan *p, struct cell_spec *c)
{
	struct used_profile *a = profile_of(p, c->profile_a);
	struct used_profile *b = c->profile_b[0] ? profile_of(p, c->profile_b) : NULL;

	snprintf(c->profile_a_name, sizeof(c->profile_a_name), "%s", a ? a->h.name : "");
	snprintf(c->profile_b_name, sizeof(c->profile_b_name), "%s", b ? b->h.name : "");
}

/* --events: the NAT events of every cell (docs/events.md); a --cell id may carry its own, which
 * then must be the same timeline. Each timeline is checked against the topology (its nodes and
 * links exist, reboot and rebind name NAT nodes). Problems go to dl. */
static void plan_cells_events(const struct plan *p, const struct matrix_opts *o,
			      struct cell_spec *cells, int n, struct diag_list *dl)
{
	char canon[sizeof(cells[0].events)] = "", why[400];
	struct lab_timeline tl;

	if (o->events && (lab_timeline_parse(o->events, &tl, why, sizeof(why)) < 0 ||
			  lab_timeline_format(&tl, canon, sizeof(canon)) < 0)) {
		diag_add(dl, "--events", 0, "%s", why[0] ? why : "the timeline is too long");
		return;
	}
	for (int i = 0; i < n; i++) {
		struct cell_spec *c = &cells[i];

		if (o->events && c->events[0] && strcmp(c->events, canon) != 0) {
			diag_add(dl, "--events", 0, "cell %s carries the events \"%s\", but --events "
				 "says \"%s\" (one timeline per run)", c->id, c->events, canon);
			continue;
		}
		if (o->events && !c->events[0]) {
			snprintf(c->events, sizeof(c->events), "%s", canon);
			if (cell_spec_set_id(c) < 0)
				diag_add(dl, "--events", 0, "cell %s: its id would be too long", c->id);
		}
		if (c->events[0] && (lab_timeline_parse(c->events, &tl, why, sizeof(why)) < 0 ||
				     lab_timeline_check(&tl, &p->topo, why, sizeof(why)) < 0)) {
			diag_add(dl, "--events", 0, "%s", why);
			return;
		}
	}
}

/* Whether the run has cells of family f (no --family: IPv4 only). */
static bool opts_has_family(const struct matrix_opts *o, enum cell_family f)
{
	for (int i = 0; i < o->nfamilies; i++)
		if (o->families[i] == f)
			return true;
	return !o->nfamilies && f == CELL_FAMILY_4;
}

/* The profile family a cell of family f pairs: IPv6 profiles for 6, IPv4 for 4 and dual (a
 * dual cell's IPv6 side is its companion, ipv6-profile=). */
static enum profile_family family_profile_family(enum cell_family f)
{
	return f == CELL_FAMILY_6 ? PROFILE_FAMILY_IPV6 : PROFILE_FAMILY_IPV4;
}

/* A profile that does not fit the cells of family f: one diagnostic naming it, what it is and
 * what the axis takes (where: the option or the cell id that named it). */
static int family_profile_mismatch(const struct used_profile *u, enum cell_family f,
				   const char *where, struct diag_list *dl)
{
	bool v6 = u->h.family == PROFILE_FAMILY_IPV6;

	return diag_add(dl, where, 0, "profile %s is an %s profile (header \"family: %s\"), but "
			"family %s cells pair %s profiles: expected %s", u->name, v6 ? "IPv6" : "IPv4",
			v6 ? "ipv6" : "ipv4", cell_family_name(f), v6 ? "IPv4" : "IPv6",
			f == CELL_FAMILY_6 ? "an IPv6 profile (ipv6-firewall, ipv6-firewall-ad, nat66)"
			: v6 ? "an IPv4 profile (full-cone, symmetric, ...); a dual cell's IPv6 side is "
			       "its companion, --ipv6-profile"
			     : "an IPv4 profile");
}

/* The IPv6 companion of dual cells (arg: a name or a path; NULL: the default), loaded and
 * checked to be an IPv6 profile. Returns its entry or NULL with a diagnostic. */
static struct used_profile *companion_add(struct plan *p, const char *arg, const char *where,
					  struct diag_list *dl)
{
	struct used_profile *u = profile_add(p, arg ? arg : CELL_DEFAULT_IPV6_PROFILE, dl);

	if (u && u->h.family != PROFILE_FAMILY_IPV6) {
		diag_add(dl, where, 0, "profile %s is an IPv4 profile (its header has no \"family: "
			 "ipv6\"), but a dual cell's companion is the IPv6 profile every home NAT "
			 "runs beside its IPv4 one: expected ipv6-firewall, ipv6-firewall-ad or "
			 "nat66", u->name);
		return NULL;
	}
	return u;
}

/* A --cell id's family: its profiles of the family's kind, the dual-stack twin there for 6
 * and dual, a dual cell's companion loaded (its reference made canonical). 0 or -EINVAL. */
static int plan_cell_family(struct plan *p, struct cell_spec *c, const struct used_profile *a,
			    const struct used_profile *b, const char *id, struct diag_list *dl)
{
	enum profile_family want = family_profile_family(c->family);

	if (a->h.family != want)
		return family_profile_mismatch(a, c->family, id, dl);
	if (b && b->h.family != want)
		return family_profile_mismatch(b, c->family, id, dl);
	if (c->family != CELL_FAMILY_4 && !p->has_topo6)
		return diag_add(dl, id, 0, "cell of family %s, but topology %s has no dual-stack "
				"twin", cell_family_name(c->family), p->topo.name);
	if (c->family == CELL_FAMILY_DUAL) {
		struct used_profile *u = companion_add(p, c->ipv6_profile[0] ? c->ipv6_profile
								: NULL, id, dl);
		if (!u)
			return -EINVAL;
		snprintf(c->ipv6_profile, sizeof(c->ipv6_profile), "%s",
			 strcmp(u->name, CELL_DEFAULT_IPV6_PROFILE) ? u->name : "");
	}
	return 0;
}

/* The --cell ids, checked against the run: a cell that cannot exist (a B profile where the
 * topology has no NAT for B, or none where it has one; another topology or engine than the
 * run's; a profile that is not there) is bad input, and a cell named twice runs once. Profile
 * references are made canonical, so two spellings of one cell are one cell. Returns the count
 * of cells, with diagnostics in dl when some were bad. */
static int plan_cells_from_ids(struct plan *p, const struct matrix_opts *o, const char *topo_ref,
			       struct cell_spec *cells, struct diag_list *dl, FILE *err)
{
	bool b_has_nat = p->topo.roles[ROLE_NAT_B] >= 0;
	int n = 0;

	for (int i = 0; i < o->ncells; i++) {
		struct cell_spec *c = &cells[n];
		struct used_profile *a, *b = NULL;
		char why[256], ref[CELL_REF_MAX];
		bool dup = false;

		if (cell_id_parse_msg(o->cells[i], c, why, sizeof(why)) < 0) {
			diag_add(dl, "--cell", 0, "\"%s\" is not a cell id: %s (ids are TOPOLOGY/PROTO/"
				 "TECHNIQUE/PROFILE-A~PROFILE-B, docs/matrix-json.md)", o->cells[i], why);
			continue;
		}
		/* an id without port= runs on the run's --rendezvous-port, and its id then names it
		 * (so that the rerun line reproduces the cell) */
		if (!c->port && o->rendezvous_port && o->rendezvous_port != CELL_DEFAULT_PORT) {
			c->port = o->rendezvous_port;
			if (cell_spec_set_id(c) < 0) {
				diag_add(dl, "--cell", 0, "cell %s with port=%d: the id is too long",
					 o->cells[i], c->port);
				continue;
			}
		}
		/* ids name the topology by its name (its file's topology: key); -t says which file,
		 * and an encoded path there works too */
		if (strcmp(c->topology, p->topo.name) != 0 &&
		    (ref_canonical("topologies", ".yaml", c->topology, ref, sizeof(ref)) < 0 ||
		     strcmp(ref, topo_ref) != 0)) {
			diag_add(dl, "--cell", 0, "cell %s is of topology %s, but this run's is %s (one "
				 "topology per run: give --topology %s)", o->cells[i], c->topology,
				 p->topo.name, c->topology);
			continue;
		}
		if (strcmp(c->engine, o->engine) != 0 ||
		    strcmp(c->engine_b, o->engine_b ? o->engine_b : "") != 0) {
			diag_add(dl, "--cell", 0, "cell %s is for engine %s%s%s, but this run's is %s%s%s "
				 "(one engine or engine pair per run: give --engine-a %s%s%s)",
				 o->cells[i], c->engine, c->engine_b[0] ? "~" : "", c->engine_b,
				 o->engine, o->engine_b ? "~" : "", o->engine_b ? o->engine_b : "",
				 c->engine, c->engine_b[0] ? " --engine-b " : "", c->engine_b);
			continue;
		}
		if (b_has_nat != (c->profile_b[0] != '\0')) {
			diag_add(dl, "--cell", 0, "cell %s cannot exist: topology %s %s, expected %s",
				 o->cells[i], p->topo.name, b_has_nat ? "puts peer B behind a NAT of its own "
				 "(profile B)" : "has no NAT of peer B's own (profile A only)",
				 b_has_nat ? "PROFILE-A~PROFILE-B" : "PROFILE-A~- (\"-\": no profile B)");
			continue;
		}
		snprintf(c->topology, sizeof(c->topology), "%s", p->topo.name);
		if (c->outer[0]) {
			struct used_profile *ou;

			if (p->layout != LAYOUT_SHARED_OUTER) {
				diag_add(dl, "--cell", 0, "cell %s cannot exist: topology %s has no "
					 "outer NAT shared by both NATs, expected no outer=",
					 o->cells[i], p->topo.name);
				continue;
			}
			ou = profile_add(p, c->outer, dl);
			if (!ou)
				continue;
			snprintf(c->outer, sizeof(c->outer), "%s", ou->name);
		}
		a = profile_add(p, c->profile_a, dl);
		if (c->profile_b[0])
			b = profile_add(p, c->profile_b, dl);
		if (!a || (c->profile_b[0] && !b))
			continue;
		snprintf(c->profile_a, sizeof(c->profile_a), "%s", a->name);
		if (b)
			snprintf(c->profile_b, sizeof(c->profile_b), "%s", b->name);
		if (plan_cell_family(p, c, a, b, o->cells[i], dl) < 0)
			continue;
		if (cell_spec_set_id(c) < 0) {
			diag_add(dl, "--cell", 0, "cell %s: its id would be too long", o->cells[i]);
			continue;
		}
		for (int j = 0; j < n && !dup; j++)
			dup = strcmp(cells[j].id, c->id) == 0;
		if (dup) {
			fprintf(err, "punchlab: --cell %s is the cell %s given before: running it once "
				"(--repeat N runs every cell N times)\n", o->cells[i], c->id);
			continue;
		}
		n++;
	}
	return n;
}

/* The layout follows from the roles: who is behind which NAT. */
static void plan_layout(struct plan *p, struct diag_list *dl)
{
	const struct topo *t = &p->topo;
	int na = t->roles[ROLE_NAT_A], nb = t->roles[ROLE_NAT_B], pb = t->roles[ROLE_PEER_B];

	if (nb >= 0) {
		int ga = t->nodes[na].gateway, gb = t->nodes[nb].gateway;
		p->layout = LAYOUT_TWO_NATS;
		/* each home NAT behind an outer NAT of its own */
		if (ga >= 0 && gb >= 0 && ga != gb && t->nodes[ga].kind == NODE_NAT &&
		    t->nodes[gb].kind == NODE_NAT) {
			char path[PATH_MAX];

			p->layout = LAYOUT_TWO_LEVEL;
			if (t->nodes[ga].profile[0] &&
			    paths_resolve("nat-profiles", ".nft", t->nodes[ga].profile, path,
					  sizeof(path)) == 0 &&
			    profile_header_parse_file(&p->outer_a, path, dl) == 0)
				p->has_outer_a = true;
			if (t->nodes[gb].profile[0] &&
			    paths_resolve("nat-profiles", ".nft", t->nodes[gb].profile, path,
					  sizeof(path)) == 0 &&
			    profile_header_parse_file(&p->outer_b, path, dl) == 0)
				p->has_outer_b = true;
		}
		if (ga >= 0 && ga == gb && t->nodes[ga].kind == NODE_NAT) {
			char path[PATH_MAX];
			p->layout = LAYOUT_SHARED_OUTER;
			if (t->nodes[ga].profile[0] &&
			    paths_resolve("nat-profiles", ".nft", t->nodes[ga].profile, path,
					  sizeof(path)) == 0 &&
			    profile_header_parse_file(&p->outer, path, dl) == 0)
				p->has_outer = true;
		}
	} else if (pb >= 0 && t->nodes[pb].gateway == na) {
		p->layout = LAYOUT_SAME_LAN;
	} else {
		p->layout = LAYOUT_PUBLIC_B;
	}
}

/* --- classification, one thread per profile ------------------------------------------------ */

struct classify_job {
	struct used_profile *u;
	const struct topo *t;
};

static void *classify_thread(void *arg)
{
	struct classify_job *j = arg;
	struct classify_result *r = j->u ? calloc(1, sizeof(*r)) : NULL;
	struct diag_list *dl = j->u ? calloc(1, sizeof(*dl)) : NULL;
	struct classify_opts co = { .wait_ms = 300 };

	if (!j->u) {
		/* not classified (plan_classify says why) */
	} else if (!r || !dl) {
		j->u->bad = true;
		snprintf(j->u->why, sizeof(j->u->why), "out of memory");
	} else if (classify_profile(j->t, j->u->path, &co, r, dl) < 0) {
		j->u->bad = true;
		snprintf(j->u->why, sizeof(j->u->why), "classify could not run: %s",
			 dl->count ? dl->items[0].msg : "?");
	} else if (r->mismatches) {
		size_t n = 0;
		j->u->bad = true;
		n += (size_t)snprintf(j->u->why, sizeof(j->u->why), "profile %s behaves unlike its "
				      "header (punchlab classify %s): ", j->u->name, j->u->name);
		for (int k = 0; k < PROFILE_KEY_COUNT && n < sizeof(j->u->why); k++)
			if (r->mismatches & (1u << k))
				n += (size_t)snprintf(j->u->why + n, sizeof(j->u->why) - n, "%s ",
						      profile_key_name(k));
	}
	if (r)
		classify_result_free(r);
	free(r);
	free(dl);
	return NULL;
}

static int plan_classify(struct plan *p, const struct out *o)
{
	struct topo *t = calloc(1, sizeof(*t)), *tfw = NULL;
	struct diag_list dl = { .count = 0 };
	pthread_t th[MATRIX_MAX_PROFILES];
	struct classify_job jobs[MATRIX_MAX_PROFILES];
	char path[PATH_MAX];
	double t0 = now_ms();
	int started = 0;

	if (!t)
		return -ENOMEM;
	if (paths_resolve("topologies", ".yaml", "two-nats", path, sizeof(path)) < 0 ||
	    topo_parse_file(t, path, &dl) < 0) {
		diag_print(&dl, o);
		free(t);
		return -EINVAL;
	}
	/* a profile that translates nothing is measured where its home is routed */
	for (int i = 0; i < p->nprof && !tfw; i++) {
		const char *name = classify_default_topology(&p->prof[i].h);

		if (strcmp(name, "two-nats") == 0)
			continue;
		tfw = calloc(1, sizeof(*tfw));
		if (!tfw || paths_resolve("topologies", ".yaml", name, path, sizeof(path)) < 0 ||
		    topo_parse_file(tfw, path, &dl) < 0) {
			int ret = tfw ? -EINVAL : -ENOMEM;

			diag_print(&dl, o);
			free(tfw);
			free(t);
			return ret;
		}
	}
	for (int i = 0; i < p->nprof; i++) {
		const char *name = classify_default_topology(&p->prof[i].h);

		jobs[i] = (struct classify_job){ .u = &p->prof[i],
						 .t = strcmp(name, "two-nats") ? tfw : t };
		/* an IPv6 profile is measured over IPv6: classify takes two-nats-dual by itself
		 * when the topology has no IPv6 (src/lab/classify_topology.c) */
		if (pthread_create(&th[i], NULL, classify_thread, &jobs[i]) == 0)
			started = i + 1;
		else
			break;
	}
	/* Meanwhile, here: the profiles the topology itself names (double-nat's CGN). Every
	 * cell rests on them, so one that behaves unlike its header turns every cell into an
	 * error. */
	struct classify_opts topo_co = { .wait_ms = 300 };
	char topo_why[256];
	int nextra = 0;
	int topo_bad = classify_topology_profiles(t, &p->topo, &topo_co, topo_why,
						  sizeof(topo_why), &nextra);

	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; topo_bad && i < p->nprof; i++)
		if (!p->prof[i].bad) {
			p->prof[i].bad = true;
			snprintf(p->prof[i].why, sizeof(p->prof[i].why), "%s", topo_why);
		}
	fprintf(o->err ? o->err : stderr, "classified %d profile(s) in %.1f s\n", p->nprof + nextra,
		(now_ms() - t0) / 1000);
	free(t);
	free(tfw);
	return 0;
}

/* --- references ------------------------------------------------------------------------------ */

/* Returns 0, or -errno when the cell's expected rate is missing or untestable (message in dl). */
static int cell_references(struct plan *p, struct cell_result *c, const struct results *base,
			   bool measuring, struct diag_list *dl)
{
	char why[512];
	struct used_profile *a = profile_of(p, c->spec.profile_a);
	struct used_profile *b = c->spec.profile_b[0] ? profile_of(p, c->spec.profile_b) : NULL;
	struct used_profile *ou = c->spec.outer[0] ? profile_of(p, c->spec.outer) : NULL;
	struct theory_input in = { .a = &a->h, .b = b ? &b->h : NULL,
				   .outer = ou ? &ou->h : p->has_outer ? &p->outer : NULL,
				   .outer_a = p->has_outer_a ? &p->outer_a : NULL,
				   .outer_b = p->has_outer_b ? &p->outer_b : NULL,
				   .layout = p->layout,
				   .tcp = strcmp(c->spec.proto, "tcp") == 0,
				   .technique = c->spec.technique,
				   .rendezvous_port = c->spec.port ? c->spec.port
								   : CELL_DEFAULT_PORT };
	struct theory th;
	struct net_addr n64;

	unsigned caps = theory_caps_shared(p->engine.capabilities, plan_engine_b(p)->capabilities);

	/* an engine pair is judged by the capabilities both sides have */
	theory_input_set_engines(&in, p->engine.capabilities, plan_engine_b(p)->capabilities);
	/* an IPv6-only peer behind NAT64 (family 4 only: its rendezvous is IPv4) */
	in.nat64_a = c->spec.family == CELL_FAMILY_4 &&
		     engine_nat64_prefix(&p->topo, p->topo.roles[ROLE_PEER_A], &n64) == 0;
	in.nat64_b = c->spec.family == CELL_FAMILY_4 &&
		     engine_nat64_prefix(&p->topo, p->topo.roles[ROLE_PEER_B], &n64) == 0;
	if (c->spec.family == CELL_FAMILY_DUAL) {
		/* both homes run the same IPv6 companion beside their IPv4 profiles */
		struct used_profile *six = profile_of(p, c->spec.ipv6_profile[0]
							 ? c->spec.ipv6_profile
							 : CELL_DEFAULT_IPV6_PROFILE);
		struct theory_input in6 = in;

		in6.a = six ? &six->h : NULL;
		in6.b = b && six ? &six->h : NULL;
		if (six)
			theory_predict_dual(&in, &in6, &th);
		else
			theory_predict(&in, &th); /* not reached: plan_cell_family loaded it */
	} else {
		theory_predict(&in, &th);
	}
	if (c->spec.family != CELL_FAMILY_4 && !(caps & EF_CAP_IPV6)) {
		/* not run (worker()): the engine does not say it speaks IPv6 */
		th.outcome = CELL_SKIPPED;
		th.timing_dependent = th.probabilistic = false;
		snprintf(th.why, sizeof(th.why), "not run: engine %s does not declare the ipv6 "
			 "capability (docs/engine-format.md \"Capabilities\"), so it has no family "
			 "%s cells", !(p->engine.capabilities & EF_CAP_IPV6) ? p->engine.name
			 : plan_engine_b(p)->name, cell_family_name(c->spec.family));
	}
	c->refs.theory = th.outcome;
	snprintf(c->refs.theory_why, sizeof(c->refs.theory_why), "%s", th.why);
	/* an IPv6 or dual cell gets no claim (expect_claims.c): judged by the theory alone */
	expectations_claim(&p->exp, &c->spec, &a->h, b ? &b->h : NULL, p->layout, &c->refs);
	for (int i = 0; base && i < base->ncells; i++)
		if (strcmp(base->cells[i].spec.id, c->spec.id) == 0) {
			c->refs.has_baseline = true;
			c->refs.baseline = base->cells[i].outcome;
		}
	/* measuring rates (--only-rate-cells) is how a missing or too low rate gets its number */
	if (expectations_expected(&p->exp, &c->spec, &th, &c->refs, why, sizeof(why)) < 0 &&
	    !measuring)
		return diag_add(dl, p->exp.file, 0, "%s", why);
	return 0;
}

/* --- running ---------------------------------------------------------------------------------- */

/* Longest first (LPT scheduling): a cell the theory expects not to connect directly runs until
 * its engine deadline, and such cells started last would set the wall time on their own. */
static int expected_cost_ms(const struct cell_result *c, const struct engine_file *e,
			    const struct engine_file *eb)
{
	int deadline = runner_deadline_ms(e, &c->spec), db = runner_deadline_ms(eb, &c->spec);

	deadline = db > deadline ? db : deadline;

	return c->refs.theory == CELL_DIRECT && c->refs.cell_class == CLASS_DETERMINED ? deadline / 20
										       : deadline;
}

struct cost_ctx {
	const struct cell_result *cells;
	const struct engine_file *engine, *engine_b;
};

static int by_cost(const void *a, const void *b, void *arg)
{
	const struct cost_ctx *k = arg;
	const struct cell_result *c = k->cells;
	int x = *(const int *)a, y = *(const int *)b;
	int cx = expected_cost_ms(&c[x], k->engine, k->engine_b);
	int cy = expected_cost_ms(&c[y], k->engine, k->engine_b);

	return cx != cy ? cy - cx : x - y;
}

struct run_state {
	struct results *res;
	struct plan *plan;
	struct runner_config cfg;
	int repeat;
	atomic_int next;       /* next task: tasks[next] */
	atomic_int done, failures;
	int ntasks;
	int *order;            /* cells, longest expected first */
	struct task { int cell, rep; } *tasks; /* round after round of runs, each round in order */
	int done_fd;           /* eventfd: a task finished */
	atomic_bool stop;
	struct load_gate gate; /* how many run at once (load_gate.h) */
};

static void *worker(void *arg)
{
	struct run_state *s = arg;

	for (;;) {
		int task, ci, rep;
		struct cell_result *c;
		struct used_profile *a, *b, *ou;
		uint64_t one = 1;

		if (load_gate_enter(&s->gate, &s->stop) < 0)
			break;
		task = atomic_fetch_add(&s->next, 1);
		if (task >= s->ntasks || atomic_load(&s->stop)) {
			load_gate_leave(&s->gate);
			break;
		}
		ci = s->tasks[task].cell;
		rep = s->tasks[task].rep;
		c = &s->res->cells[ci];
		a = profile_of(s->plan, c->spec.profile_a);
		b = c->spec.profile_b[0] ? profile_of(s->plan, c->spec.profile_b) : NULL;
		ou = c->spec.outer[0] ? profile_of(s->plan, c->spec.outer) : NULL;
		if (c->spec.family != CELL_FAMILY_4 &&
		    !(theory_caps_shared(s->plan->engine.capabilities,
					 plan_engine_b(s->plan)->capabilities) & EF_CAP_IPV6)) {
			/* not an error: the engine says what it can do, and IPv6 is not in it */
			c->runs[rep].outcome = CELL_SKIPPED;
			snprintf(c->runs[rep].reason, sizeof(c->runs[rep].reason), "%s",
				 c->refs.theory_why);
		} else if ((a && a->bad) || (b && b->bad) || (ou && ou->bad)) {
			c->runs[rep].outcome = CELL_ERROR;
			snprintf(c->runs[rep].reason, sizeof(c->runs[rep].reason), "%s%s",
				 a && a->bad ? a->why : b && b->bad ? b->why : "outer NAT: ",
				 a && a->bad ? "" : b && b->bad ? "" : ou->why);
		} else if (cell_run_once(&s->cfg, &c->spec, rep, &c->runs[rep]) == -ECANCELED) {
			load_gate_leave(&s->gate);
			break; /* not counted: the run is incomplete */
		}
		load_gate_leave(&s->gate);
		if (c->runs[rep].outcome == CELL_FAILED || c->runs[rep].outcome == CELL_ERROR)
			atomic_fetch_add(&s->failures, 1);
		atomic_fetch_add(&s->done, 1);
		if (write(s->done_fd, &one, sizeof(one)) < 0) {
			/* only the progress line misses a wake-up */
		}
	}
	return NULL;
}

static void progress(const struct run_state *s, double t0, bool tty, FILE *f, bool final)
{
	int done = atomic_load(&s->done), fails = atomic_load(&s->failures);
	double el = (now_ms() - t0) / 1000, eta = done ? el / done * (s->ntasks - done) : 0;

	if (tty)
		fprintf(f, "\r\033[K[%d/%d] failed or error so far: %d  elapsed %.1f s  eta %.1f s%s",
			done, s->ntasks, fails, el, eta, final ? "\n" : "");
	else
		fprintf(f, "[%d/%d] failed or error so far: %d, elapsed %.1f s\n", done, s->ntasks,
			fails, el);
	fflush(f);
}

static int run_cells(struct run_state *s, int jobs, bool tty, FILE *f)
{
	pthread_t th[256];
	bool joined[256] = { false };
	sigset_t mask;
	int sfd, nth = 0, last_plain = -1;
	double t0 = now_ms(), last_print = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	/* blocked before the workers start, so they inherit it and only signalfd sees the signal */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	s->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->cfg.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (sfd < 0 || s->done_fd < 0 || s->cfg.stop_fd < 0)
		return -errno;
	if (jobs > 256)
		jobs = 256;
	for (int i = 0; i < jobs && i < s->ntasks; i++)
		if (pthread_create(&th[nth], NULL, worker, s) == 0)
			nth++;
	/* Every wait is bounded by the tasks' own deadlines; the 500 ms timeout only refreshes the
	 * progress line. */
	while (atomic_load(&s->done) < s->ntasks && !atomic_load(&s->stop)) {
		struct pollfd pfd[2] = { { .fd = sfd, .events = POLLIN },
					 { .fd = s->done_fd, .events = POLLIN } };
		uint64_t v;
		int alive = 0;

		poll(pfd, 2, 500);
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) > 0)
				fprintf(f, "\n%s: stopping the matrix, writing a partial report\n",
					strsignal((int)si.ssi_signo));
			atomic_store(&s->stop, true);
			v = 1;
			if (write(s->cfg.stop_fd, &v, sizeof(v)) < 0)
				break;
		}
		if (pfd[1].revents & POLLIN && read(s->done_fd, &v, sizeof(v)) < 0)
			continue;
		if (tty || now_ms() - last_print > 5000 ||
		    atomic_load(&s->done) / (s->ntasks / 10 + 1) != last_plain) {
			last_plain = atomic_load(&s->done) / (s->ntasks / 10 + 1);
			last_print = now_ms();
			progress(s, t0, tty, f, false);
		}
		/* All workers gone (e.g. they could not start) and tasks left: stop waiting. */
		for (int i = 0; i < nth; i++) {
			if (!joined[i] && pthread_tryjoin_np(th[i], NULL) == 0)
				joined[i] = true;
			alive += !joined[i];
		}
		if (!alive && atomic_load(&s->done) < s->ntasks) {
			atomic_store(&s->stop, true);
			break;
		}
	}
	for (int i = 0; i < nth; i++)
		if (!joined[i])
			pthread_join(th[i], NULL);
	progress(s, t0, tty, f, true);
	close(sfd);
	close(s->done_fd);
	close(s->cfg.stop_fd);
	pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
	return 0;
}

/* --- metadata --------------------------------------------------------------------------------- */

static void fill_meta(struct results *res, const struct matrix_opts *o, struct plan *p,
		      const char *version, const char *version_b)
{
	struct results_meta *m = &res->meta;
	struct utsname u;
	time_t now = time(NULL);
	struct tm tm;

	m->schema_version = RESULTS_SCHEMA_VERSION;
	gmtime_r(&now, &tm);
	strftime(m->started, sizeof(m->started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (uname(&u) == 0) {
		snprintf(m->kernel, sizeof(m->kernel), "%s %s", u.sysname, u.release);
		snprintf(m->host, sizeof(m->host), "%s", u.nodename);
	}
	snprintf(m->nft_version, sizeof(m->nft_version), "libnftables %s", PUNCHLAB_NFTABLES_VERSION);
	snprintf(m->engine, sizeof(m->engine), "%s", o->engine);
	/* "punch 0.1.0" from the program: the name is in m->engine already */
	if (strncmp(version, o->engine, strlen(o->engine)) == 0 && version[strlen(o->engine)] == ' ')
		version += strlen(o->engine) + 1;
	snprintf(m->engine_version, sizeof(m->engine_version), "%s", version);
	if (o->engine_b) {
		snprintf(m->engine_b, sizeof(m->engine_b), "%s", o->engine_b);
		if (strncmp(version_b, o->engine_b, strlen(o->engine_b)) == 0 &&
		    version_b[strlen(o->engine_b)] == ' ')
			version_b += strlen(o->engine_b) + 1;
		snprintf(m->engine_b_version, sizeof(m->engine_b_version), "%s", version_b);
	}
	if (o->engine_binary_b)
		snprintf(m->engine_binary_b, sizeof(m->engine_binary_b), "%s", o->engine_binary_b);
	snprintf(m->harness_version, sizeof(m->harness_version), "punchlab %s", PUNCHLAB_VERSION);
	m->jobs = o->jobs;
	m->repeat = o->repeat;
	m->stagger_ms = o->stagger_ms;
	if (o->shard_n)
		snprintf(m->shard, sizeof(m->shard), "%d/%d", o->shard_k, o->shard_n);
	if (o->baseline)
		snprintf(m->baseline, sizeof(m->baseline), "%s", o->baseline);
	if (o->engine_binary)
		snprintf(m->engine_binary, sizeof(m->engine_binary), "%s", o->engine_binary);
	if (o->expectations)
		snprintf(m->expectations, sizeof(m->expectations), "%s", o->expectations);
	/* ids name the topology; a file that is not a shipped one goes into the rerun command */
	if (ref_canonical("topologies", ".yaml", p->topo.file, m->topology_path,
			  sizeof(m->topology_path)) < 0 || !cell_ref_is_path(m->topology_path))
		m->topology_path[0] = '\0';
	m->profiles = calloc((size_t)p->nprof + 1, sizeof(*m->profiles));
	for (int i = 0; m->profiles && i < p->nprof; i++) {
		snprintf(m->profiles[i].name, sizeof(m->profiles[i].name), "%s", p->prof[i].name);
		if (sha256_file_hex(p->prof[i].path, m->profiles[i].sha256) < 0)
			snprintf(m->profiles[i].sha256, sizeof(m->profiles[i].sha256), "?");
		m->nprofiles++;
	}
}

/* Keep only the cells whose technique the engine offers over their transport. Cells the user
 * named (-T, --cell) that it does not offer are bad input; the default techniques are simply
 * what the engine has of them. Returns the new count. */
static int plan_cells_engine(const struct plan *p, const struct matrix_opts *o,
			     struct cell_spec *cells, int ncells, struct diag_list *dl, FILE *err)
{
	int kept = 0, dropped = 0;

	for (int i = 0; i < ncells; i++) {
		bool tcp = strcmp(cells[i].proto, "tcp") == 0;
		/* an engine pair runs only the techniques both offer (over that transport) */
		const struct engine_file *lacking =
			!engine_file_technique(&p->engine, cells[i].technique, tcp) ? &p->engine
			: !engine_file_technique(plan_engine_b(p), cells[i].technique, tcp)
				? plan_engine_b(p) : NULL;
		if (!lacking) {
			cells[kept++] = cells[i];
			continue;
		}
		if (o->ncells || o->ntechniques) {
			char offered[256] = "";
			size_t n = 0;
			for (int t = 0; t < p->engine.ntechniques && n < sizeof(offered); t++) {
				const struct ef_technique *et = &p->engine.techniques[t];
				if ((tcp ? et->tcp : et->udp) &&
				    engine_file_technique(plan_engine_b(p), et->name, tcp))
					n += (size_t)snprintf(offered + n, sizeof(offered) - n, "%s%s",
							      n ? ", " : "", et->name);
			}
			diag_add(dl, o->ncells ? "--cell" : "--technique", 0, "%s: engine %s%s does "
				 "not offer technique %s over %s, expected one of%s: %s", cells[i].id,
				 lacking->name, p->pair ? (lacking == &p->engine ? " (peer A)"
							   : " (peer B)") : "",
				 cells[i].technique, cells[i].proto, p->pair ? " both offer" : "",
				 offered[0] ? offered : "(none over this transport)");
			return kept;
		}
		dropped++;
	}
	if (dropped && p->pair)
		fprintf(err, "engines %s ~ %s: %d cell(s) left out (techniques or transports not "
			"both offer, see %s and %s)\n", p->engine.name, p->engine_b.name, dropped,
			p->engine.path, p->engine_b.path);
	else if (dropped)
		fprintf(err, "engine %s: %d cell(s) left out (techniques or transports it does not "
			"offer, see %s)\n", p->engine.name, dropped, p->engine.path);
	return kept;
}

/* --- the run, step by step ---------------------------------------------------------------------- */

/* What the steps of matrix_run share. Each step returns 0, or -errno after it has reported the
 * failure (a warning, or the diagnostics in dl printed by steps_bad): matrix_run then stops. */
struct matrix_steps {
	struct matrix_opts o;      /* the options, with the engine reference made canonical */
	const struct out *out;
	FILE *err;
	struct diag_list *dl;
	struct plan *p;
	struct results *res;
	struct results *base;      /* --baseline, or NULL */
	char topo_ref[CELL_REF_MAX];
	char engine_ref[CELL_REF_MAX], engine_bin[PATH_MAX], engine_ver[64];
	char engine_b_ref[CELL_REF_MAX], engine_bin_b[PATH_MAX], engine_ver_b[64];
	const char *dim_profiles[MATRIX_MAX_PROFILES]; /* the profiles to pair (not with --cell) */
	int ndim_profiles;
	const char *dim_profiles6[MATRIX_MAX_PROFILES]; /* family 6 cells': IPv6 profiles */
	int ndim_profiles6;
	char companion[CELL_REF_MAX]; /* dual cells' IPv6 companion, canonical; "" default */
	const char *dim_outers[MATRIX_MAX_PROFILES];   /* --outer, canonical references */
	int ndim_outers;
	char outer_default[CELL_REF_MAX]; /* the topology's own outer profile, canonical */
	struct cell_spec *cells;   /* the planned cells, before references */
	int ncells;
	int max_runs, total_runs;  /* runs of the most repeated cell, runs of all cells */
	struct run_state *s;
};

/* Print the diagnostics collected so far: bad input. */
static int steps_bad(struct matrix_steps *m)
{
	diag_print(m->dl, m->out);
	return -EINVAL;
}

/* One engine: a name from engines/ or a path (ids name a shipped one by its name), its file,
 * its program and that program's version. arg is made canonical into ref. */
static int load_one_engine(struct matrix_steps *m, struct engine_file *e, const char **arg,
			   char *ref, const char *binary, char *bin, char *ver, const char *side)
{
	int ret;

	if (ref_canonical("engines", ".yaml", *arg, ref, CELL_REF_MAX) < 0) {
		out_warnx(m->out, "engine%s \"%s\": name too long", side, *arg);
		return -ENAMETOOLONG;
	}
	*arg = ref;
	ret = engine_file_load(e, ref, m->dl);
	if (ret == -ENOENT) {
		out_warnx(m->out, "engine%s \"%s\" not found (looked for %s; punchlab engines lists "
			  "them)", side, ref, e->path);
		return ret;
	}
	if (m->dl->count)
		return steps_bad(m);
	if (engine_program_find(e, binary, bin, PATH_MAX) < 0) {
		out_warnx(m->out, "engine%s %s: program %s not found or not executable (%s%s%s)", side,
			  e->name, bin, e->npackages ? "install the Debian package "
			  : "build it with ninja -C build, or give --engine-binary",
			  e->npackages ? e->packages[0] : "",
			  e->npackages ? ", or give --engine-binary" : "");
		return -ENOENT;
	}
	if ((ret = engine_npm_installed(e)) < 0) {
		char dir[PATH_MAX];
		engine_npm_dir(e, dir, sizeof(dir));
		out_warnx(m->out, "engine%s %s: its npm packages are %s in %s (sudo ./run-matrix "
			  "--engine %s runs npm ci there)", side, e->name,
			  ret == -ESTALE ? "older than package-lock.json" : "not installed", dir,
			  *arg);
		return -ENOENT;
	}
	/* a device its programs open (needs: [tun]) that this user cannot: one sentence here
	 * rather than every cell an `error` (docs/rootless.md) */
	{
		char why[1024];
		if ((ret = engine_needs_check(e, why, sizeof(why))) < 0) {
			out_warnx(m->out, "%s", why);
			return ret;
		}
	}
	engine_version(e, bin, ver, 64);
	return 0;
}

/* The engine, and for an engine pair peer B's. A pair whose sides are read differently (one by
 * a probe, the other by its output) has no common outcome: bad input. */
static int steps_load_engine(struct matrix_steps *m)
{
	struct plan *p = m->p;
	int ret;

	ret = load_one_engine(m, &p->engine, &m->o.engine, m->engine_ref, m->o.engine_binary,
			      m->engine_bin, m->engine_ver, m->o.engine_b ? " A" : "");
	if (ret < 0)
		return ret;
	/* no --jobs count: the engine file's jobs: (or the default) is the ceiling (adaptive) or
	 * the count (bench); a pair takes the smaller */
	m->o.jobs_given = m->o.jobs != 0;
	if (!m->o.jobs)
		m->o.jobs = p->engine.jobs ? p->engine.jobs : MATRIX_DEFAULT_JOBS;
	if (!m->o.engine_b)
		return 0;
	ret = load_one_engine(m, &p->engine_b, &m->o.engine_b, m->engine_b_ref,
			      m->o.engine_binary_b, m->engine_bin_b, m->engine_ver_b, " B");
	if (ret < 0)
		return ret;
	p->pair = true;
	if ((p->engine.outcome.kind == EF_OUTCOME_PROBE) !=
	    (p->engine_b.outcome.kind == EF_OUTCOME_PROBE)) {
		out_warnx(m->out, "engines %s ~ %s: one is judged by a probe command and the other by "
			  "its peers' output (%s, %s): a pair needs both sides read the same way "
			  "(docs/engine-format.md \"Engine against engine\")", p->engine.name,
			  p->engine_b.name, p->engine.path, p->engine_b.path);
		return -EINVAL;
	}
	if (p->engine_b.jobs && (!m->o.jobs || p->engine_b.jobs < m->o.jobs) && !m->o.jobs_given)
		m->o.jobs = p->engine_b.jobs;
	return 0;
}

/* Families 6 and dual (--family, or --cell ids of those families) run on the topology's
 * dual-stack twin, loaded here with the same --impair; a topology without one is bad input. */
static int steps_load_twin(struct matrix_steps *m)
{
	bool need = opts_has_family(&m->o, CELL_FAMILY_6) ||
		    opts_has_family(&m->o, CELL_FAMILY_DUAL);

	for (int i = 0; i < m->o.ncells && !need; i++) {
		struct cell_spec c;
		need = cell_id_parse(m->o.cells[i], &c) == 0 && c.family != CELL_FAMILY_4;
	}
	if (!need)
		return 0;
	if (family_twin_topology(&m->p->topo, m->o.ncells ? "--cell" : "--family", &m->p->topo6,
				 m->dl) < 0)
		return steps_bad(m);
	for (int i = 0; i < m->o.nimpair; i++)
		topo_impair_set(&m->p->topo6, m->o.impair[i], m->dl);
	if (m->dl->count)
		return steps_bad(m);
	m->p->has_topo6 = true;
	return 0;
}

/* The topology: --cell ids carry their own (the first one's, unless -t was given). */
static int steps_load_topology(struct matrix_steps *m)
{
	const char *topology = m->o.topology;
	struct cell_spec first;
	char path[PATH_MAX];

	if (!topology && m->o.ncells && cell_id_parse(m->o.cells[0], &first) == 0)
		topology = first.topology;
	if (!topology)
		topology = "two-nats";
	if (ref_canonical("topologies", ".yaml", topology, m->topo_ref, sizeof(m->topo_ref)) < 0 ||
	    paths_resolve("topologies", ".yaml", m->topo_ref, path, sizeof(path)) < 0) {
		out_warnx(m->out, "topology \"%s\" not found (looked for %s)", topology, path);
		return -ENOENT;
	}
	if (topo_parse_file(&m->p->topo, path, m->dl) < 0)
		return steps_bad(m);
	for (int i = 0; i < m->o.nimpair; i++)
		topo_impair_set(&m->p->topo, m->o.impair[i], m->dl);
	if (m->dl->count)
		return steps_bad(m);
	plan_layout(m->p, m->dl);
	return steps_load_twin(m);
}

/* --ipv6-profile without dual cells to give it to: it would change nothing (a diagnostic). */
static int ipv6_profile_unused(struct matrix_steps *m)
{
	return diag_add(m->dl, "--ipv6-profile", 0, "%s is the IPv6 companion of dual cells, but "
			"this run has none: expected --family with dual (a --cell id names its own, "
			"ipv6-profile=P)", m->o.ipv6_profile);
}

/* The profile axes of the families (docs/matrix.md "Address families"): family 4 and dual pair
 * IPv4 profiles, family 6 IPv6 ones. Given profiles go to the families they fit; one that fits
 * none of the run's families, or a family left without any, is bad input. Without --profiles
 * each family takes its defaults: the classic types, the shipped IPv6 profiles. Dual cells'
 * companion is loaded and checked. Problems go to m->dl; returns -EINVAL then. */
static int steps_load_family_profiles(struct matrix_steps *m)
{
	const struct matrix_opts *o = &m->o;
	bool want4 = opts_has_family(o, CELL_FAMILY_4) || opts_has_family(o, CELL_FAMILY_DUAL);
	bool want6 = opts_has_family(o, CELL_FAMILY_6);
	char v6[MATRIX_MAX_PROFILES][CELL_REF_MAX];
	int n6 = 0;

	if (o->ipv6_profile && !opts_has_family(o, CELL_FAMILY_DUAL))
		return ipv6_profile_unused(m);
	for (int i = 0; i < o->nprofiles; i++) {
		struct used_profile *u = profile_add(m->p, o->profiles[i], m->dl);
		bool is6 = u && u->h.family == PROFILE_FAMILY_IPV6;

		if (!u)
			continue;
		if (is6 ? !want6 : !want4)
			family_profile_mismatch(u, want6 ? CELL_FAMILY_6 : opts_has_family(
							o, CELL_FAMILY_4) ? CELL_FAMILY_4
							: CELL_FAMILY_DUAL, "--profiles", m->dl);
		else if (is6)
			m->dim_profiles6[m->ndim_profiles6++] = u->name;
		else
			m->dim_profiles[m->ndim_profiles++] = u->name;
	}
	if (o->nprofiles && !m->dl->count && want4 != !!m->ndim_profiles)
		diag_add(m->dl, "--profiles", 0, "none of the profiles given is an IPv4 profile, "
			 "but family %s cells pair IPv4 profiles: expected one or more (full-cone, "
			 "symmetric, ...)", opts_has_family(o, CELL_FAMILY_4) ? "4" : "dual");
	if (o->nprofiles && !m->dl->count && want6 != !!m->ndim_profiles6)
		diag_add(m->dl, "--profiles", 0, "none of the profiles given is an IPv6 profile, "
			 "but family 6 cells pair IPv6 profiles: expected one or more (ipv6-firewall, "
			 "ipv6-firewall-ad, nat66)");
	for (int i = 0; !o->nprofiles && want4 && i < 6; i++) {
		struct used_profile *u = profile_add(m->p, matrix_default_profiles[i], m->dl);
		if (u)
			m->dim_profiles[m->ndim_profiles++] = u->name;
	}
	if (!o->nprofiles && want6 && (n6 = family_ipv6_profiles(v6, MATRIX_MAX_PROFILES)) <= 0)
		diag_add(m->dl, "--family", 0, "no IPv6 profile in %s/nat-profiles (%s), expected "
			 "the shipped ones (header \"family: ipv6\")", paths_data_dir(),
			 n6 < 0 ? strerror(-n6) : "none found");
	for (int i = 0; i < n6; i++) {
		struct used_profile *u = profile_add(m->p, v6[i], m->dl);
		if (u)
			m->dim_profiles6[m->ndim_profiles6++] = u->name;
	}
	if (opts_has_family(o, CELL_FAMILY_DUAL)) {
		struct used_profile *u = companion_add(m->p, o->ipv6_profile, "--ipv6-profile",
						       m->dl);
		if (u && strcmp(u->name, CELL_DEFAULT_IPV6_PROFILE) != 0)
			snprintf(m->companion, sizeof(m->companion), "%s", u->name);
	}
	return m->dl->count ? -EINVAL : 0;
}

/* The profiles to pair, loaded once each by canonical reference: a profile named twice (or by
 * its name and its path) is one profile, enumerated once. --cell ids name their own profiles
 * (loaded while their ids are checked, in steps_plan_cells). */
static int steps_load_profiles(struct matrix_steps *m)
{
	const struct matrix_opts *o = &m->o;

	if (o->ncells)
		return o->ipv6_profile ? (ipv6_profile_unused(m), steps_bad(m)) : 0;
	if (steps_load_family_profiles(m) < 0)
		return steps_bad(m);
	/* --outer: the shared outer NAT's profiles, a dimension of their own (classified with
	 * the others); only where both NATs sit behind one outer NAT */
	if (o->nouters && m->p->layout != LAYOUT_SHARED_OUTER) {
		diag_add(m->dl, "--outer", 0, "topology %s has no outer NAT shared by both NATs: "
			 "expected a topology like double-nat", m->p->topo.name);
		return steps_bad(m);
	}
	for (int i = 0; i < o->nouters; i++) {
		struct used_profile *u = profile_add(m->p, o->outers[i], m->dl);
		if (u)
			m->dim_outers[m->ndim_outers++] = u->name;
	}
	if (m->p->layout == LAYOUT_SHARED_OUTER) {
		const struct topo *t = &m->p->topo;
		int g = t->nodes[t->roles[ROLE_NAT_A]].gateway;

		if (ref_canonical("nat-profiles", ".nft", t->nodes[g].profile, m->outer_default,
				  sizeof(m->outer_default)) < 0)
			m->outer_default[0] = '\0';
	}
	/* two peers behind one NAT meet only by hairpinning (the lab isolates them), which no
	 * default profile does: the default list gains the one that does */
	if (!o->nprofiles && m->p->layout == LAYOUT_SAME_LAN) {
		struct used_profile *u = profile_add(m->p, "full-cone-hairpin", m->dl);
		if (u)
			m->dim_profiles[m->ndim_profiles++] = u->name;
	}
	return m->dl->count ? steps_bad(m) : 0;
}

/* --sweep: every planned cell at every point of the range (its id gains stagger=Nms or
 * signal-delay=Nms); a --cell id that names a point already is swept all the same. Returns the
 * new count or -errno. */
static int plan_sweep(struct matrix_steps *m, int ncells)
{
	const struct sweep *sw = &m->o.sweep;
	struct cell_spec *all = calloc((size_t)ncells * (size_t)sw->npoints + 1, sizeof(*all));
	int n = 0;

	if (!all) {
		out_warn(m->out, -ENOMEM, "list the cells");
		return -ENOMEM;
	}
	for (int i = 0; i < ncells; i++)
		for (int k = 0; k < sw->npoints; k++) {
			all[n] = m->cells[i];
			if (strcmp(sw->key, "signal-delay") == 0) {
				all[n].has_signal_delay = true;
				all[n].signal_delay_ms = sw->points[k];
			} else {
				all[n].has_stagger = true;
				all[n].stagger_ms = sw->points[k];
			}
			if (cell_spec_set_id(&all[n]) < 0) {
				out_warnx(m->out, "cell %s: its id would be too long", m->cells[i].id);
				free(all);
				return -ENAMETOOLONG;
			}
			n++;
		}
	free(m->cells);
	m->cells = all;
	return n;
}

/* signal-delay= reaches the engine only through {{signal_delay_ms}} in peer B's command (or its
 * stdin:): an engine file that does not name it would run every point alike, a flat curve that
 * says nothing about the delay. So such cells are bad input. 0, or -EINVAL with a diagnostic. */
static int plan_signal_delay(struct matrix_steps *m, int ncells)
{
	const struct engine_file *eb = plan_engine_b(m->p);
	const struct ef_role *r = engine_file_role(eb, "peer-b");
	bool uses = r && strstr(r->input.text, "signal_delay_ms");

	for (int i = 0; r && i < r->nargs; i++)
		uses |= strstr(r->args[i].text, "signal_delay_ms") != NULL;
	for (int i = 0; i < ncells && !uses; i++)
		if (m->cells[i].has_signal_delay) {
			diag_add(m->dl, eb->path, r ? r->line : 0, "cell %s has a signal delay, but "
				 "this engine cannot be given one: expected {{signal_delay_ms}} in "
				 "peer-b's command (an optional group, as in engines/punch.yaml)",
				 m->cells[i].id);
			return -EINVAL;
		}
	return 0;
}

/* Every impairment preset the cells use must exist and fit the topology: checked once here (a
 * bad one is bad input, exit 2), not found out by every cell as a lab error. */
static int plan_impairments(struct matrix_steps *m)
{
	struct topo *t = malloc(sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (int i = 0; i < m->ncells; i++) {
		const char *pre = m->cells[i].impair;
		bool seen = false;

		for (int j = 0; j < i && !seen; j++)
			seen = strcmp(m->cells[j].impair, pre) == 0;
		if (!pre[0] || seen)
			continue;
		*t = m->p->topo;
		topo_impair_preset(t, pre, m->dl);
	}
	free(t);
	return m->dl->count ? steps_bad(m) : 0;
}

/* Every family's cells (--family, in its order), each enumerated over its own profile axis
 * (dims holds the IPv4 one), one after the other. Returns the count, m->cells set, or -errno. */
static int plan_cells_families(struct matrix_steps *m, struct matrix_dims *dims)
{
	enum cell_family only4 = CELL_FAMILY_4;
	const enum cell_family *fams = m->o.nfamilies ? m->o.families : &only4;
	int nf = m->o.nfamilies ? m->o.nfamilies : 1, total = 0;

	m->cells = NULL;
	for (int f = 0; f < nf; f++) {
		struct matrix_dims d = *dims;
		struct cell_spec *part, *all;
		int n;

		d.family = fams[f];
		d.ipv6_profile = m->companion[0] ? m->companion : NULL;
		if (fams[f] == CELL_FAMILY_6) {
			d.nprofiles = 0;
			for (int i = 0; i < m->ndim_profiles6; i++)
				d.profiles[d.nprofiles++] = m->dim_profiles6[i];
			d.nouters = 0; /* a shared outer NAT has no twin (steps_load_twin) */
		}
		n = cells_enumerate(&d, &part);
		if (n < 0) {
			free(m->cells);
			m->cells = NULL;
			return n;
		}
		all = realloc(m->cells, (size_t)(total + n + 1) * sizeof(*all));
		if (!all) {
			free(part);
			free(m->cells);
			m->cells = NULL;
			return -ENOMEM;
		}
		memcpy(all + total, part, (size_t)n * sizeof(*all));
		free(part);
		m->cells = all;
		total += n;
	}
	return total;
}

/* The cells: the --cell ids, or every pairing of the profiles over the transports and
 * techniques; then those the engine offers, then this shard's slice. */
static int steps_plan_cells(struct matrix_steps *m)
{
	const struct matrix_opts *o = &m->o;
	struct plan *p = m->p;
	int ncells;

	if (o->ncells) {
		m->cells = calloc((size_t)o->ncells, sizeof(*m->cells));
		if (!m->cells) {
			out_warn(m->out, -ENOMEM, "list the cells");
			return -ENOMEM;
		}
		ncells = plan_cells_from_ids(p, o, m->topo_ref, m->cells, m->dl, m->err);
		if (m->dl->count)
			return steps_bad(m);
	} else {
		struct matrix_dims dims = { 0 };

		snprintf(dims.topology, sizeof(dims.topology), "%s", p->topo.name);
		dims.b_has_nat = p->topo.roles[ROLE_NAT_B] >= 0;
		dims.engine = o->engine;
		dims.params = o->params;
		dims.engine_b = o->engine_b;
		for (int i = 0; i < m->ndim_profiles; i++)
			dims.profiles[dims.nprofiles++] = m->dim_profiles[i];
		dims.udp = o->udp;
		dims.tcp = o->tcp;
		for (int i = 0; i < (o->ntechniques ? o->ntechniques : 2); i++)
			dims.techniques[dims.ntechniques++] = o->ntechniques ? o->techniques[i]
									     : matrix_default_techniques[i];
		for (int i = 0; i < o->nimpairments; i++)
			dims.impairments[dims.nimpairments++] = o->impairments[i];
		for (int i = 0; i < m->ndim_outers; i++)
			dims.outers[dims.nouters++] = m->dim_outers[i];
		dims.outer_default = m->outer_default[0] ? m->outer_default : NULL;
		dims.port = o->rendezvous_port;
		ncells = plan_cells_families(m, &dims);
	}
	if (ncells < 0 || !m->cells) {
		out_warn(m->out, ncells < 0 ? ncells : -ENOMEM, "list the cells");
		return ncells < 0 ? ncells : -ENOMEM;
	}
	plan_cells_events(p, o, m->cells, ncells, m->dl);
	/* NAT events in family 6 and dual cells: reboot and link down only (cell_events.h) */
	for (int i = 0; i < ncells && !m->dl->count; i++) {
		char why[600];
		if (cell_events_family_check(&m->cells[i], why, sizeof(why)) < 0)
			diag_add(m->dl, "--events", 0, "%s", why);
	}
	ncells = plan_cells_engine(p, o, m->cells, ncells, m->dl, m->err);
	if (m->dl->count)
		return steps_bad(m);
	/* the shard: a deterministic slice of the enumeration */
	if (o->shard_n) {
		int kept = 0;
		for (int i = 0; i < ncells; i++)
			if (shard_has(i, o->shard_k, o->shard_n))
				m->cells[kept++] = m->cells[i];
		ncells = kept;
	}
	if (o->sweep.npoints && (ncells = plan_sweep(m, ncells)) < 0)
		return ncells;
	if (plan_signal_delay(m, ncells) < 0)
		return steps_bad(m);
	for (int i = 0; i < ncells; i++)
		cell_names_set(p, &m->cells[i]);
	m->ncells = ncells;
	return plan_impairments(m);
}

/* The expectations file and the baseline (--baseline), the references that are read. */
static int steps_load_expectations(struct matrix_steps *m)
{
	char path[PATH_MAX];

	if (paths_resolve("ci", ".yaml", m->o.expectations ? m->o.expectations : "expectations",
			  path, sizeof(path)) < 0) {
		out_warnx(m->out, "expectations file not found (looked for %s)", path);
		return -ENOENT;
	}
	if (expectations_load(&m->p->exp, path, m->dl) < 0)
		return steps_bad(m);
	if (m->o.baseline) {
		m->base = calloc(1, sizeof(*m->base));
		if (!m->base || results_json_read(m->o.baseline, m->base, m->dl) < 0)
			return steps_bad(m);
	}
	return 0;
}

/* Every cell's references (claim, theory, expected, baseline) and its runs, each an error until
 * it runs. A determined cell runs --repeat times; a timing-dependent or probabilistic one as
 * often as its rate test needs, at least (BRIEF.md: its verdict uses every run). */
static int steps_set_references(struct matrix_steps *m)
{
	const struct matrix_opts *o = &m->o;
	struct results *res = m->res;

	res->cells = calloc((size_t)m->ncells, sizeof(*res->cells));
	if (!res->cells)
		return -ENOMEM;
	res->ncells = 0;
	for (int i = 0, kept = 0; i < m->ncells; i++) {
		struct cell_result *c = &res->cells[kept];
		int nruns;

		c->spec = m->cells[i];
		if (cell_references(m->p, c, m->base, o->only_rate_cells, m->dl) < 0)
			continue;
		if (o->only_rate_cells && c->refs.cell_class == CLASS_DETERMINED) {
			memset(c, 0, sizeof(*c));
			continue;
		}
		if (c->spec.has_stagger || c->spec.has_signal_delay || o->one_run) {
			/* a sweep point: --repeat runs, no rate test (the rate measured for the
			 * expectations is at the default stagger; here the curve is the result) */
			c->refs.expected_rate = 0;
			c->refs.expected_runs = 0;
		}
		nruns = c->refs.expected_runs > o->repeat ? c->refs.expected_runs : o->repeat;
		c->runs = calloc((size_t)nruns, sizeof(*c->runs));
		if (!c->runs)
			return -ENOMEM;
		c->nruns = nruns;
		for (int r = 0; r < nruns; r++) {
			c->runs[r].outcome = CELL_ERROR;
			c->runs[r].engine_said = CELL_ERROR;
			snprintf(c->runs[r].reason, sizeof(c->runs[r].reason), "not run (interrupted)");
			c->runs[r].time_to_connect_ms = -1;
			c->runs[r].ttfb_ms = c->runs[r].time_to_direct_ms = -1;
		}
		m->max_runs = nruns > m->max_runs ? nruns : m->max_runs;
		m->total_runs += nruns;
		res->ncells = ++kept;
	}
	return m->dl->count ? steps_bad(m) : 0;
}

/* The report directory (the cells' logs go there), then, with --classify, every profile in use
 * measured against its header. */
static int steps_classify(struct matrix_steps *m)
{
	if (paths_mkdir_p(m->o.out_dir) < 0) {
		int e = -errno;
		out_warn(m->out, e, "create %s", m->o.out_dir);
		return e;
	}
	if (m->o.classify)
		plan_classify(m->p, m->out);
	return 0;
}

/* The order of the runs: round after round (every cell's first run, then the second runs...),
 * each round longest expected first. */
static int steps_schedule(struct matrix_steps *m)
{
	struct results *res = m->res;
	struct run_state *s = m->s;
	int ncells = res->ncells;

	s->res = res;
	s->plan = m->p;
	s->repeat = m->o.repeat;
	s->ntasks = m->total_runs;
	s->order = calloc((size_t)ncells, sizeof(int));
	s->tasks = calloc((size_t)m->total_runs + 1, sizeof(*s->tasks));
	if (!s->order || !s->tasks)
		return -ENOMEM;
	for (int i = 0; i < ncells; i++)
		s->order[i] = i;
	struct cost_ctx cost = { res->cells, &m->p->engine, plan_engine_b(m->p) };
	qsort_r(s->order, (size_t)ncells, sizeof(int), by_cost, &cost);
	for (int rep = 0, k = 0; rep < m->max_runs; rep++)
		for (int i = 0; i < ncells; i++)
			if (rep < res->cells[s->order[i]].nruns)
				s->tasks[k++] = (struct task){ s->order[i], rep };
	s->cfg = (struct runner_config){ .engine = &m->p->engine, .engine_binary = m->engine_bin,
					 .engine_b = m->p->pair ? &m->p->engine_b : NULL,
					 .engine_binary_b = m->p->pair ? m->engine_bin_b : NULL,
					 .topo = &m->p->topo, .stagger_ms = m->o.stagger_ms,
					 .topo6 = m->p->has_topo6 ? &m->p->topo6 : NULL,
					 .rendezvous_port = m->o.rendezvous_port ? m->o.rendezvous_port
								    : RENDEZVOUS_PORT,
					 .out_dir = m->o.out_dir,
					 .watch = m->o.watch,
					 .pcap_dir = m->o.pcap_dir ? m->o.pcap_dir
						     : m->o.pcap != MATRIX_PCAP_NONE ? "" : NULL };
	return 0;
}

/* The shortest deadline of the run: every readiness deadline of the engine(s) and every planned
 * cell's technique deadline. What the load gate keeps the cells' CPU within (load_gate.h). */
static int run_budget_ms(const struct matrix_steps *m)
{
	const struct engine_file *es[2] = { &m->p->engine, plan_engine_b(m->p) };
	int budget = INT_MAX;

	for (int k = 0; k < 2; k++)
		for (int i = 0; i < es[k]->nroles; i++)
			if (es[k]->roles[i].ready.kind != EF_MATCH_NONE &&
			    es[k]->roles[i].ready.deadline_ms > 0 &&
			    es[k]->roles[i].ready.deadline_ms < budget)
				budget = es[k]->roles[i].ready.deadline_ms;
	for (int i = 0; i < m->res->ncells; i++)
		for (int k = 0; k < 2; k++) {
			int d = runner_deadline_ms(es[k], &m->res->cells[i].spec);
			budget = d < budget ? d : budget;
		}
	return budget == INT_MAX ? 2000 : budget;
}

/* Run every task on o.jobs workers (at most; load_gate.h); an interrupted run leaves its cells'
 * runs as errors. */
static void steps_run(struct matrix_steps *m)
{
	if (load_gate_init(&m->s->gate, m->o.jobs_adaptive, m->o.jobs, run_budget_ms(m)) < 0) {
		out_warnx(m->out, "cannot set up the load gate");
		m->res->meta.incomplete = true;
		return;
	}
	fprintf(m->err, "running %d cell(s), %d run(s) (rate cells as often as their test needs) "
		"on %s with %s%d jobs (engine %s%s%s)\n", m->res->ncells, m->total_runs,
		m->p->topo.name, m->o.jobs_adaptive ? "at most " : "", m->o.jobs, m->engine_ver,
		m->p->pair ? " ~ " : "", m->p->pair ? m->engine_ver_b : "");
	run_cells(m->s, m->o.jobs, m->o.progress_tty, m->err);
	m->res->meta.incomplete = atomic_load(&m->s->stop) || atomic_load(&m->s->done) < m->s->ntasks;
	if (m->s->gate.adaptive)
		fprintf(m->err, "concurrency: up to %d cells at once (measured %.0f ms of the engine's "
			"CPU per run; the shortest deadline %d ms and %.1f of %d cores at the last "
			"load average allow %d; --jobs N fixes it)\n", m->s->gate.peak,
			m->s->gate.cpu_per_run_ms, m->s->gate.budget_ms, m->s->gate.cores,
			m->s->gate.nproc, load_gate_bound(m->s->gate.cpu_per_run_ms, m->s->gate.cores,
							  m->s->gate.budget_ms, m->s->gate.ceiling));
	load_gate_destroy(&m->s->gate);
}

/* --pcap failed: a cell that needs no second look (no failed, disputed or error run, not flaky,
 * no regression) loses its captures once judged; the others keep them in their log dirs. */
static bool cell_keeps_captures(const struct cell_result *c)
{
	if (c->verdict.regression || c->verdict.flaky || c->verdict.error)
		return true;
	for (int r = 0; r < c->nruns; r++)
		if (c->runs[r].outcome == CELL_FAILED || c->runs[r].outcome == CELL_DISPUTED ||
		    c->runs[r].outcome == CELL_ERROR)
			return true;
	return false;
}

static void captures_prune(const struct matrix_steps *m)
{
	for (int i = 0; i < m->res->ncells; i++) {
		struct cell_result *c = &m->res->cells[i];

		if (cell_keeps_captures(c))
			continue;
		for (int r = 0; r < c->nruns; r++) {
			char *save = NULL, names[sizeof(c->runs[r].captures)];

			snprintf(names, sizeof(names), "%s", c->runs[r].captures);
			for (char *f = strtok_r(names, "\n", &save); f; f = strtok_r(NULL, "\n", &save)) {
				char path[PATH_MAX];
				f[strcspn(f, " ")] = '\0'; /* "name (cut)" */
				snprintf(path, sizeof(path), "%s/%s/%s", m->o.out_dir,
					 c->runs[r].log_dir, f);
				unlink(path);
			}
			c->runs[r].captures[0] = '\0';
		}
	}
}

/* Every cell's verdict from its runs and references. */
static void steps_judge(struct matrix_steps *m)
{
	for (int i = 0; i < m->res->ncells; i++)
		results_judge_cell(&m->res->cells[i]);
	if (m->o.pcap == MATRIX_PCAP_FAILED)
		captures_prune(m);
}

int matrix_run(const struct matrix_opts *o, struct results *res, const struct out *out)
{
	struct matrix_steps m = { .o = *o, .out = out, .res = res, .engine_ver = "?",
				  .engine_ver_b = "?" };
	double t0 = now_ms();
	int ret = 2;

	memset(res, 0, sizeof(*res));
	m.err = out && out->err ? out->err : stderr;
	m.p = calloc(1, sizeof(*m.p));
	m.dl = calloc(1, sizeof(*m.dl));
	m.s = calloc(1, sizeof(*m.s));
	if (!m.p || !m.dl || !m.s)
		goto out;
	m.p->prof = calloc(MATRIX_MAX_PROFILES * 2, sizeof(*m.p->prof));
	if (!m.p->prof)
		goto out;
	if (steps_load_engine(&m) < 0 || steps_load_topology(&m) < 0 ||
	    steps_load_profiles(&m) < 0 || steps_plan_cells(&m) < 0 ||
	    steps_load_expectations(&m) < 0 || steps_set_references(&m) < 0 ||
	    steps_classify(&m) < 0 || steps_schedule(&m) < 0)
		goto out;
	steps_run(&m);
	steps_judge(&m);
	fill_meta(res, &m.o, m.p, m.engine_ver, m.engine_ver_b);
	res->meta.wall_ms = now_ms() - t0;
	ret = 0;
out:
	if (m.base) {
		results_free(m.base);
		free(m.base);
	}
	free(m.cells);
	if (m.p)
		free(m.p->prof);
	free(m.p);
	free(m.dl);
	if (m.s) {
		free(m.s->order);
		free(m.s->tasks);
	}
	free(m.s);
	return ret;
}
