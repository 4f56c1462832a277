/* points up: nl/ must not include lab/ */
#include "lab/topo.h"
#include "base/out.h"
