/* report/ reads the results model only */
#include "matrix/results.h"
#include "matrix/matrix.h"
