/* Event output of the engine: with --json one JSON object per line on the output stream (a
 * harness reads the last line), else the same events as readable "time event key=value"
 * lines. Diagnostics go to the error stream. Callers own both FILEs (tests pass fmemopen). */
#ifndef PUNCH_EVOUT_H
#define PUNCH_EVOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define EVOUT_LINE 4096

struct evout {
	FILE *out, *err;
	bool json;
	uint64_t t0_us;               /* event times are relative to this */
	char line[EVOUT_LINE];
	size_t len;
	bool overflow;
	int family;                   /* 4 or 6: every event says "family" (dual.c); 0: none */
};

void evout_init(struct evout *e, FILE *out, FILE *err, bool json, uint64_t t0_us);

/* One event: begin, add fields, end (writes and flushes the line). */
void evout_begin(struct evout *e, const char *event);
void evout_str(struct evout *e, const char *key, const char *val);     /* NULL -> null */
void evout_int(struct evout *e, const char *key, long long val);
void evout_ms(struct evout *e, const char *key, uint64_t us);          /* 1.234 */
void evout_bool(struct evout *e, const char *key, bool val);
/* A JSON array of strings (human: comma separated). */
void evout_strv(struct evout *e, const char *key, const char *const *v, int n);
/* A JSON object of string values, @vals[i] NULL for null (human: k=v,k=v). */
void evout_map(struct evout *e, const char *key, const char *const *keys,
	       const char *const *vals, int n);
void evout_end(struct evout *e);

/* A diagnostic line on the error stream: "punch: <msg>". */
void evout_warn(struct evout *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
