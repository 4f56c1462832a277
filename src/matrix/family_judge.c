/* Which family a dual cell's path took, judged (family_judge.h). The family is the lab's: the
 * attested flows' (attest.c), never the engine's word alone; the engine's word is held to it. */
#include <stdio.h>
#include <string.h>

#include "matrix/family_judge.h"

bool family_judge_run(struct cell_run *run)
{
	int said = run->family_used, seen = run->attestation.family;

	if (run->outcome != CELL_DIRECT || !said || !seen || said == seen)
		return false;
	run->outcome = CELL_DISPUTED;
	snprintf(run->phase, sizeof(run->phase), "attestation");
	snprintf(run->reason, sizeof(run->reason), "the engine says its direct path is IPv%d, but "
		 "the lab's direct flows are IPv%d (%.180s)", said, seen, run->attestation.summary);
	return true;
}

void family_judge_cell(struct cell_result *c)
{
	struct cell_verdict *v = &c->verdict;
	unsigned want = c->refs.expected_families;

	v->family_judged = v->family_outside = 0;
	v->family_wrong = false;
	if (!want)
		return;
	for (int i = 0; i < c->nruns; i++) {
		const struct cell_run *run = &c->runs[i];

		if (run->outcome != CELL_DIRECT || !FAMILY_BIT(run->attestation.family))
			continue;
		v->family_judged++;
		v->family_outside += !(want & FAMILY_BIT(run->attestation.family));
	}
	/* Families have no order: a path on a family the theory calls not direct means a NAT or
	 * firewall let through what its header says it does not, or the engine broke RFC 8305's
	 * preference; either way the verdict rests on a wrong model, so it fails. Every run counts
	 * (the expected set is certain, as a rate cell's allowed outcomes are). */
	if (v->family_outside) {
		v->family_wrong = true;
		v->regression = true;
		v->improvement = false;
	}
}

const char *family_set_name(unsigned set)
{
	switch (set & (FAMILY_BIT(4) | FAMILY_BIT(6))) {
	case 1u: return "4";
	case 2u: return "6";
	case 3u: return "4 or 6";
	default: return "";
	}
}

int family_set_parse(const char *s, unsigned *set)
{
	for (unsigned i = 0; i < 4; i++)
		if (strcmp(s, family_set_name(i)) == 0) {
			*set = i;
			return 0;
		}
	return -1;
}

void family_finding(const struct cell_result *c, char *buf, size_t len)
{
	const struct cell_verdict *v = &c->verdict;
	unsigned want = c->refs.expected_families;
	int other = want == FAMILY_BIT(6) ? 4 : 6;

	if (!len)
		return;
	buf[0] = '\0';
	if (!v->family_wrong)
		return;
	snprintf(buf, len, "direct over IPv%d in %d of %d direct runs with an attested family; "
		 "the theory expects IPv%s only", other, v->family_outside, v->family_judged,
		 family_set_name(want));
}

const char *family_mark(const struct cell_result *c)
{
	bool four = false, six = false;

	for (int i = 0; c->refs.expected_families && i < c->nruns; i++) {
		if (c->runs[i].outcome != CELL_DIRECT)
			continue;
		four |= c->runs[i].attestation.family == 4;
		six |= c->runs[i].attestation.family == 6;
	}
	return four && six ? "D4/6" : four ? "D4" : six ? "D6" : "D";
}
