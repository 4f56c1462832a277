/* punch peer's option parsing for the punch unit tests (peer_parse.h). */
#include <stdio.h>

#include "peer_parse.h"

char peer_parse_err[512];

int peer_parse(int argc, char **argv, struct peer_opts *o)
{
	FILE *err = fmemopen(peer_parse_err, sizeof(peer_parse_err), "w");
	FILE *out = fopen("/dev/null", "w");
	int r = peer_opts_parse(argc, argv, o, out, err);

	fclose(err);
	fclose(out);
	return r;
}
