/* Exhaustive check of the float32 division by a scalar that adam's kernel uses
 * (fastnn/_kernels/optim_template.h, adam_pass): for every one of the 2^32 float32
 * bit patterns a and each divisor c below, (float)((double)a * r) with r = 1.0 / (double)c
 * has the same bits as the real division a / c (NaNs included).
 *
 * The divisors: 1 - 0.999**t for t = 1..50 (adam's bias correction with the default beta2,
 * rounded to float32 as the kernel does), 1 - 0.9**t for t = 1..10, 1, 0.5, the smallest
 * normal and subnormal float32, 1 - 2^-24 (the float just below 1), and a few others in
 * (0, 1].  The kernel takes this path only for 0 < |c| <= 1; the divisors above 1 at the end
 * (3, 6, 10, 1.5, 1e30, 98) show why: there a / c can be exactly halfway between two
 * subnormal floats, and the double product, off by its own rounding, can round the other way
 * (98 does, for 79,792 of the 2^32 a; the others happen not to).  Their
 * mismatches are counted and printed, expected, not failures.
 *
 *     gcc -O2 -march=native bench/div_by_scalar_exhaustive.c -o /tmp/divx && /tmp/divx
 *
 * (also with plain -O2, the x86-64 baseline; `/tmp/divx FIRST LAST` checks the divisors
 * FIRST..LAST-1 of the list only).  Exit status 0 when every divisor in (0, 1]
 * matches on all 2^32 inputs.  About 1-3 s per divisor.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (1u << 16)

static union {
    uint32_t u[CHUNK];
    float f[CHUNK];
} qa;
static float qd[CHUNK], qr[CHUNK];

static uint32_t to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Mismatches over all 2^32 a for divisor c; prints up to 3 examples. */
static uint64_t check(float c) {
    volatile float vc = c; /* no constant folding of the divisor */
    float cc = vc;
    double r = 1.0 / (double)cc;
    uint64_t bad = 0;
    for (uint64_t base = 0; base < (1ull << 32); base += CHUNK) {
        for (uint32_t i = 0; i < CHUNK; i++) qa.u[i] = (uint32_t)base + i;
        for (uint32_t i = 0; i < CHUNK; i++) qd[i] = qa.f[i] / cc;
        for (uint32_t i = 0; i < CHUNK; i++) qr[i] = (float)((double)qa.f[i] * r);
        if (memcmp(qd, qr, sizeof qd) == 0) continue;
        for (uint32_t i = 0; i < CHUNK; i++) {
            if (to_bits(qd[i]) != to_bits(qr[i])) {
                if (bad < 3)
                    printf("    a=%a (0x%08x) c=%a: div %a, via double %a\n", qa.f[i],
                           qa.u[i], cc, qd[i], qr[i]);
                bad++;
            }
        }
    }
    return bad;
}

int main(int argc, char **argv) {
    float cs[128];
    int n = 0;
    for (int t = 1; t <= 50; t++) cs[n++] = (float)(1.0 - pow(0.999, t));
    for (int t = 1; t <= 10; t++) cs[n++] = (float)(1.0 - pow(0.9, t));
    cs[n++] = 1.0f;
    cs[n++] = 0.5f;
    cs[n++] = 0x1p-126f;                /* smallest normal */
    cs[n++] = 0x1p-149f;                /* smallest subnormal */
    cs[n++] = 0x1.fffffep-1f;           /* 1 - 2^-24 */
    cs[n++] = (float)(1.0 - 0.99999999); /* beta2 close to 1 */
    cs[n++] = 0.1f;
    cs[n++] = 1.0f / 3.0f;
    cs[n++] = 0x1.555556p-127f; /* a subnormal that is not a power of two */
    cs[n++] = -0.7f;
    int n_small = n;
    cs[n++] = 3.0f;
    cs[n++] = 6.0f;
    cs[n++] = 10.0f;
    cs[n++] = 1.5f;
    cs[n++] = 1e30f;
    cs[n++] = 98.0f; /* a = 0x1.26p-142: a / c = 0x1.8p-149, a tie */
    int failed = 0, first = 0, last = n;
    if (argc == 3) first = atoi(argv[1]), last = atoi(argv[2]) < n ? atoi(argv[2]) : n;
    for (int k = first; k < last; k++) {
        uint64_t bad = check(cs[k]);
        int expected_ok = k < n_small;
        printf("c=%-16a %-14.9g mismatches: %llu%s\n", cs[k], cs[k], (unsigned long long)bad,
               expected_ok ? "" : "  (|c| > 1: not a path the kernel takes)");
        fflush(stdout);
        if (expected_ok && bad) failed = 1;
    }
    printf(failed ? "FAIL\n" : "OK: every divisor with 0 < |c| <= 1 matches on all 2^32 a\n");
    return failed;
}
