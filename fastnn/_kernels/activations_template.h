/* Activation loops, written once and included by activations_simd.h once per dtype with
 * FNN_T (float or double) and FNN_SFX (f32 or f64) defined.  No include guard on purpose.
 *
 * Each element function is branch-free (selects, not jumps) so that gcc if-converts and
 * vectorises the loop; the transcendental ones compute on a clamped copy of the input and
 * select the final value, so that lanes whose result is discarded never overflow.
 */

#define FNN_CAT3_(a, b, c) a##_##b##_##c
#define FNN_CAT3(a, b, c) FNN_CAT3_(a, b, c)
#define FNN(name) FNN_CAT3(fnn, name, FNN_SFX)
/* The dtype's function of fastnn_math.h. */
#define FNN_MATH(name) FNN_CAT3(fastnn, name, FNN_SFX)

/* A loop over one input (a) or two (a = dout, b = x or y). */
#define FNN_UNARY_LOOP(name)                                                                   \
    static void FNN(name)(const FNN_T *a, const FNN_T *b, FNN_T *out, ptrdiff_t n,             \
                          FNN_T alpha) {                                                       \
        (void)b;                                                                               \
        FASTNN_IVDEP for (ptrdiff_t i = 0; i < n; i++) out[i] = FNN(name##_elem)(a[i], alpha); \
    }

#define FNN_BINARY_LOOP(name)                                                                  \
    static void FNN(name)(const FNN_T *a, const FNN_T *b, FNN_T *out, ptrdiff_t n,             \
                          FNN_T alpha) {                                                       \
        FASTNN_IVDEP for (ptrdiff_t i = 0; i < n; i++)                                         \
            out[i] = FNN(name##_elem)(a[i], b[i], alpha);                                      \
    }

/* ---- piecewise-linear kernels and the simple backward ones: plain IEEE arithmetic, no
 * contraction, so the results equal NumPy's bit for bit. */

/* max(x, 0); NaN propagates (the comparison is false). */
FASTNN_INLINE FNN_T FNN(relu_elem)(FNN_T x, FNN_T alpha) {
    (void)alpha;
    return x < 0 ? (FNN_T)0 : x;
}
/* dout where x > 0, else 0 (gradient 0 at x == 0, like PyTorch). */
FASTNN_INLINE FNN_T FNN(relu_backward_elem)(FNN_T dout, FNN_T x, FNN_T alpha) {
    (void)alpha;
    return x > 0 ? dout : (FNN_T)0;
}
/* x if x > 0 else alpha * x, i.e. max(alpha * x, x) for 0 <= alpha <= 1. */
FASTNN_INLINE FNN_T FNN(leaky_relu_elem)(FNN_T x, FNN_T alpha) { return x > 0 ? x : alpha * x; }
FASTNN_INLINE FNN_T FNN(leaky_relu_backward_elem)(FNN_T dout, FNN_T x, FNN_T alpha) {
    return x > 0 ? dout : alpha * dout;
}
FASTNN_INLINE FNN_T FNN(sigmoid_backward_elem)(FNN_T dout, FNN_T y, FNN_T alpha) {
    (void)alpha;
    return dout * y * (1 - y);
}
FASTNN_INLINE FNN_T FNN(tanh_backward_elem)(FNN_T dout, FNN_T y, FNN_T alpha) {
    (void)alpha;
    return dout * (1 - y * y);
}

FNN_UNARY_LOOP(relu)
FNN_BINARY_LOOP(relu_backward)
FNN_UNARY_LOOP(leaky_relu)
FNN_BINARY_LOOP(leaky_relu_backward)
FNN_BINARY_LOOP(sigmoid_backward)
FNN_BINARY_LOOP(tanh_backward)

/* ---- kernels built on exp/expm1 (FMA contraction allowed) */
FASTNN_CONTRACT_ON

/* sigma(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, e = exp(-|x|) <= 1: exp never
 * overflows, sigma(-1000) = 0 and sigma(1000) = 1 exactly, and for x < 0 the result keeps
 * exp's relative accuracy (subnormal results included). */
FASTNN_INLINE FNN_T FNN(sigmoid_elem)(FNN_T x, FNN_T alpha) {
    (void)alpha;
    FNN_T e = FNN_MATH(exp_nonpos)(-FNN_MATH(abs)(x));
    return (x < 0 ? e : (FNN_T)1) / (1 + e);
}

/* tanh|x| = -t / (2 + t) with t = expm1(-2|x|) in (-1, 0]: accurate for tiny |x| (t is
 * accurate relative to itself), exactly 1 once t rounds to -1; the sign is copied back, so
 * tanh(-0.0) = -0.0 and NaN stays NaN. */
FASTNN_INLINE FNN_T FNN(tanh_elem)(FNN_T x, FNN_T alpha) {
    (void)alpha;
    FNN_T t = FNN_MATH(expm1_nonpos)(-2 * FNN_MATH(abs)(x));
    return FNN_MATH(copysign)(-t / (2 + t), x);
}

/* x if x > 0 else alpha * expm1(x); expm1 keeps full relative accuracy near 0 (exp(x) - 1
 * would not).  The clamp min(x, 0) keeps NaN (comparison false) and avoids overflow. */
FASTNN_INLINE FNN_T FNN(elu_elem)(FNN_T x, FNN_T alpha) {
    FNN_T neg = alpha * FNN_MATH(expm1_nonpos)(x > 0 ? (FNN_T)0 : x);
    return x > 0 ? x : neg;
}
FASTNN_INLINE FNN_T FNN(elu_backward_elem)(FNN_T dout, FNN_T x, FNN_T alpha) {
    FNN_T neg = dout * (alpha * FNN_MATH(exp_nonpos)(x > 0 ? (FNN_T)0 : x));
    return x > 0 ? dout : neg;
}

FNN_UNARY_LOOP(sigmoid)
FNN_UNARY_LOOP(tanh)
FNN_UNARY_LOOP(elu)
FNN_BINARY_LOOP(elu_backward)

FASTNN_CONTRACT_OFF

/* y[i] = max_j z[i, j], idx[i] = the first j reaching it (the first NaN wins, like
 * np.argmax), for z of shape (m, k) with k >= 1.  The row loop is written once; with k a
 * compile-time constant (the common 2, 3, 4) gcc unrolls the j loop and vectorises across
 * rows with strided loads, which the general-k loop cannot do. */
FASTNN_INLINE void FNN(maxout_rows)(const FNN_T *z, FNN_T *y, ptrdiff_t *idx, ptrdiff_t m,
                                    ptrdiff_t k) {
    for (ptrdiff_t i = 0; i < m; i++) {
        const FNN_T *row = z + i * k;
        FNN_T best = row[0];
        ptrdiff_t bi = 0;
        for (ptrdiff_t j = 1; j < k; j++) {
            /* take v if v > best or v is NaN, unless best is already NaN; written as plain
             * selects (a combined (a > b) | (c != c) mask stops gcc from vectorising) */
            FNN_T v = row[j];
            int keep = best != best;
            FNN_T nb = v <= best ? best : v;
            ptrdiff_t ni = v <= best ? bi : j;
            bi = keep ? bi : ni;
            best = keep ? best : nb;
        }
        y[i] = best;
        idx[i] = bi;
    }
}

static void FNN(maxout)(const FNN_T *z, FNN_T *y, ptrdiff_t *idx, ptrdiff_t m,
                                      ptrdiff_t k) {
    switch (k) {
    case 2: FNN(maxout_rows)(z, y, idx, m, 2); break;
    case 3: FNN(maxout_rows)(z, y, idx, m, 3); break;
    case 4: FNN(maxout_rows)(z, y, idx, m, 4); break;
    default: FNN(maxout_rows)(z, y, idx, m, k);
    }
}

/* dz[i, j] = dout[i] if j == idx[i] else 0, for dz of shape (m, k): every element is written
 * in one streaming pass (no zero-fill pass first); idx already checked to be in [0, k).
 * Constant k (2, 3, 4: the usual maxout widths) lets gcc vectorise the row. */
FASTNN_INLINE void FNN(maxout_backward_rows)(const FNN_T *dout, const ptrdiff_t *idx, FNN_T *dz,
                                             ptrdiff_t m, ptrdiff_t k) {
    for (ptrdiff_t i = 0; i < m; i++) {
        FNN_T *row = dz + i * k;
        for (ptrdiff_t j = 0; j < k; j++) row[j] = (FNN_T)0;
        row[idx[i]] = dout[i];
    }
}

static void FNN(maxout_backward)(const FNN_T *dout, const ptrdiff_t *idx,
                                               FNN_T *dz, ptrdiff_t m, ptrdiff_t k) {
    switch (k) {
    case 2: FNN(maxout_backward_rows)(dout, idx, dz, m, 2); break;
    case 3: FNN(maxout_backward_rows)(dout, idx, dz, m, 3); break;
    case 4: FNN(maxout_backward_rows)(dout, idx, dz, m, 4); break;
    default: FNN(maxout_backward_rows)(dout, idx, dz, m, k);
    }
}

#undef FNN_UNARY_LOOP
#undef FNN_BINARY_LOOP
#undef FNN
#undef FNN_MATH
#undef FNN_CAT3
#undef FNN_CAT3_
