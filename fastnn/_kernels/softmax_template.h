/* Softmax row kernels for one dtype, written once: softmax_simd.h instantiates them per dtype
 * (fastnn_dtype_begin.h: FASTNN_T, FASTNN_NAME); the design notes are in softmax_simd.h.
 */
#include "softmax_simd.h"

#include "fastnn_dtype_begin.h"

/* this dtype's wide-row switch (FASTNN_SM_WIDE_ROWS_f32 / _f64) */
#if FASTNN_DTYPE == 32
#define FASTNN_SM_WIDE_ROWS_HERE FASTNN_SM_WIDE_ROWS_f32
#else
#define FASTNN_SM_WIDE_ROWS_HERE FASTNN_SM_WIDE_ROWS_f64
#endif

#ifdef FASTNN_SM_VECTOR
/* acc = max(acc, v) on the dtype's 16-byte vectors */
#define FASTNN_SM_VMAX16(acc, v) FASTNN_SM_VMAX(FASTNN_NAME(sm_v16), FASTNN_NAME(sm_v16i), acc, v)
FASTNN_INLINE FASTNN_T FASTNN_NAME(sm_rowmax)(const FASTNN_T *x, fastnn_index C) {
    enum { W = 16 / sizeof(FASTNN_T) };
    fastnn_index j = 0;
    FASTNN_T m = x[0];
    if (C >= 4 * W) {
        FASTNN_NAME(sm_v16) a0, a1, a2, a3, v0, v1, v2, v3;
        memcpy(&a0, x, 16); memcpy(&a1, x + W, 16);
        memcpy(&a2, x + 2 * W, 16); memcpy(&a3, x + 3 * W, 16);
        for (j = 4 * W; j + 4 * W <= C; j += 4 * W) {
            memcpy(&v0, x + j, 16); memcpy(&v1, x + j + W, 16);
            memcpy(&v2, x + j + 2 * W, 16); memcpy(&v3, x + j + 3 * W, 16);
            FASTNN_SM_VMAX16(a0, v0); FASTNN_SM_VMAX16(a1, v1);
            FASTNN_SM_VMAX16(a2, v2); FASTNN_SM_VMAX16(a3, v3);
        }
        FASTNN_SM_VMAX16(a0, a1); FASTNN_SM_VMAX16(a2, a3);
        FASTNN_SM_VMAX16(a0, a2);
        m = a0[0];
        for (int k = 1; k < W; k++) m = a0[k] > m ? a0[k] : m;
    }
    for (; j < C; j++) m = x[j] > m ? x[j] : m;
    return m;
}
#undef FASTNN_SM_VMAX16
#else
FASTNN_INLINE FASTNN_T FASTNN_NAME(sm_rowmax)(const FASTNN_T *x, fastnn_index C) {
    FASTNN_T m = x[0];
    for (fastnn_index j = 1; j < C; j++) m = x[j] > m ? x[j] : m;
    return m;
}
#endif

/* sum(e) - 1 without cancellation, for rows whose max dominates (the max's exp is exactly 1,
 * so the count of ones minus 1 plus the sum of the other entries is exact to rounding).  The
 * entries e are x itself when exps is 1 (exps already computed), else exp(x - m) (the wide
 * log_softmax, which does not keep them). */
FASTNN_INLINE double FASTNN_NAME(sm_sum_minus_one)(const FASTNN_T *x, FASTNN_T m, fastnn_index C,
                                                      int exps) {
    double ones = 0.0, rest = 0.0;
    for (fastnn_index j = 0; j < C; j++) {
        double e = (double)(exps ? x[j] : FASTNN_NAME(exp_nonpos)(x[j] - m));
        if (e == 1.0) ones += 1.0;
        else rest += e;
    }
    return (ones - 1.0) + rest;
}

/* Small C: the max of the four rows x, x + C, x + 2C, x + 3C at once. */
FASTNN_INLINE void FASTNN_NAME(sm_rowmax4)(const FASTNN_T *x, fastnn_index C, FASTNN_T *m) {
    const FASTNN_T *x1 = x + C, *x2 = x + 2 * C, *x3 = x + 3 * C;
    FASTNN_T m0 = x[0], m1 = x1[0], m2 = x2[0], m3 = x3[0];
    for (fastnn_index j = 1; j < C; j++) {
        m0 = x[j] > m0 ? x[j] : m0;
        m1 = x1[j] > m1 ? x1[j] : m1;
        m2 = x2[j] > m2 ? x2[j] : m2;
        m3 = x3[j] > m3 ? x3[j] : m3;
    }
    m[0] = m0; m[1] = m1; m[2] = m2; m[3] = m3;
}

#if FASTNN_SM_WIDE_ROWS_HERE
/* a > b lane-wise on the dtype's wide vectors, in two halves (see
 * FASTNN_SM_COMPARE_IN_HALVES) */
FASTNN_INLINE FASTNN_NAME(sm_widei) FASTNN_NAME(sm_gt)(FASTNN_NAME(sm_wide) a,
                                                       FASTNN_NAME(sm_wide) b) {
    enum { H = FASTNN_SM_WIDE_BYTES / 2 };
    FASTNN_NAME(sm_half) a0, a1, b0, b1;
    memcpy(&a0, &a, H); memcpy(&a1, (const char *)&a + H, H);
    memcpy(&b0, &b, H); memcpy(&b1, (const char *)&b + H, H);
    FASTNN_NAME(sm_halfi) m0 = a0 > b0, m1 = a1 > b1;
    FASTNN_NAME(sm_widei) m;
    memcpy(&m, &m0, H); memcpy((char *)&m + H, &m1, H);
    return m;
}

/* fastnn_math.h's exp_nonpos on a wide vector: the same macro, hence the same results. */
FASTNN_INLINE FASTNN_NAME(sm_wide) FASTNN_NAME(sm_vexp)(FASTNN_NAME(sm_wide) x, int halves) {
    const FASTNN_NAME(sm_wide) lo = (FASTNN_NAME(sm_wide)){0} + FASTNN_MACRO(FASTNN_EXP_MIN);
    FASTNN_NAME(sm_widei) below = halves ? FASTNN_NAME(sm_gt)(lo, x) : x < lo;
    FASTNN_NAME(sm_wide) xc = FASTNN_SM_SELECT(FASTNN_NAME(sm_wide), FASTNN_NAME(sm_widei),
                                               below, lo, x);
    FASTNN_NONPOS_CLAMPED(EXP, FASTNN_NAME(sm_wide), FASTNN_NAME(sm_wideu), xc, e)
    return e;
}

#if FASTNN_DTYPE == 32
/* The exp pass in steps of one float32 vector: out[0:L] = exp(x[0:L] - m) (if store), with
 * the exps added in double to two vectors of lane accumulators (lo: the first half of the
 * lanes, hi: the second).  gcc's float -> double vector conversion goes through 16-byte
 * pieces (a quarter of the pass when done every step), so float32 converts once per eight
 * steps: the exps of lanes l of eight
 * consecutive steps (all in [0, 1]) are added in float first, pairwise.  That is three
 * roundings of at most half an ulp of a partial sum, comparable to the ~1 ulp of the exps
 * themselves (softmax of C = 1000 float32 logits: at most 1 ulp more than with a double
 * sum); the row sum, its log and the loss stay in double. */
FASTNN_INLINE fastnn_sm_wide_f32 fastnn_sm_exp_step_f32(const float *x, float m, float *out,
                                                 int store, int halves) {
    fastnn_sm_wide_f32 v;
    memcpy(&v, x, sizeof v);
    fastnn_sm_wide_f32 e = fastnn_sm_vexp_f32(v - m, halves);
    if (store) memcpy(out, &e, sizeof e);
    return e;
}
FASTNN_INLINE void fastnn_sm_add_step_f32(fastnn_sm_wide_f32 e, fastnn_sm_wide_f64 *lo,
                                       fastnn_sm_wide_f64 *hi) {
    fastnn_sm_half_f32 half;
    memcpy(&half, &e, sizeof half);
    *lo += __builtin_convertvector(half, fastnn_sm_wide_f64);
    memcpy(&half, (const char *)&e + sizeof half, sizeof half);
    *hi += __builtin_convertvector(half, fastnn_sm_wide_f64);
}
/* Whole steps from j to C; returns the new j. */
FASTNN_INLINE fastnn_index fastnn_sm_exp_steps_f32(const float *x, float m, float *out,
                                                   fastnn_index j, fastnn_index C,
                                                   int store, int halves,
                                                   fastnn_sm_wide_f64 *lo, fastnn_sm_wide_f64 *hi) {
    enum { L = FASTNN_SM_LANES_f32 };
    for (; j + 8 * L <= C; j += 8 * L) {
        fastnn_sm_wide_f32 e[8];
        for (int q = 0; q < 8; q++)
            e[q] = fastnn_sm_exp_step_f32(x + j + L * q, m, out + j + L * q, store, halves);
        fastnn_sm_add_step_f32(
            ((e[0] + e[1]) + (e[2] + e[3])) + ((e[4] + e[5]) + (e[6] + e[7])), lo, hi);
    }
    for (; j + L <= C; j += L)
        fastnn_sm_add_step_f32(fastnn_sm_exp_step_f32(x + j, m, out + j, store, halves), lo, hi);
    return j;
}
#else
/* The exp pass in steps of two float64 vectors, added to lo and hi. */
FASTNN_INLINE fastnn_index fastnn_sm_exp_steps_f64(const double *x, double m, double *out,
                                                   fastnn_index j, fastnn_index C,
                                                   int store, int halves,
                                                   fastnn_sm_wide_f64 *lo, fastnn_sm_wide_f64 *hi) {
    enum { L = FASTNN_SM_LANES_f64 };
    for (; j + 2 * L <= C; j += 2 * L) {
        fastnn_sm_wide_f64 v0, v1;
        memcpy(&v0, x + j, sizeof v0);
        memcpy(&v1, x + j + L, sizeof v1);
        fastnn_sm_wide_f64 e0 = fastnn_sm_vexp_f64(v0 - m, halves);
        fastnn_sm_wide_f64 e1 = fastnn_sm_vexp_f64(v1 - m, halves);
        if (store) {
            memcpy(out + j, &e0, sizeof e0);
            memcpy(out + j + L, &e1, sizeof e1);
        }
        *lo += e0;
        *hi += e1;
    }
    return j;
}
#endif

/* acc = max(acc, v) and acc = max(acc, the vector at p) on wide vectors */
#define FASTNN_SM_WVMAX64(acc, v)                                                            \
    do {                                                                                     \
        FASTNN_NAME(sm_widei) gt_ = halves ? FASTNN_NAME(sm_gt)((v), (acc))                  \
                                           : (FASTNN_NAME(sm_widei))((v) > (acc));           \
        (acc) = FASTNN_SM_SELECT(FASTNN_NAME(sm_wide), FASTNN_NAME(sm_widei), gt_, (v),    \
                                 (acc));                                                     \
    } while (0)
#define FASTNN_SM_WMAX64(acc, p)                                                             \
    do {                                                                                     \
        FASTNN_NAME(sm_wide) v_;                                                             \
        memcpy(&v_, (p), sizeof v_);                                                         \
        FASTNN_SM_WVMAX64(acc, v_);                                                          \
    } while (0)

FASTNN_INLINE FASTNN_T FASTNN_NAME(sm_wide_max)(const FASTNN_T *x, fastnn_index C, int halves) {
    enum { W = FASTNN_SM_WIDE_BYTES / sizeof(FASTNN_T) };
    FASTNN_NAME(sm_wide) acc, a1, a2, a3;
    memcpy(&acc, x, sizeof acc);
    fastnn_index j = W;
    if (C >= 4 * W) { /* four accumulators: one would be bound by the compare latency */
        memcpy(&a1, x + W, sizeof a1);
        memcpy(&a2, x + 2 * W, sizeof a2);
        memcpy(&a3, x + 3 * W, sizeof a3);
        for (j = 4 * W; j + 4 * W <= C; j += 4 * W) {
            FASTNN_SM_WMAX64(acc, x + j);
            FASTNN_SM_WMAX64(a1, x + j + W);
            FASTNN_SM_WMAX64(a2, x + j + 2 * W);
            FASTNN_SM_WMAX64(a3, x + j + 3 * W);
        }
        FASTNN_SM_WVMAX64(acc, a1);
        FASTNN_SM_WVMAX64(a2, a3);
        FASTNN_SM_WVMAX64(acc, a2);
    }
    for (; j + W <= C; j += W) FASTNN_SM_WMAX64(acc, x + j);
    FASTNN_T m = acc[0];
    for (int l = 1; l < W; l++) m = acc[l] > m ? acc[l] : m;
    for (; j < C; j++) m = x[j] > m ? x[j] : m;
    return m;
}

/* out[j] = exp(x[j] - m) (if store); returns the sum of the exps in double. */
FASTNN_INLINE double FASTNN_NAME(sm_wide_exp)(const FASTNN_T *x, FASTNN_T m, FASTNN_T *out,
                                              fastnn_index C,
                                                 int store, int halves) {
    fastnn_sm_wide_f64 lo = {0}, hi = {0};
    fastnn_index j = FASTNN_NAME(sm_exp_steps)(x, m, out, 0, C, store, halves, &lo, &hi);
    double tail = 0.0;
    for (; j < C; j++) {
        FASTNN_T e = FASTNN_NAME(exp_nonpos)(x[j] - m);
        if (store) out[j] = e;
        tail += (double)e;
    }
    fastnn_sm_wide_f64 a = lo + hi;
#if FASTNN_SM_WIDE_BYTES == 64
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])) + tail;
#else
    return ((a[0] + a[2]) + (a[1] + a[3])) + tail;
#endif
}

FASTNN_INLINE double FASTNN_NAME(sm_loss_wide_body)(
        const FASTNN_T *x, const fastnn_index *y, FASTNN_T *out, fastnn_index r0, fastnn_index r1,
        fastnn_index C, double inv_n, const int halves) {
    double total = 0.0;
    for (fastnn_index i = r0; i < r1; i++) {
        const FASTNN_T *xi = x + i * C;
        FASTNN_T *oi = out + i * C;
        fastnn_index yi = y[i];
        FASTNN_T xy = xi[yi]; /* before out (which may be x) is written */
        FASTNN_T m = FASTNN_NAME(sm_wide_max)(xi, C, halves);
        if (i + 1 < r1) fastnn_sm_prefetch_row(xi + C, (size_t)C * sizeof(FASTNN_T));
        double sum = FASTNN_NAME(sm_wide_exp)(xi, m, oi, C, 1, halves);
        double sm1 = sum - 1.0;
        /* below 1e-3 the rounding of sum would show in sm1's relative error */
        if (sm1 < 1e-3) sm1 = FASTNN_NAME(sm_sum_minus_one)(oi, m, C, 1);
        double inv = inv_n / sum;
        double ey = (double)oi[yi];
        FASTNN_T scale = (FASTNN_T)inv;
        for (fastnn_index j = 0; j < C; j++) oi[j] *= scale;
        /* p_y - 1 = ((e_y - 1) - (sum - 1)) / sum: no cancellation when p_y ~ 1 */
        oi[yi] = (FASTNN_T)(((ey - 1.0) - sm1) * inv);
        total += fastnn_log1p_nonneg(sm1) + ((double)m - (double)xy);
    }
    return total;
}

FASTNN_INLINE void FASTNN_NAME(sm_wide_body)(const FASTNN_T *x, FASTNN_T *out, fastnn_index r0,
                                                  fastnn_index r1, fastnn_index C, int log,
                                                  const int halves) {
    for (fastnn_index i = r0; i < r1; i++) {
        const FASTNN_T *xi = x + i * C;
        FASTNN_T *oi = out + i * C;
        FASTNN_T m = FASTNN_NAME(sm_wide_max)(xi, C, halves);
        if (i + 1 < r1) fastnn_sm_prefetch_row(xi + C, (size_t)C * sizeof(FASTNN_T));
        double sum = FASTNN_NAME(sm_wide_exp)(xi, m, oi, C, !log, halves);
        if (log) {
            double sm1 = sum - 1.0;
            if (sm1 < 1e-3) sm1 = FASTNN_NAME(sm_sum_minus_one)(xi, m, C, 0);
            FASTNN_T lse = (FASTNN_T)fastnn_log1p_nonneg(sm1);
            for (fastnn_index j = 0; j < C; j++) oi[j] = (xi[j] - m) - lse;
        } else {
            FASTNN_T scale = (FASTNN_T)(1.0 / sum);
            for (fastnn_index j = 0; j < C; j++) oi[j] *= scale;
        }
    }
}

static double FASTNN_NAME(sm_loss_wide)(
        const FASTNN_T *x, const fastnn_index *y, FASTNN_T *out, fastnn_index r0, fastnn_index r1,
        fastnn_index C, double inv_n) {
    return FASTNN_NAME(sm_loss_wide_body)(x, y, out, r0, r1, C, inv_n,
                                               FASTNN_SM_COMPARE_IN_HALVES);
}
static void FASTNN_NAME(sm_wide_rows)(const FASTNN_T *x, FASTNN_T *out, fastnn_index r0,
                                      fastnn_index r1,
                                      fastnn_index C, int log) {
    FASTNN_NAME(sm_wide_body)(x, out, r0, r1, C, log, FASTNN_SM_COMPARE_IN_HALVES);
}
#undef FASTNN_SM_WVMAX64
#undef FASTNN_SM_WMAX64
#define FASTNN_SM_WIDE_DISPATCH(expr)                                                        \
    if (C >= FASTNN_SM_WIDE) { expr; }
#else
#define FASTNN_SM_WIDE_DISPATCH(expr)
#endif

/* Block exps: v[k] = exp(d[k]) for the n entries (v may be d: each step reads and writes its
 * own entries only, hence FASTNN_IVDEP), and the double values that the row sums read (a
 * converted copy in wide for float, v itself for double).  clang's steps of four wide
 * vectors: see FASTNN_SM_BLOCK_EXP_VECTORS. */
FASTNN_INLINE const double *FASTNN_NAME(sm_exp_block)(const FASTNN_T *d, FASTNN_T *v,
                                                      double *wide, fastnn_index n) {
    fastnn_index k = 0;
#if defined(FASTNN_SM_BLOCK_EXP_VECTORS) && FASTNN_SM_WIDE_ROWS_HERE
    enum { L = FASTNN_SM_WIDE_BYTES / sizeof(FASTNN_T) };
    for (; k + 4 * L <= n; k += 4 * L) {
        FASTNN_NAME(sm_wide) x[4], e[4];
        memcpy(x, d + k, sizeof x);
        for (int h = 0; h < 4; h++)
            e[h] = FASTNN_NAME(sm_vexp)(x[h], FASTNN_SM_COMPARE_IN_HALVES);
        memcpy(v + k, e, sizeof e);
#if FASTNN_DTYPE == 32
        fastnn_sm_half_f32 half[8];
        fastnn_sm_wide_f64 ed[8];
        memcpy(half, e, sizeof half);
        for (int h = 0; h < 8; h++) ed[h] = __builtin_convertvector(half[h], fastnn_sm_wide_f64);
        memcpy(wide + k, ed, sizeof ed);
#endif
    }
#endif
#if FASTNN_DTYPE == 32
    FASTNN_SM_EXP_F32_LOOP for (; k < n; k++) {
        float e = fastnn_exp_nonpos_f32(d[k]);
        v[k] = e;
        wide[k] = (double)e;
    }
    return wide;
#else
    (void)wide;
    FASTNN_IVDEP for (; k < n; k++) v[k] = fastnn_exp_nonpos_f64(d[k]);
    return v;
#endif
}

/* d[j] = x[j] - s (mul = 0) or x[j] * s (mul = 1) for one row of C entries; d may be x.
 * Short rows of the block scheme are too short for the compilers' vectorised loops (clang
 * unrolls them four vectors deep, so a row of 10 runs its scalar remainder): here whole
 * vectors (of FASTNN_SM_ROW_BYTES, or 16 bytes for shorter rows), the last one ending at C and
 * overlapping the one before.  It is loaded before anything is stored, so an in-place row
 * still reads its original entries.  FASTNN_SM_ROW_APPLY(V) does the row on vectors of type V
 * and returns. */
#define FASTNN_SM_ROW_APPLY(V)                                                               \
    do {                                                                                     \
        enum { L = sizeof(V) / sizeof(FASTNN_T) };                                          \
        V last_, v_;                                                                         \
        memcpy(&last_, x + C - L, sizeof last_);                                             \
        for (; j + L <= C; j += L) {                                                         \
            memcpy(&v_, x + j, sizeof v_);                                                   \
            v_ = mul ? v_ * s : v_ - s;                                                      \
            memcpy(d + j, &v_, sizeof v_);                                                   \
        }                                                                                    \
        if (j < C) {                                                                         \
            last_ = mul ? last_ * s : last_ - s;                                             \
            memcpy(d + C - L, &last_, sizeof last_);                                         \
        }                                                                                    \
        return;                                                                              \
    } while (0)
FASTNN_INLINE void FASTNN_NAME(sm_row_apply)(const FASTNN_T *x, FASTNN_T *d, fastnn_index C,
                                             FASTNN_T s, const int mul) {
    fastnn_index j = 0;
#ifdef FASTNN_SM_VECTOR
    if (C >= (fastnn_index)(sizeof(FASTNN_NAME(sm_row)) / sizeof(FASTNN_T)))
        FASTNN_SM_ROW_APPLY(FASTNN_NAME(sm_row));
    if (C >= (fastnn_index)(16 / sizeof(FASTNN_T))) FASTNN_SM_ROW_APPLY(FASTNN_NAME(sm_v16));
#endif
    FASTNN_NO_VECTORIZE for (; j < C; j++) d[j] = mul ? x[j] * s : x[j] - s;
}
#undef FASTNN_SM_ROW_APPLY

/* Step (A) of a block: per row the max (into m) and x - m (into d). */
FASTNN_INLINE void FASTNN_NAME(sm_shift)(const FASTNN_T *x, FASTNN_T *d, FASTNN_T *m,
                                         fastnn_index rows,
                                            fastnn_index C) {
    fastnn_index i = 0;
    if (C < 64 / (fastnn_index)sizeof(FASTNN_T))
        for (; i + 4 <= rows; i += 4) FASTNN_NAME(sm_rowmax4)(x + i * C, C, m + i);
    for (; i < rows; i++) m[i] = FASTNN_NAME(sm_rowmax)(x + i * C, C);
    for (i = 0; i < rows; i++) FASTNN_NAME(sm_row_apply)(x + i * C, d + i * C, C, m[i], 0);
}

/* Loss and gradient for rows [r0, r1): returns the sum of the rows' losses (not yet
 * divided by N) and writes dx = (softmax(x) - onehot(y)) * inv_n.  out may alias x. */
static double FASTNN_NAME(sm_loss_rows)(
        const FASTNN_T *x, const fastnn_index *y, FASTNN_T *out, fastnn_index r0, fastnn_index r1,
        fastnn_index C, double inv_n) {
    FASTNN_T m[FASTNN_SM_ROWS], xy[FASTNN_SM_ROWS];
    double sum[FASTNN_SM_ROWS], sm1[FASTNN_SM_ROWS], lse[FASTNN_SM_ROWS];
    double wide[FASTNN_SM_BLOCK];
    FASTNN_SM_WIDE_DISPATCH(return FASTNN_NAME(sm_loss_wide)(x, y, out, r0, r1, C, inv_n))
    fastnn_index rows = fastnn_sm_block_rows(C);
    double total = 0.0;
    for (fastnn_index b0 = r0; b0 < r1; b0 += rows) {
        fastnn_index nb = r1 - b0 < rows ? r1 - b0 : rows;
        const FASTNN_T *xb = x + b0 * C;
        const fastnn_index *yb = y + b0;
        FASTNN_T *ob = out + b0 * C;
        for (fastnn_index i = 0; i < nb; i++) xy[i] = xb[i * C + yb[i]]; /* before aliasing */
        FASTNN_NAME(sm_shift)(xb, ob, m, nb, C);
        if (C > FASTNN_SM_BLOCK) { /* one row longer than the scratch: exps in chunks */
            sum[0] = 0.0;
            for (fastnn_index j0 = 0; j0 < C; j0 += FASTNN_SM_BLOCK) {
                fastnn_index len = C - j0 < FASTNN_SM_BLOCK ? C - j0 : FASTNN_SM_BLOCK;
                sum[0] += fastnn_sm_rowsum(
                    FASTNN_NAME(sm_exp_block)(ob + j0, ob + j0, wide, len), len);
            }
            sm1[0] = sum[0] - 1.0;
        } else {
            const double *e = FASTNN_NAME(sm_exp_block)(ob, ob, wide, nb * C);
            fastnn_sm_block_sums(e, nb, C, sum, sm1);
        }
        for (fastnn_index i = 0; i < nb; i++) lse[i] = fastnn_log1p_nonneg(sm1[i]);
        for (fastnn_index i = 0; i < nb; i++) {
            FASTNN_T *oi = ob + i * C;
            double inv = inv_n / sum[i];
            double ey = (double)oi[yb[i]];
            FASTNN_NAME(sm_row_apply)(oi, oi, C, (FASTNN_T)inv, 1);
            /* p_y - 1 = ((e_y - 1) - (sum - 1)) / sum: no cancellation when p_y ~ 1 */
            oi[yb[i]] = (FASTNN_T)(((ey - 1.0) - sm1[i]) * inv);
            total += lse[i] + ((double)m[i] - (double)xy[i]);
        }
    }
    return total;
}

/* The block scheme of sm_rows (log a compile-time constant). */
FASTNN_INLINE void FASTNN_NAME(sm_rows_blocked)(const FASTNN_T *x, FASTNN_T *out, fastnn_index r0,
                                              fastnn_index r1, fastnn_index C, const int log) {
    FASTNN_T m[FASTNN_SM_ROWS], e[FASTNN_SM_BLOCK];
    double sum[FASTNN_SM_ROWS], sm1[FASTNN_SM_ROWS], wide[FASTNN_SM_BLOCK];
    fastnn_index rows = fastnn_sm_block_rows(C);
    for (fastnn_index b0 = r0; b0 < r1; b0 += rows) {
        fastnn_index nb = r1 - b0 < rows ? r1 - b0 : rows;
        FASTNN_T *ob = out + b0 * C;
        /* softmax keeps the exps in out; log_softmax keeps x - max there */
        FASTNN_T *eb = log ? e : ob;
        FASTNN_NAME(sm_shift)(x + b0 * C, ob, m, nb, C);
        if (C > FASTNN_SM_BLOCK) {
            sum[0] = 0.0;
            for (fastnn_index j0 = 0; j0 < C; j0 += FASTNN_SM_BLOCK) {
                fastnn_index len = C - j0 < FASTNN_SM_BLOCK ? C - j0 : FASTNN_SM_BLOCK;
                sum[0] += fastnn_sm_rowsum(
                    FASTNN_NAME(sm_exp_block)(ob + j0, log ? e : ob + j0, wide, len), len);
            }
            sm1[0] = sum[0] - 1.0;
        } else {
            const double *ed = FASTNN_NAME(sm_exp_block)(ob, eb, wide, nb * C);
            fastnn_sm_block_sums(ed, nb, C, sum, sm1);
        }
        if (log)
            for (fastnn_index i = 0; i < nb; i++) sm1[i] = fastnn_log1p_nonneg(sm1[i]);
        for (fastnn_index i = 0; i < nb; i++) {
            FASTNN_T *oi = ob + i * C;
            if (log) FASTNN_NAME(sm_row_apply)(oi, oi, C, (FASTNN_T)sm1[i], 0);
            else FASTNN_NAME(sm_row_apply)(oi, oi, C, (FASTNN_T)(1.0 / sum[i]), 1);
        }
    }
}

/* softmax (log = 0) or log_softmax (log = 1) of rows [r0, r1).  out may alias x.  The block
 * scheme is compiled once per value of log, so that its row loops do not test it. */
static void FASTNN_NAME(sm_rows)(const FASTNN_T *x, FASTNN_T *out, fastnn_index r0, fastnn_index r1,
                                 fastnn_index C, int log) {
    FASTNN_SM_WIDE_DISPATCH(FASTNN_NAME(sm_wide_rows)(x, out, r0, r1, C, log); return)
    if (log) FASTNN_NAME(sm_rows_blocked)(x, out, r0, r1, C, 1);
    else FASTNN_NAME(sm_rows_blocked)(x, out, r0, r1, C, 0);
}

#undef FASTNN_SM_WIDE_DISPATCH
#undef FASTNN_SM_WIDE_ROWS_HERE

#include "fastnn_dtype_end.h"
