/* punchlab bundle: one cell of a report directory packed with everything it needs to run again
 * on another machine (docs/bundle.md): its profiles, topology, engine file, expectations,
 * impairment, the lab's rule files, the rerun command, the versions it ran with, its logs
 * (timelines, pcaps: whatever the run left in the cell's directory) and a manifest with the
 * SHA-256 of every file. punchlab replay reads it. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/paths.h"
#include "base/sha256.h"
#include "bundle/bundle.h"
#include "cli/cli.h"
#include "lab/classify.h"
#include "lab/topo.h"
#include "matrix/cell.h"
#include "matrix/family.h"
#include "matrix/results_json_read.h"

static const char bundle_usage[] =
	"usage: punchlab bundle CELL-ID --from REPORT-DIR [-o FILE]\n"
	"\n"
	"Pack one cell of a matrix run into a repro bundle (a .tar.gz) for an issue tracker: the\n"
	"exact profile files, topology, engine file, expectations and impairment it ran with, the\n"
	"command that reruns it, the versions (kernel, libnftables, engine, punchlab), its logs\n"
	"(timelines and pcaps included) and a manifest with every file's SHA-256.\n"
	"`punchlab replay FILE` checks it and shows what it would run; `--trust` reruns it.\n"
	"\n"
	"  --from DIR     the report directory of the run (punchlab matrix --out), or its\n"
	"                 matrix.json\n"
	"  -o, --out FILE the bundle to write (default repro.tar.gz)\n"
	"\n"
	"Exit: 0 written, 2 bad input (no such cell, a file missing or changed since the run).\n";

/* What packing needs, passed along instead of globals. */
struct pack {
	struct bundle_writer w;
	const char *report_dir;
	char why[1024];
};

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Add a file a reference names: a shipped name under data/SUBDIR/NAME.EXT (where replay points
 * PUNCHLAB_DATA_DIR), a path under files/KIND/BASENAME (replay rewrites the command to it). */
static int pack_ref(struct pack *p, const char *kind, const char *subdir, const char *ext,
		    const char *ref, char *resolved, size_t rlen)
{
	char src[PATH_MAX], dst[PATH_MAX];

	if (paths_resolve(subdir, ext, ref, src, sizeof(src)) < 0) {
		snprintf(p->why, sizeof(p->why), "%s \"%s\": file not found (looked for %s); the "
			 "bundle needs the file the run used", kind, ref, src);
		return -ENOENT;
	}
	if (resolved)
		snprintf(resolved, rlen, "%s", src);
	/* a path goes under files/KIND/, in a numbered directory when another file of that name
	 * is there already (two profiles called x.nft in two directories) */
	for (int n = 1;; n++) {
		bool taken = false;

		if (!cell_ref_is_path(ref))
			snprintf(dst, sizeof(dst), "data/%s/%s%s", subdir, ref, ext);
		else if (n == 1)
			snprintf(dst, sizeof(dst), "files/%s/%s", kind, base_name(ref));
		else
			snprintf(dst, sizeof(dst), "files/%s/%d/%s", kind, n, base_name(ref));
		for (int i = 0; i < p->w.m.nfiles && !taken; i++) {
			if (strcmp(p->w.m.files[i].path, dst) != 0)
				continue;
			/* one file used twice (profile A = B) is one entry */
			if (strcmp(p->w.m.files[i].ref, ref) == 0)
				return 0;
			taken = true;
		}
		if (!taken || !cell_ref_is_path(ref) || n > 64)
			break;
	}
	return bundle_writer_add_file(&p->w, dst, kind, ref, src, p->why, sizeof(p->why));
}

/* A profile: the file must still be the one the run hashed into meta.profiles. */
static int pack_profile(struct pack *p, const struct results *r, const char *ref)
{
	char path[PATH_MAX], hex[65];
	int ret = pack_ref(p, "profile", "nat-profiles", ".nft", ref, path, sizeof(path));

	if (ret < 0)
		return ret;
	if (sha256_file_hex(path, hex) < 0)
		return 0; /* reading it failed above already, or it is unreadable now */
	for (int i = 0; i < r->meta.nprofiles; i++)
		if (strcmp(r->meta.profiles[i].name, ref) == 0 &&
		    strcmp(r->meta.profiles[i].sha256, hex) != 0) {
			snprintf(p->why, sizeof(p->why), "profile %s (%s) changed since the run "
				 "(SHA-256 %s, matrix.json says %s): the bundle would not hold the "
				 "ruleset the cell ran with; run the cell again and bundle that run",
				 ref, path, hex, r->meta.profiles[i].sha256);
			return -ESTALE;
		}
	return 0;
}

/* The profiles a topology file names for its NAT nodes. The cell replaces peer A's and B's
 * NATs' profiles with its own, but classify (which every matrix run starts with) builds its
 * labs from two-nats and keeps the profile two-nats gives nat-b: so every NAT node's profile
 * is packed, and only one the cell really loads (a node without a peer's role: a CGN) may not
 * be given by path, since the topology file would have to be rewritten to point into the
 * bundle. */
static int pack_topology_profiles(struct pack *p, const struct results *r, const char *path)
{
	struct diag_list dl = { .count = 0 };
	struct topo *t = calloc(1, sizeof(*t));
	int ret = 0;

	if (!t)
		return -ENOMEM;
	if (topo_parse_file(t, path, &dl) < 0) {
		snprintf(p->why, sizeof(p->why), "%s:%d: %s", dl.items[0].file, dl.items[0].line,
			 dl.items[0].msg);
		ret = -EINVAL;
		goto out;
	}
	for (int i = 0; i < t->nnodes && ret == 0; i++) {
		const struct topo_node *nd = &t->nodes[i];
		bool peer_nat = i == t->roles[ROLE_NAT_A] || i == t->roles[ROLE_NAT_B];

		if (nd->kind != NODE_NAT || !nd->profile[0])
			continue;
		if (!cell_ref_is_path(nd->profile))
			ret = pack_profile(p, r, nd->profile);
		else if (!peer_nat) {
			snprintf(p->why, sizeof(p->why), "%s: node %s loads the profile %s by path: "
				 "a bundle carries a topology's own profiles by name only (put it "
				 "under nat-profiles/)", path, nd->name, nd->profile);
			ret = -EINVAL;
		}
	}
	for (int i = 0; i < t->nlinks && ret == 0; i++)
		if (t->links[i].isolate) {
			/* found by the lab in the data directory, never named by a user */
			char src[PATH_MAX];
			snprintf(src, sizeof(src), "%s/topologies/rules/isolate.nft", paths_data_dir());
			if (!manifest_file(&p->w.m, "rules", "isolate"))
				ret = bundle_writer_add_file(&p->w, "data/topologies/rules/isolate.nft",
							     "rules", "isolate", src, p->why,
							     sizeof(p->why));
			break;
		}
out:
	free(t);
	return ret;
}

/* Family 6 and dual: the twin of topology ref (itself when it has IPv6 addresses: nothing
 * more) and classify's IPv6 lab, with the profiles they load. */
static int pack_twin(struct pack *p, const struct results *r, const char *ref)
{
	struct topo *t = calloc(1, sizeof(*t)), *twin = calloc(1, sizeof(*twin));
	struct diag_list *dl = calloc(1, sizeof(*dl));
	char path[PATH_MAX];
	int ret = -ENOMEM;

	if (!t || !twin || !dl)
		goto out;
	ret = paths_resolve("topologies", ".yaml", ref, path, sizeof(path));
	if (ret == 0)
		ret = topo_parse_file(t, path, dl);
	if (ret == 0)
		ret = family_twin_topology(t, "bundle", twin, dl);
	if (ret < 0) {
		snprintf(p->why, sizeof(p->why), "the cell's dual-stack topology: %s",
			 dl->count ? dl->items[0].msg : strerror(-ret));
		goto out;
	}
	/* a twin other than the topology itself is a shipped one, found by name */
	if (strcmp(twin->file, t->file) != 0) {
		ret = pack_ref(p, "topology", "topologies", ".yaml", twin->name, path, sizeof(path));
		if (ret == 0)
			ret = pack_topology_profiles(p, r, path);
	}
	if (ret == 0 && strcmp(twin->name, CLASSIFY_TOPOLOGY_IPV6) != 0) {
		ret = pack_ref(p, "topology", "topologies", ".yaml", CLASSIFY_TOPOLOGY_IPV6, path,
			       sizeof(path));
		if (ret == 0)
			ret = pack_topology_profiles(p, r, path);
	}
out:
	free(dl);
	free(twin);
	free(t);
	return ret;
}

/* The topology, the cell's and two-nats (classify's), with what they load. A cell of family 6
 * or dual runs on the topology's dual-stack twin (matrix/family.h), and classify measures IPv6
 * profiles on its own dual-stack lab (CLASSIFY_TOPOLOGY_IPV6): both go too. */
static int pack_topology(struct pack *p, const struct results *r, const struct cell_spec *s)
{
	const char *ref = r->meta.topology_path[0] ? r->meta.topology_path : s->topology;
	char path[PATH_MAX];
	int ret;

	ret = pack_ref(p, "topology", "topologies", ".yaml", ref, path, sizeof(path));
	if (ret == 0)
		ret = pack_topology_profiles(p, r, path);
	if (ret == 0 && strcmp(ref, "two-nats") != 0)
		ret = pack_ref(p, "topology", "topologies", ".yaml", "two-nats", path, sizeof(path));
	if (ret == 0 && strcmp(ref, "two-nats") != 0)
		ret = pack_topology_profiles(p, r, path);
	if (ret == 0 && s->family != CELL_FAMILY_4)
		ret = pack_twin(p, r, ref);
	return ret;
}

/* Every regular file below dir into the bundle under prefix (recursively, bounded depth);
 * anything else is skipped, saying so: a bundle holds regular files only. */
static int pack_tree(struct pack *p, const char *dir, const char *prefix, int depth)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort), ret = 0;

	if (n < 0) {
		snprintf(p->why, sizeof(p->why), "read %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		char src[PATH_MAX], dst[PATH_MAX];
		struct stat st;

		if (ret || strcmp(names[i]->d_name, ".") == 0 || strcmp(names[i]->d_name, "..") == 0)
			goto next;
		snprintf(src, sizeof(src), "%s/%s", dir, names[i]->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", prefix, names[i]->d_name);
		if (lstat(src, &st) < 0)
			goto next;
		if (S_ISDIR(st.st_mode) && depth < 8)
			ret = pack_tree(p, src, dst, depth + 1);
		else if (S_ISREG(st.st_mode))
			ret = bundle_writer_add_file(&p->w, dst, "log", "", src, p->why,
						     sizeof(p->why));
		else
			fprintf(stderr, "punchlab: bundle: skipped %s: not a regular file\n", src);
next:
		free(names[i]);
	}
	free(names);
	return ret;
}

/* The cell's logs: its directory under cells/ (every run's, and whatever else the run left
 * there), and any run directory that lies elsewhere (a merged report's from-K/). */
static int pack_logs(struct pack *p, const struct cell_result *c)
{
	char cell_dir[PATH_MAX] = "", src[PATH_MAX], dst[PATH_MAX];
	struct stat st;
	int ret = 0;

	for (int j = 0; j < c->nruns && ret == 0; j++) {
		const char *ld = c->runs[j].log_dir, *slash = strrchr(ld, '/');

		if (!ld[0] || ld[0] == '/' || strstr(ld, ".."))
			continue; /* data from a file: only paths inside the report directory */
		if (!cell_dir[0] && slash) {
			snprintf(cell_dir, sizeof(cell_dir), "%.*s", (int)(slash - ld), ld);
			snprintf(src, sizeof(src), "%s/%s", p->report_dir, cell_dir);
			if (stat(src, &st) == 0 && S_ISDIR(st.st_mode))
				ret = pack_tree(p, src, "logs", 0);
			else
				fprintf(stderr, "punchlab: bundle: the cell's logs (%s) are not in the "
					"report directory: the bundle goes without them\n", src);
			continue;
		}
		if (slash && strncmp(ld, cell_dir, strlen(cell_dir)) == 0 &&
		    ld[strlen(cell_dir)] == '/')
			continue; /* packed with the cell's directory */
		snprintf(src, sizeof(src), "%s/%s", p->report_dir, ld);
		snprintf(dst, sizeof(dst), "logs/run-%d", j + 1);
		if (stat(src, &st) == 0 && S_ISDIR(st.st_mode))
			ret = pack_tree(p, src, dst, 0);
	}
	return ret;
}

/* The raw cell object of matrix.json (for cell.json and its rerun line), found by id. */
static json_t *raw_cell(json_t *root, const char *id)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(root, "cells"), i, c) {
		struct cell_spec s;
		const char *cid = json_string_value(json_object_get(c, "id"));

		if (cid && cell_id_parse(cid, &s) == 0 && strcmp(s.id, id) == 0)
			return c;
	}
	return NULL;
}

static int pack_cell(struct pack *p, const struct results *r, const struct cell_result *c,
		     const char *json_path)
{
	const struct results_meta *m = &r->meta;
	struct bundle_manifest *bm = &p->w.m;
	json_error_t err;
	json_t *root = json_load_file(json_path, 0, &err), *cell, *out = NULL;
	char *text = NULL, exp[PATH_MAX];
	time_t now = time(NULL);
	struct tm tm;
	int ret = -EINVAL;

	cell = root ? raw_cell(root, c->spec.id) : NULL;
	if (!cell) {
		snprintf(p->why, sizeof(p->why), "%s: cannot read the cell back as JSON", json_path);
		goto out;
	}
	bm->format_version = BUNDLE_FORMAT_VERSION;
	gmtime_r(&now, &tm);
	strftime(bm->created, sizeof(bm->created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(bm->cell, sizeof(bm->cell), "%s", c->spec.id);
	snprintf(bm->outcome, sizeof(bm->outcome), "%s", cell_outcome_name(c->outcome));
	bm->runs = c->nruns;
	/* the line matrix printed for the cell, with every option of the run that shaped it */
	if (!json_is_string(json_object_get(cell, "rerun"))) {
		snprintf(p->why, sizeof(p->why), "%s: the cell %s has no \"rerun\" command, "
			 "expected one (written by punchlab matrix since schema 2)", json_path,
			 c->spec.id);
		goto out;
	}
	snprintf(bm->rerun, sizeof(bm->rerun), "%s",
		 json_string_value(json_object_get(cell, "rerun")));
	snprintf(bm->versions.kernel, sizeof(bm->versions.kernel), "%s", m->kernel);
	snprintf(bm->versions.nft, sizeof(bm->versions.nft), "%s", m->nft_version);
	snprintf(bm->versions.harness, sizeof(bm->versions.harness), "%s", m->harness_version);
	snprintf(bm->versions.engine, sizeof(bm->versions.engine), "%s", m->engine);
	snprintf(bm->versions.engine_version, sizeof(bm->versions.engine_version), "%s",
		 m->engine_version);
	snprintf(bm->versions.engine_b, sizeof(bm->versions.engine_b), "%s", m->engine_b);
	snprintf(bm->versions.engine_b_version, sizeof(bm->versions.engine_b_version), "%s",
		 m->engine_b_version);

	/* the run's meta and the cell as matrix.json had them: the expectations relevant to the
	 * cell (its claims, theory, expected outcomes), its runs and their attestation */
	out = json_pack("{s:O, s:O}", "meta", json_object_get(root, "meta"), "cell", cell);
	text = out ? json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (!text) {
		ret = -ENOMEM;
		goto out;
	}
	ret = bundle_writer_add(&p->w, "cell.json", "result", "", text, strlen(text), p->why,
				sizeof(p->why));
	if (!ret)
		ret = pack_topology(p, r, &c->spec);
	if (!ret)
		ret = pack_profile(p, r, c->spec.profile_a);
	if (!ret && c->spec.profile_b[0])
		ret = pack_profile(p, r, c->spec.profile_b);
	/* a dual cell's home NATs run its IPv6 companion too */
	if (!ret && c->spec.family == CELL_FAMILY_DUAL)
		ret = pack_profile(p, r, c->spec.ipv6_profile[0] ? c->spec.ipv6_profile
								 : CELL_DEFAULT_IPV6_PROFILE);
	if (!ret)
		ret = pack_ref(p, "engine", "engines", ".yaml", c->spec.engine, NULL, 0);
	if (!ret && c->spec.engine_b[0] && strcmp(c->spec.engine_b, c->spec.engine) != 0)
		ret = pack_ref(p, "engine-b", "engines", ".yaml", c->spec.engine_b, NULL, 0);
	if (!ret && c->spec.impair[0])
		ret = pack_ref(p, "impair", "impairments", ".impair", c->spec.impair, NULL, 0);
	if (!ret)
		ret = pack_ref(p, "expectations", "ci", ".yaml",
			       m->expectations[0] ? m->expectations : "expectations", exp,
			       sizeof(exp));
	if (!ret)
		ret = pack_logs(p, c);
out:
	free(text);
	json_decref(out);
	json_decref(root);
	return ret;
}

int bundle_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *from = NULL, *out_file = "repro.tar.gz", *id;
	char json_path[PATH_MAX], report_dir[PATH_MAX], why[300];
	struct pack p = { .w = { .total = 0 } };
	struct diag_list *dl = calloc(1, sizeof(*dl));
	struct results res = { 0 };
	struct cell_spec want;
	const struct cell_result *c = NULL;
	struct stat st;
	int opt, ret = EXIT_SETUP;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f': from = optarg; break;
		case 'o': out_file = optarg; break;
		case 'h': fputs(bundle_usage, stdout); free(dl); return 0;
		default: fputs(bundle_usage, stderr); free(dl); return EXIT_SETUP;
		}
	}
	if (!dl) {
		out_warn(&out_std, -ENOMEM, "bundle");
		return EXIT_SETUP;
	}
	if (optind != argc - 1 || !from) {
		fprintf(stderr, "punchlab: bundle needs one CELL-ID and --from REPORT-DIR\n%s",
			bundle_usage);
		goto out;
	}
	id = argv[optind];
	if (cell_id_parse_msg(id, &want, why, sizeof(why)) < 0) {
		fprintf(stderr, "punchlab: bundle: cell id \"%s\": %s\n", id, why);
		goto out;
	}
	if (stat(from, &st) == 0 && S_ISREG(st.st_mode)) {
		const char *slash = strrchr(from, '/');
		snprintf(json_path, sizeof(json_path), "%s", from);
		snprintf(report_dir, sizeof(report_dir), "%.*s", slash ? (int)(slash - from) : 1,
			 slash ? from : ".");
	} else {
		snprintf(json_path, sizeof(json_path), "%s/matrix.json", from);
		snprintf(report_dir, sizeof(report_dir), "%s", from);
	}
	p.report_dir = report_dir;
	if (results_json_read(json_path, &res, dl) < 0) {
		diag_print(dl, &out_std);
		goto out;
	}
	for (int i = 0; i < res.ncells && !c; i++)
		if (strcmp(res.cells[i].spec.id, want.id) == 0)
			c = &res.cells[i];
	if (!c) {
		fprintf(stderr, "punchlab: bundle: cell %s is not in %s (it holds %d cell%s; `jq -r "
			"'.cells[].id' %s` lists them)\n", want.id, json_path, res.ncells,
			res.ncells == 1 ? "" : "s", json_path);
		goto out;
	}
	if (pack_cell(&p, &res, c, json_path) < 0 ||
	    bundle_writer_save(&p.w, out_file, p.why, sizeof(p.why)) < 0) {
		fprintf(stderr, "punchlab: bundle: %s\n", p.why[0] ? p.why : "out of memory");
		goto out;
	}
	if (stat(out_file, &st) < 0)
		st.st_size = 0;
	printf("bundle %s: cell %s (%s, %d run%s), %d files, %.1f KiB\n", out_file, c->spec.id,
	       p.w.m.outcome, c->nruns, c->nruns == 1 ? "" : "s", p.w.m.nfiles + 1,
	       (double)st.st_size / 1024);
	printf("check and show what it runs: punchlab replay %s; rerun it: sudo punchlab replay "
	       "%s --trust\n", out_file, out_file);
	ret = 0;
out:
	bundle_writer_free(&p.w);
	results_free(&res);
	free(dl);
	return ret;
}
