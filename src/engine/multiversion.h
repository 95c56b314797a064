// The hot loops are compiled twice, for the x86-64 baseline and for AVX2, and
// the loader picks one for the running CPU. Plain SSE2/AVX2 arithmetic (no
// FMA: -ffp-contract=off) rounds exactly as the scalar code does.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PARAMDELTA_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define PARAMDELTA_MULTIVERSION
#endif
