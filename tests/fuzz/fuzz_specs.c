/* libFuzzer target for the one-line specs punchlab reads from its command line and from other
 * machines' matrix.json files: cell ids (`--cell`, baselines), impairment specs (`--impair`,
 * `impair:` in topologies), NAT event timelines (`--events`, the events= id dimension) and
 * sweep specs (`--sweep`). The first byte picks the parser, the rest is the text. Whatever the
 * text: no out-of-bounds access, a rejection says why, and what a parser accepts has a
 * canonical form it accepts again, unchanged (ids are compared and stored as that form). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "impair/spec.h"
#include "lab/events.h"
#include "matrix/cell.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cell_id(const char *text)
{
	static struct cell_spec c, again;
	char why[256] = "";

	if (cell_id_parse_msg(text, &c, why, sizeof(why)) < 0) {
		if (!why[0])
			abort();
		return;
	}
	if (cell_id_parse(c.id, &again) < 0 || strcmp(again.id, c.id) != 0)
		abort();
}

static void impair(const char *text)
{
	struct impair_spec s, again;
	char why[256] = "", buf[1024], buf2[1024];

	if (impair_spec_parse(text, &s, why, sizeof(why)) < 0) {
		if (!why[0])
			abort();
		return;
	}
	if (impair_spec_format(&s, buf, sizeof(buf)) < 0)
		return; /* too long to write back: said so, not a crash */
	if (impair_spec_parse(buf, &again, why, sizeof(why)) < 0 ||
	    impair_spec_format(&again, buf2, sizeof(buf2)) < 0 || strcmp(buf, buf2) != 0)
		abort();
}

static void timeline(const char *text)
{
	static struct lab_timeline tl, again;
	char why[256] = "", buf[2048], buf2[2048];

	if (lab_timeline_parse(text, &tl, why, sizeof(why)) < 0) {
		if (!why[0])
			abort();
		return;
	}
	if (lab_timeline_format(&tl, buf, sizeof(buf)) < 0)
		return;
	if (lab_timeline_parse(buf, &again, why, sizeof(why)) < 0 ||
	    lab_timeline_format(&again, buf2, sizeof(buf2)) < 0 || strcmp(buf, buf2) != 0)
		abort();
}

static void sweep(const char *text)
{
	struct sweep sw;
	char why[256] = "";

	if (sweep_parse(text, &sw, why, sizeof(why)) < 0) {
		if (!why[0])
			abort();
		return;
	}
	if (sw.npoints < 0 || sw.npoints > SWEEP_MAX_POINTS)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1 || size > 4096)
		return 0;
	text = malloc(size); /* the text after the selector, NUL-terminated: ASan sees its end */
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0: cell_id(text); break;
	case 1: impair(text); break;
	case 2: timeline(text); break;
	case 3: sweep(text); break;
	}
	free(text);
	return 0;
}
