/* punch includes nothing of ours */
#include "wire.h"
#include "base/out.h"
