// Nothing to compile: the declaration in include/CFuzz.h is all Swift needs.
#include "CFuzz.h"
