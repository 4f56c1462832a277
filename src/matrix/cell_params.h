/* A cell's profiles with its profile parameters applied (udp-timeout=5s in its id). */
#pragma once
#include <stddef.h>

#include "matrix/results.h"

/* The profiles the cell's NATs load: with parameters, per-cell copies of A's and B's profiles
 * (nft/profile_params.h) written to a[len] and b[len] (b "" when B has no NAT); without, a
 * and b are "" and the lab loads the references as they are. Returns 0, or -errno with why
 * filled (FILE:LINE: what is wrong); nothing is left behind then. Release with
 * cell_profiles_release(). */
int cell_profiles_prepare(const struct cell_spec *spec, char *a, char *b, size_t len, char *why,
			  size_t wlen);
void cell_profiles_release(char *a, char *b);
