// OpenBLAS's CBLAS interface (Debian: libopenblas-dev; pkg-config adds the include folder).
#include <cblas.h>
