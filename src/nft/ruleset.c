#include <errno.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft/ruleset.h"

/* nft's error text: "FILE:LINE:COL-COL: Error: message", then the source line and a caret line.
 * Keep the location's line number and the message; drop the echo of the source. */
static void errors_to_diags(const char *path, const char *text, struct diag_list *dl)
{
	const char *p = text;
	int added = 0;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char line[512];
		const char *err;

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), p);
		err = strstr(line, "Error: ");
		if (err) {
			int lineno = 0;
			const char *loc = strstr(line, path);
			if (loc)
				lineno = atoi(loc + strlen(path) + 1);
			diag_add(dl, path, lineno, "nftables: %s", err + 7);
			added++;
		}
		p = eol ? eol + 1 : NULL;
	}
	if (!added)
		diag_add(dl, path, 0, "nftables: %s", *text ? text : "ruleset rejected");
}

/* libnftables 1.0.6 does not promise that contexts in parallel threads are independent (its
 * parser and caches have had process-wide state); cells build labs in parallel threads, so loads
 * are serialized. A load costs about a millisecond. */
static pthread_mutex_t nft_lock = PTHREAD_MUTEX_INITIALIZER;

int nft_ruleset_load(const char *path, const struct nft_var *vars, int nvars,
		     struct diag_list *dl)
{
	struct nft_ctx *ctx;
	int ret = 0;

	pthread_mutex_lock(&nft_lock);
	/* The context opens its netlink socket here, in the calling thread's namespace: create
	 * it only after entering the node (a context made outside would load into the host). */
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		pthread_mutex_unlock(&nft_lock);
		return -ENOMEM;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	for (int i = 0; i < nvars; i++) {
		/* libnftables 1.0.6 splits its argument at '=' in place (BRIEF.md): hand it a
		 * writable copy, never a literal. */
		char def[320];
		snprintf(def, sizeof(def), "%s=%s", vars[i].name, vars[i].value);
		if (nft_ctx_add_var(ctx, def) < 0) {
			diag_add(dl, path, 0, "nftables: cannot define variable %s", vars[i].name);
			ret = -EINVAL;
			goto out;
		}
	}
	/* Variables apply to nft_run_cmd_from_filename() only, not to ..._from_buffer()
	 * (BRIEF.md), and loading from the file gives errors their FILE:LINE for free. */
	if (nft_run_cmd_from_filename(ctx, path) != 0) {
		errors_to_diags(path, nft_ctx_get_error_buffer(ctx), dl);
		ret = -EINVAL;
	}
out:
	nft_ctx_free(ctx);
	pthread_mutex_unlock(&nft_lock);
	return ret;
}

int nft_ruleset_run(const char *cmds, bool json, char **out, char *err, size_t len)
{
	struct nft_ctx *ctx;
	int ret = 0;

	if (out)
		*out = NULL;
	pthread_mutex_lock(&nft_lock);
	ctx = nft_ctx_new(NFT_CTX_DEFAULT); /* after entering the node: see nft_ruleset_load() */
	if (!ctx) {
		pthread_mutex_unlock(&nft_lock);
		return -ENOMEM;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (json)
		nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
	if (nft_run_cmd_from_buffer(ctx, cmds) != 0) {
		const char *e = nft_ctx_get_error_buffer(ctx);
		snprintf(err, len, "%s", e && *e ? e : "rejected");
		err[strcspn(err, "\n")] = '\0';
		ret = -EINVAL;
	} else if (out) {
		*out = strdup(nft_ctx_get_output_buffer(ctx));
		if (!*out)
			ret = -ENOMEM;
	}
	nft_ctx_free(ctx);
	pthread_mutex_unlock(&nft_lock);
	return ret;
}
