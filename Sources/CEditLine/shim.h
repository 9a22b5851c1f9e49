// libedit's readline-compatible interface (Debian: libedit-dev; see docs on its traps).
#include <stdio.h>
#include <editline/readline.h>
