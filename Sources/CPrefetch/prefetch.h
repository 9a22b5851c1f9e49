// A cache prefetch hint, which Swift cannot spell: the header's inline function is compiled
// into the Swift caller (one PREFETCHT0 instruction), no library involved.
#ifndef LLAVA_MNIST_PREFETCH_H
#define LLAVA_MNIST_PREFETCH_H
static inline __attribute__((always_inline)) void prefetchForRead(const void *address) {
    __builtin_prefetch(address, 0, 3);
}
#endif
