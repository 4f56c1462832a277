/* Writing a sysctl of the calling thread's current network namespace. */
#pragma once

/* key is the path under /proc/sys ("net/ipv4/ip_forward"). Returns 0 or -errno.
 * /proc/sys/net resolves against the namespace of the thread that opens the file, so this
 * acts on whatever namespace the thread has entered. */
int sysctl_write(const char *key, const char *value);
