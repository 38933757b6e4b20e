/* Run-time CPU dispatch: what this CPU and its OS enable, and which compiled path to run.
 *
 * Each kernel family's loops are compiled once per ISA target into their own object files
 * (setup.py: <family>_target.c with FASTNN_TARGET_ISA and the target's flags), each exporting
 * a table of function pointers; the extension picks one table at import with
 * fastnn_isa_select.  This follows NumPy's per-target compilation units
 * (numpy/_core/src/common/npy_cpu_features.c).  The targets:
 *
 *   FASTNN_ISA_BASELINE  the architecture's baseline (x86-64: SSE2; aarch64: NEON)
 *   FASTNN_ISA_AVX2      x86-64-v3: AVX, AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE (+ v2)
 *   FASTNN_ISA_AVX512    x86-64-v4: the AVX2 set + AVX-512 F, CD, BW, DQ, VL
 *
 * A path is allowed only if the CPU reports every feature its compiler flags let the compiler
 * use (cpuid) AND the OS saves the registers it touches (XGETBV: XCR0 bits 1-2 for the SSE
 * and AVX state, 5-7 too for the AVX-512 opmask and upper ZMM state): a CPU with AVX-512 under
 * an OS that does not enable it must not run AVX-512 code.  fastnn_isa_select is a pure
 * function of the feature mask so that tests can feed it faked masks.
 */
#ifndef FASTNN_CPU_H
#define FASTNN_CPU_H

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#include <immintrin.h>
#define FASTNN_CPU_X86 1
#elif (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#define FASTNN_CPU_X86 1
#else
#define FASTNN_CPU_X86 0
#endif

/* Compiled paths, best last (macros: the target units test them in #if). */
#define FASTNN_ISA_BASELINE 0
#define FASTNN_ISA_AVX2 1
#define FASTNN_ISA_AVX512 2
#define FASTNN_N_ISAS 3

/* Feature bits of fastnn_cpu_detect's mask: cpuid bits, and the OS's register-state support
 * (FASTNN_CPU_OS_*) from XCR0. */
enum {
    FASTNN_CPU_SSE2 = 1 << 0,
    FASTNN_CPU_SSE3 = 1 << 1,
    FASTNN_CPU_SSSE3 = 1 << 2,
    FASTNN_CPU_SSE41 = 1 << 3,
    FASTNN_CPU_SSE42 = 1 << 4,
    FASTNN_CPU_POPCNT = 1 << 5,
    FASTNN_CPU_AVX = 1 << 6,
    FASTNN_CPU_F16C = 1 << 7,
    FASTNN_CPU_FMA = 1 << 8,
    FASTNN_CPU_AVX2 = 1 << 9,
    FASTNN_CPU_BMI1 = 1 << 10,
    FASTNN_CPU_BMI2 = 1 << 11,
    FASTNN_CPU_LZCNT = 1 << 12,
    FASTNN_CPU_MOVBE = 1 << 13,
    FASTNN_CPU_AVX512F = 1 << 14,
    FASTNN_CPU_AVX512CD = 1 << 15,
    FASTNN_CPU_AVX512BW = 1 << 16,
    FASTNN_CPU_AVX512DQ = 1 << 17,
    FASTNN_CPU_AVX512VL = 1 << 18,
    FASTNN_CPU_OS_AVX = 1 << 19,    /* XCR0 bits 1, 2: XMM and YMM state saved */
    FASTNN_CPU_OS_AVX512 = 1 << 20, /* XCR0 bits 5, 6, 7: opmask, ZMM0-15 upper, ZMM16-31 */
    FASTNN_CPU_N_BITS = 21
};

/* Everything the AVX2 target's flags (-march=x86-64-v3, /arch:AVX2) let a compiler emit. */
#define FASTNN_CPU_NEEDS_AVX2                                                                  \
    (FASTNN_CPU_SSE2 | FASTNN_CPU_SSE3 | FASTNN_CPU_SSSE3 | FASTNN_CPU_SSE41 |                 \
     FASTNN_CPU_SSE42 | FASTNN_CPU_POPCNT | FASTNN_CPU_AVX | FASTNN_CPU_F16C | FASTNN_CPU_FMA | \
     FASTNN_CPU_AVX2 | FASTNN_CPU_BMI1 | FASTNN_CPU_BMI2 | FASTNN_CPU_LZCNT |                  \
     FASTNN_CPU_MOVBE | FASTNN_CPU_OS_AVX)
/* ... and the AVX-512 target's (-march=x86-64-v4, /arch:AVX512). */
#define FASTNN_CPU_NEEDS_AVX512                                                                \
    (FASTNN_CPU_NEEDS_AVX2 | FASTNN_CPU_AVX512F | FASTNN_CPU_AVX512CD | FASTNN_CPU_AVX512BW |  \
     FASTNN_CPU_AVX512DQ | FASTNN_CPU_AVX512VL | FASTNN_CPU_OS_AVX512)

/* The paths compiled into this extension, as a mask of 1 << FASTNN_ISA_* (setup.py defines
 * FASTNN_BUILT_AVX2 / FASTNN_BUILT_AVX512 when it compiled those targets). */
#if defined(FASTNN_BUILT_AVX2) && FASTNN_BUILT_AVX2
#define FASTNN_BUILT_AVX2_BIT (1 << FASTNN_ISA_AVX2)
#else
#define FASTNN_BUILT_AVX2_BIT 0
#endif
#if defined(FASTNN_BUILT_AVX512) && FASTNN_BUILT_AVX512
#define FASTNN_BUILT_AVX512_BIT (1 << FASTNN_ISA_AVX512)
#else
#define FASTNN_BUILT_AVX512_BIT 0
#endif
#define FASTNN_BUILT_ISAS \
    ((1 << FASTNN_ISA_BASELINE) | FASTNN_BUILT_AVX2_BIT | FASTNN_BUILT_AVX512_BIT)

#if FASTNN_CPU_X86
/* cpuid leaf/subleaf into r = {eax, ebx, ecx, edx}; zeros for a leaf the CPU lacks. */
static inline void fastnn_cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(_MSC_VER)
    int v[4];
    __cpuid(v, (int)(leaf & 0x80000000u));
    if ((unsigned)v[0] < leaf) { r[0] = r[1] = r[2] = r[3] = 0; return; }
    __cpuidex(v, (int)leaf, (int)sub);
    r[0] = (unsigned)v[0]; r[1] = (unsigned)v[1]; r[2] = (unsigned)v[2]; r[3] = (unsigned)v[3];
#else
    if ((unsigned)__get_cpuid_max(leaf & 0x80000000u, 0) < leaf) {
        r[0] = r[1] = r[2] = r[3] = 0;
        return;
    }
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

/* XCR0, the register state the OS saves; call only when cpuid reports OSXSAVE. */
static inline unsigned long long fastnn_xcr0(void) {
#if defined(_MSC_VER)
    return (unsigned long long)_xgetbv(0);
#else
    unsigned lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0)); /* xgetbv */
    return ((unsigned long long)hi << 32) | lo;
#endif
}
#endif

/* The FASTNN_CPU_* mask of this CPU and OS (0 off x86: only the baseline path exists). */
static inline int fastnn_cpu_detect(void) {
    int mask = 0;
#if FASTNN_CPU_X86
    unsigned r1[4], r7[4], rx[4];
    fastnn_cpuid(1, 0, r1);
    fastnn_cpuid(7, 0, r7);
    fastnn_cpuid(0x80000001u, 0, rx);
    const unsigned ecx = r1[2], edx = r1[3], ebx7 = r7[1];
    if (edx & (1u << 26)) mask |= FASTNN_CPU_SSE2;
    if (ecx & (1u << 0)) mask |= FASTNN_CPU_SSE3;
    if (ecx & (1u << 9)) mask |= FASTNN_CPU_SSSE3;
    if (ecx & (1u << 12)) mask |= FASTNN_CPU_FMA;
    if (ecx & (1u << 19)) mask |= FASTNN_CPU_SSE41;
    if (ecx & (1u << 20)) mask |= FASTNN_CPU_SSE42;
    if (ecx & (1u << 22)) mask |= FASTNN_CPU_MOVBE;
    if (ecx & (1u << 23)) mask |= FASTNN_CPU_POPCNT;
    if (ecx & (1u << 28)) mask |= FASTNN_CPU_AVX;
    if (ecx & (1u << 29)) mask |= FASTNN_CPU_F16C;
    if (ebx7 & (1u << 3)) mask |= FASTNN_CPU_BMI1;
    if (ebx7 & (1u << 5)) mask |= FASTNN_CPU_AVX2;
    if (ebx7 & (1u << 8)) mask |= FASTNN_CPU_BMI2;
    if (ebx7 & (1u << 16)) mask |= FASTNN_CPU_AVX512F;
    if (ebx7 & (1u << 17)) mask |= FASTNN_CPU_AVX512DQ;
    if (ebx7 & (1u << 28)) mask |= FASTNN_CPU_AVX512CD;
    if (ebx7 & (1u << 30)) mask |= FASTNN_CPU_AVX512BW;
    if (ebx7 & (1u << 31)) mask |= FASTNN_CPU_AVX512VL;
    if (rx[2] & (1u << 5)) mask |= FASTNN_CPU_LZCNT;
    if (ecx & (1u << 27)) { /* OSXSAVE: XGETBV is enabled */
        const unsigned long long xcr0 = fastnn_xcr0();
        if ((xcr0 & 0x6) == 0x6) mask |= FASTNN_CPU_OS_AVX;
        if ((xcr0 & 0xe6) == 0xe6) mask |= FASTNN_CPU_OS_AVX512;
    }
#endif
    return mask;
}

/* The best path the features in `mask` allow (FASTNN_ISA_*). */
static inline int fastnn_isa_supported(int mask) {
    if ((mask & FASTNN_CPU_NEEDS_AVX512) == FASTNN_CPU_NEEDS_AVX512) return FASTNN_ISA_AVX512;
    if ((mask & FASTNN_CPU_NEEDS_AVX2) == FASTNN_CPU_NEEDS_AVX2) return FASTNN_ISA_AVX2;
    return FASTNN_ISA_BASELINE;
}

/* The path to run: the best one the CPU and OS allow (mask), at most `cap`, among the
 * compiled ones (`built`, a mask of 1 << FASTNN_ISA_*; the baseline is always built). */
static inline int fastnn_isa_select(int mask, int cap, int built) {
    int isa = fastnn_isa_supported(mask);
    if (cap < isa) isa = cap < FASTNN_ISA_BASELINE ? FASTNN_ISA_BASELINE : cap;
    while (isa > FASTNN_ISA_BASELINE && !(built & (1 << isa))) isa--;
    return isa;
}

/* Declarations for a family's dispatch header: the per-target tables of `type` named
 * <name>_baseline, <name>_avx2, <name>_avx512 (each defined by one target object), the
 * table in use (<name>_active, the baseline until <name>_select runs), <name>_table(isa)
 * and <name>_select(cap), which picks the path for this CPU, OS and cap and returns it. */
#define FASTNN_DISPATCH_TABLES(type, name)                                                     \
    extern const type name##_baseline;                                                         \
    extern const type name##_avx2;                                                             \
    extern const type name##_avx512;                                                           \
    static const type *name##_active = &name##_baseline;                                       \
    static inline const type *name##_table(int isa) {                                          \
        FASTNN_DISPATCH_CASES(name)                                                            \
        return &name##_baseline;                                                               \
    }                                                                                          \
    static inline int name##_select(int cap) {                                                 \
        const int isa = fastnn_isa_select(fastnn_cpu_detect(), cap, FASTNN_BUILT_ISAS);       \
        name##_active = name##_table(isa);                                                     \
        return isa;                                                                            \
    }

#if FASTNN_BUILT_AVX512_BIT
#define FASTNN_DISPATCH_CASE_AVX512(name) if (isa == FASTNN_ISA_AVX512) return &name##_avx512;
#else
#define FASTNN_DISPATCH_CASE_AVX512(name)
#endif
#if FASTNN_BUILT_AVX2_BIT
#define FASTNN_DISPATCH_CASE_AVX2(name) if (isa == FASTNN_ISA_AVX2) return &name##_avx2;
#else
#define FASTNN_DISPATCH_CASE_AVX2(name)
#endif
#define FASTNN_DISPATCH_CASES(name) \
    FASTNN_DISPATCH_CASE_AVX512(name) FASTNN_DISPATCH_CASE_AVX2(name)

#endif /* FASTNN_CPU_H */
