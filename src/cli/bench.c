/* punchlab bench: placeholder until the benchmark lands (filled in below). */
#include <stdio.h>

#include "cli/cli.h"

int bench_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "punchlab: bench: not built yet\n");
	return EXIT_SETUP;
}
