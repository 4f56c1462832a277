/* punchlab profile SUBVERB: routes to the profile subcommands. Only `import` lives in this
 * branch; `profile new` (src/cli/profile.c, issue 13 item 3) is written elsewhere, and when it
 * lands its own profile_main takes this file's place with an `import` row added. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/profile_import.h"

int profile_main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "import"))
		return profile_import_main(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: punchlab profile import FILE ...   (punchlab profile import --help)\n");
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "new")) {
		fprintf(stderr, "punchlab profile new: not in this build (issue 13 item 3)\n");
		return EXIT_SETUP;
	}
	fprintf(stderr, "usage: punchlab profile import FILE ...   (punchlab profile import --help)\n");
	return EXIT_SETUP;
}
