/* punchlab clean: remove every kept lab, by its record; nothing else is touched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lab/registry.h"

int clean_main(int argc, char **argv)
{
	char (*names)[16] = NULL;
	int n, failed = 0;

	if (argc > 1) {
		bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs("usage: punchlab clean\n  removes every lab kept with `lab up --keep` (its "
		      "records under /run/punchlab, or $XDG_RUNTIME_DIR/punchlab without root), and "
		      "nothing else\n", help ? stdout : stderr);
		return help ? 0 : EXIT_SETUP;
	}
	n = registry_list(&names);
	if (n < 0) {
		out_warn(&out_std, n, "read %s", REGISTRY_DIR ? REGISTRY_DIR : "$XDG_RUNTIME_DIR");
		return EXIT_SETUP;
	}
	for (int i = 0; i < n; i++) {
		int ret = registry_remove(names[i], &out_std);
		if (ret < 0) {
			out_warn(&out_std, ret, "remove lab %s", names[i]);
			failed++;
		} else {
			fprintf(stderr, "removed lab %s\n", names[i]);
		}
	}
	free(names);
	return failed ? EXIT_SETUP : 0;
}
