/* fine: lab/ includes nl/ (down) */
#include "nl/nl.h"
