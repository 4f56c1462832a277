/* What the bench verbs share (cli/bench*.c): the clock they time with and the order
 * statistics they print. */
#pragma once

/* CLOCK_MONOTONIC in milliseconds. */
double bench_now_ms(void);

/* qsort comparator of doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

/* The p-quantile (0..1) of v[0..n) by the nearest index, (n-1)*p rounded; v is sorted in
 * place. 0 when n <= 0. */
double bench_percentile(double *v, int n, double p);
