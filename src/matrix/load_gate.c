#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "matrix/load_gate.h"

/* CPU time of this process's reaped children, in ms: the cells' programs (each program's init
 * reaps what it started, and lab_down/lab_wait reap the inits), i.e. the engine's cost. The
 * harness's own work is left out: it is the same for every engine, and at the ceiling of 40
 * (punch's default matrix, 60-75 ms of mostly rtnl system time per cell) it ends no cell in
 * error; counting it would only slow the light engines down. */
static double cpu_ms(void)
{
	struct rusage kids;

	if (getrusage(RUSAGE_CHILDREN, &kids) < 0)
		return 0;
	return (kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) * 1e3 +
	       (kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) / 1e3;
}

double load_gate_cores(int nproc, double loadavg)
{
	if (nproc < 1)
		nproc = 1;
	return loadavg > nproc ? (double)nproc * nproc / loadavg : nproc;
}

/* The 1-minute load average, 0 when unknown. */
static double loadavg1(void)
{
	FILE *f = fopen("/proc/loadavg", "re");
	double l = 0;

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = 0;
		fclose(f);
	}
	return l;
}

int load_gate_bound(double cpu_per_run_ms, double cores, int budget_ms, int ceiling)
{
	double j;

	if (cpu_per_run_ms <= 0)
		return ceiling;
	/* J * C / P <= budget / 2 */
	j = (budget_ms / 2.0) * (cores > 0 ? cores : 1) / cpu_per_run_ms;
	if (j >= ceiling)
		return ceiling;
	return j < 1 ? 1 : (int)j;
}

int load_gate_init(struct load_gate *g, bool adaptive, int ceiling, int budget_ms)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int ret;

	*g = (struct load_gate){ .adaptive = adaptive, .ceiling = ceiling > 0 ? ceiling : 1,
				 .nproc = n > 0 ? (int)n : 1, .budget_ms = budget_ms > 0 ? budget_ms
											 : 2000 };
	ret = pthread_mutex_init(&g->mu, NULL);
	if (ret)
		return -ret;
	ret = pthread_cond_init(&g->cv, NULL);
	if (ret) {
		pthread_mutex_destroy(&g->mu);
		return -ret;
	}
	/* nothing measured yet: a first wave small enough for any engine the deadlines allow */
	g->limit = adaptive && 2 * g->nproc < g->ceiling ? 2 * g->nproc : g->ceiling;
	g->cpu0_ms = cpu_ms();
	g->cores = g->nproc;
	return 0;
}

void load_gate_destroy(struct load_gate *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

int load_gate_enter(struct load_gate *g, atomic_bool *stop)
{
	int ret = 0;

	pthread_mutex_lock(&g->mu);
	/* bounded: a place frees when a run ends, and every run has its deadline */
	while (g->running >= g->limit && !atomic_load(stop)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->cv, &g->mu, &ts);
	}
	if (atomic_load(stop))
		ret = -ECANCELED;
	else if (++g->running > g->peak)
		g->peak = g->running;
	pthread_mutex_unlock(&g->mu);
	return ret;
}

void load_gate_leave(struct load_gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->running--;
	g->finished++;
	if (g->adaptive) {
		int bound, grown = g->limit * 2;

		/* runs that ended (their programs reaped) over runs that ended: the programs of
		 * runs still going are not in yet */
		g->cpu_per_run_ms = (cpu_ms() - g->cpu0_ms) / g->finished;
		g->cores = load_gate_cores(g->nproc, loadavg1());
		bound = load_gate_bound(g->cpu_per_run_ms, g->cores, g->budget_ms, g->ceiling);
		g->limit = bound < grown ? bound : grown;
	}
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}
