// libpng 1.6 (Debian: libpng-dev) and zlib.
#include <png.h>
#include <zlib.h>
