// libFuzzer's driver entry point (compiler-rt FuzzerInterface.h). SwiftPM gives every
// executable its own `main`, so the targets call the driver from there instead of linking
// libFuzzer's `main`.
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
