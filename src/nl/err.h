/* Shared by the nl/ files: turn a libnl error into -errno and a sentence. */
#pragma once
#include <errno.h>
#include <netlink/errno.h>
#include <stdio.h>

#include "nl/nl.h"

/* libnl returns its own -NLE_* codes; callers of nl/ get -errno. */
static inline int nl_to_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_EXIST: return -EEXIST;
	case NLE_PERM: return -EPERM;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_NODEV: return -ENODEV;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_INVAL: return -EINVAL;
	case NLE_RANGE: return -ERANGE;
	case NLE_BUSY: return -EBUSY;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	default: return -EIO;
	}
}

static inline int nl_fail(struct nl_err *err, int nlerr, const char *action, const char *object,
			  const char *name)
{
	if (err)
		snprintf(err->msg, sizeof(err->msg), "%s %s \"%s\": %s", action, object, name,
			 nl_geterror(nlerr));
	return nl_to_errno(nlerr);
}
