/* Batch-normalization loops for one dtype, written once: batchnorm_kernels.h instantiates
 * them per dtype (fastnn_dtype_begin.h: FASTNN_T, FASTNN_NAME).
 *
 * Data is viewed as (n, c, s): c channels, s contiguous elements per (sample, channel)
 * segment.  A 2-d batch (N, D) is (N, D, 1) and uses the "rows" loops (vectorised across
 * columns); images (N, C, H, W) are (N, C, H*W) and use the "segs" loops (vectorised along
 * a segment with independent accumulators).
 *
 * The dx passes walk their rows (segments) last to first: the gradient sums pass just read
 * the end of x and dout (twice the size of x), so those rows are still in cache.  The 2-d
 * normalise pass goes first to last (measured faster while x fits in L3).
 *
 * Precision: every statistic and gradient sum is accumulated in double.  In the 2-d
 * ("rows") loops the per-element deviations, squares and products and the 4- or 8-row sums
 * are in the element type (float32: ~5e-7 relative), with a double fallback when a tile's
 * sums are not finite; so are the "segs" gradient sums (groups of four), while the "segs"
 * statistics are double throughout.  The two element passes (normalise, dx) run in the
 * element type so that float32 uses the full vector width; they subtract the mean as a
 * two-term hi + lo split, so data far from 0 keeps float32 accuracy.  A train-mode float32
 * call falls back to double element passes ("exact" loops) when a deviation from the mean
 * could overflow float (sqrt(sum of squared deviations) > FASTNN_BN_WIDE_LIMIT): sum((x-mean)^2)
 * bounds every |x-mean|.  Test mode has no such bound and checks its outputs instead
 * (normalize_checked).
 */
#include "batchnorm_kernels.h"

#include "fastnn_dtype_begin.h"

#if FASTNN_BN_STREAMS
/* bn_stream_normalize, bn_stream_dx_segs: the ordinary loops' arithmetic (rows_normalize,
 * segs_dx) with each row (segment) peeled to the vector alignment that streaming stores
 * need, then a fence so that the lines are visible before the team's barrier.  (A
 * row-by-row streaming rows_dx was slower than the four-row ordinary loop: it loads its six
 * coefficient vectors once per row instead of once per four.) */
/* the dtype's full-width vector at p */
#define FASTNN_BN_VLOAD(p) FASTNN_LOAD_VECTOR(FASTNN_NAME(bn_vec), (p))
enum { FASTNN_NAME(bn_vec_lanes) = sizeof(FASTNN_NAME(bn_vec)) / sizeof(FASTNN_T) };

#if FASTNN_DTYPE == 32 /* float64 keeps ordinary stores (see FASTNN_BN_STREAM_BYTES) */
static void FASTNN_NAME(bn_stream_normalize)(const FASTNN_T *x, FASTNN_T *out, ptrdiff_t d,
                                             ptrdiff_t r0, ptrdiff_t r1, const FASTNN_T *co)
{
    enum { W = FASTNN_NAME(bn_vec_lanes) };
    const FASTNN_T *mhi = co, *mlo = co + d, *sc = co + 2 * d, *sh = co + 3 * d;
    for (ptrdiff_t i = r0; i < r1; i++) {
        const FASTNN_T *xr = x + i * d;
        FASTNN_T *o = out + i * d;
        ptrdiff_t j = 0;
        for (; j < d && (uintptr_t)(o + j) % 64; j++) /* whole lines streamed */
            o[j] = FASTNN_BN_NORMALIZE_EXPR(xr[j], mhi[j], mlo[j], sc[j], sh[j]);
        for (const ptrdiff_t e = j + FASTNN_BN_WHOLE_LINES(FASTNN_T, d - j); j < e; j += W)
            FASTNN_NAME(bn_stream)(o + j, FASTNN_BN_NORMALIZE_EXPR(
                                              FASTNN_BN_VLOAD(xr + j), FASTNN_BN_VLOAD(mhi + j),
                                              FASTNN_BN_VLOAD(mlo + j), FASTNN_BN_VLOAD(sc + j),
                                              FASTNN_BN_VLOAD(sh + j)));
        for (; j < d; j++) o[j] = FASTNN_BN_NORMALIZE_EXPR(xr[j], mhi[j], mlo[j], sc[j], sh[j]);
    }
    _mm_sfence();
}
#endif

static void FASTNN_NAME(bn_stream_dx_segs)(const FASTNN_T *dout, const FASTNN_T *x,
                                           FASTNN_T *dx, ptrdiff_t c, ptrdiff_t s, ptrdiff_t k0,
                                           ptrdiff_t k1, const FASTNN_T *co)
{
    enum { W = FASTNN_NAME(bn_vec_lanes) };
    for (ptrdiff_t k = k1 - 1; k >= k0; k--) { /* last to first, as segs_dx */
        const FASTNN_T *g = dout + k * s, *xs = x + k * s;
        FASTNN_T *o = dx + k * s;
        const ptrdiff_t j = k % c;
        const FASTNN_T mhi = co[j], mlo = co[c + j], is = co[2 * c + j], a = co[3 * c + j],
                       cb = co[4 * c + j], cg = co[5 * c + j];
        ptrdiff_t i = 0;
        for (; i < s && (uintptr_t)(o + i) % 64; i++)
            o[i] = FASTNN_BN_DX_EXPR(g[i], xs[i], mhi, mlo, is, a, cb, cg);
        for (const ptrdiff_t e = i + FASTNN_BN_WHOLE_LINES(FASTNN_T, s - i); i < e; i += W)
            FASTNN_NAME(bn_stream)(o + i, FASTNN_BN_DX_EXPR(FASTNN_BN_VLOAD(g + i),
                                                            FASTNN_BN_VLOAD(xs + i), mhi, mlo,
                                                            is, a, cb, cg));
        for (; i < s; i++) o[i] = FASTNN_BN_DX_EXPR(g[i], xs[i], mhi, mlo, is, a, cb, cg);
    }
    _mm_sfence();
}
#undef FASTNN_BN_VLOAD
#endif /* FASTNN_BN_STREAMS */

#ifdef FASTNN_BN_SEGMENT_VECTORS
/* Four consecutive elements at p, as doubles.  A macro: a function returning a 32-byte
 * vector has another ABI in the baseline target, which gcc and clang warn about. */
#if FASTNN_DTYPE == 32
#define FASTNN_BN_LOAD4D(p)                                                                     \
    __builtin_convertvector(FASTNN_LOAD_VECTOR(fastnn_bn_v4f, (p)), fastnn_bn_v4d)
#else
#define FASTNN_BN_LOAD4D(p) FASTNN_LOAD_VECTOR(fastnn_bn_v4d, (p))
#endif
#endif

/* Reductions along one contiguous segment with FASTNN_BN_LANES independent double accumulators
 * (an OpenMP simd reduction would need -fopenmp-simd).  With vector extensions the
 * accumulators are explicit vectors, the same lanes (hence the same sums) as the scalar loop,
 * where FASTNN_LANE_VECTORS is set (fastnn_simd.h). */
static inline double FASTNN_NAME(bn_sum)(const FASTNN_T *FASTNN_RESTRICT v, ptrdiff_t n)
{
    double acc[FASTNN_BN_LANES] = {0.0}, total = 0.0;
    ptrdiff_t i = 0;
#if defined(FASTNN_BN_SEGMENT_VECTORS) && defined(FASTNN_LANE_VECTORS)
    enum { Q = FASTNN_BN_LANES / 4 };
    fastnn_bn_v4d va[Q];
    memcpy(va, acc, sizeof va);
    for (; i + FASTNN_BN_LANES <= n; i += FASTNN_BN_LANES)
        for (int q = 0; q < Q; q++) va[q] += FASTNN_BN_LOAD4D(v + i + 4 * q);
    memcpy(acc, va, sizeof va);
#endif
    for (; i + FASTNN_BN_LANES <= n; i += FASTNN_BN_LANES)
        for (int u = 0; u < FASTNN_BN_LANES; u++) acc[u] += (double)v[i + u];
    for (; i < n; i++) total += (double)v[i];
    return total + fastnn_bn_lanes_total(acc);
}

static inline double FASTNN_NAME(bn_sum_sq_dev)(const FASTNN_T *FASTNN_RESTRICT v, ptrdiff_t n,
                                                double m)
{
    double acc[FASTNN_BN_LANES] = {0.0}, total = 0.0;
    ptrdiff_t i = 0;
#if defined(FASTNN_BN_SEGMENT_VECTORS) && defined(FASTNN_LANE_VECTORS)
    enum { Q = FASTNN_BN_LANES / 4 };
    fastnn_bn_v4d va[Q];
    memcpy(va, acc, sizeof va);
    for (; i + FASTNN_BN_LANES <= n; i += FASTNN_BN_LANES)
        for (int q = 0; q < Q; q++) {
            const fastnn_bn_v4d e = FASTNN_BN_LOAD4D(v + i + 4 * q) - m;
            va[q] += e * e;
        }
    memcpy(acc, va, sizeof va);
#endif
    for (; i + FASTNN_BN_LANES <= n; i += FASTNN_BN_LANES)
        for (int u = 0; u < FASTNN_BN_LANES; u++) {
            double e = (double)v[i + u] - m;
            acc[u] += e * e;
        }
    for (; i < n; i++) total += ((double)v[i] - m) * ((double)v[i] - m);
    return total + fastnn_bn_lanes_total(acc);
}

/* sb = sum(g), sg = sum(g * (v - m)) along one segment (the lanes of bn_sum). */
static inline void FASTNN_NAME(bn_grad_dots)(const FASTNN_T *FASTNN_RESTRICT g,
                                             const FASTNN_T *FASTNN_RESTRICT v,
                                 ptrdiff_t n, double m, double *sb, double *sg)
{
    double accb[FASTNN_BN_LANES] = {0.0}, accg[FASTNN_BN_LANES] = {0.0}, tb = 0.0, tg = 0.0;
    ptrdiff_t i = 0;
#ifdef FASTNN_BN_SEGMENT_VECTORS
    enum { Q = FASTNN_BN_LANES / 4 };
    fastnn_bn_v4d vb[Q], vg[Q];
    memcpy(vb, accb, sizeof vb);
    memcpy(vg, accg, sizeof vg);
    for (; i + FASTNN_BN_LANES <= n; i += FASTNN_BN_LANES)
        for (int q = 0; q < Q; q++) {
            const fastnn_bn_v4d gq = FASTNN_BN_LOAD4D(g + i + 4 * q);
            vb[q] += gq;
            vg[q] += gq * (FASTNN_BN_LOAD4D(v + i + 4 * q) - m);
        }
    memcpy(accb, vb, sizeof vb);
    memcpy(accg, vg, sizeof vg);
#endif
    for (; i + FASTNN_BN_LANES <= n; i += FASTNN_BN_LANES)
        for (int u = 0; u < FASTNN_BN_LANES; u++) {
            double gu = (double)g[i + u];
            accb[u] += gu;
            accg[u] += gu * ((double)v[i + u] - m);
        }
    for (; i < n; i++) {
        tb += (double)g[i];
        tg += (double)g[i] * ((double)v[i] - m);
    }
    *sb = tb + fastnn_bn_lanes_total(accb);
    *sg = tg + fastnn_bn_lanes_total(accg);
}
#undef FASTNN_BN_LOAD4D

/* One tile of rows [i0, i1) at the full vector width of FASTNN_T: pass 1 sums the tile in FASTNN_T
 * for a shift k (close to the tile mean; its own rounding does not matter; with reuse_k the
 * caller's k, the mean of the tiles before, is used instead and pass 1 skipped), pass 2 forms
 * e = x - k and e^2 in FASTNN_T and adds groups of eight rows into the double accumulators
 * s1 = sum(e), s2 = sum(e^2); the tile's mean is k + s1/n and its m2 is s2 - s1^2/n (the
 * corrected two-pass formula; s1 is tiny because k is near the mean).  For float32 the
 * squares and 8-term partials carry a relative error of a few float eps (~5e-7); the
 * accumulation over rows is double.  Returns 0 when some s2 is not finite (float overflow
 * near FLT_MAX, or NaN/inf data): the caller then redoes the tile in double; -1 when a
 * reused k is too far from the tile's mean (the caller redoes the tile with pass 1). */
static int FASTNN_NAME(bn_rows_tile_wide)(
    const FASTNN_T *FASTNN_RESTRICT x, ptrdiff_t d, ptrdiff_t i0, ptrdiff_t i1,
    FASTNN_T *FASTNN_RESTRICT k,
    double *FASTNN_RESTRICT s1, double *FASTNN_RESTRICT s2, int reuse_k)
{
    const FASTNN_T nb = (FASTNN_T)(i1 - i0);
    int bad = 0;
    ptrdiff_t i, j;
    if (reuse_k) goto deviations;
    for (j = 0; j < d; j++) k[j] = 0;
    for (i = i0; i + 4 <= i1; i += 4) {
        const FASTNN_T *a = x + i * d, *b = a + d, *e = b + d, *f = e + d;
        for (j = 0; j < d; j++) k[j] += (a[j] + b[j]) + (e[j] + f[j]);
    }
    for (; i < i1; i++) {
        const FASTNN_T *a = x + i * d;
        for (j = 0; j < d; j++) k[j] += a[j];
    }
    for (j = 0; j < d; j++) k[j] /= nb;
deviations:
    for (j = 0; j < d; j++) { s1[j] = 0.0; s2[j] = 0.0; }
    for (i = i0; i + 8 <= i1; i += 8) {  /* eight rows per conversion to double */
        const FASTNN_T *a = x + i * d, *b = a + d, *e = b + d, *f = e + d;
        const FASTNN_T *a2 = f + d, *b2 = a2 + d, *e2 = b2 + d, *f2 = e2 + d;
        for (j = 0; j < d; j++) {
            const FASTNN_T kk = k[j];
            const FASTNN_T ea = a[j] - kk, eb = b[j] - kk, ee = e[j] - kk, ef = f[j] - kk;
            const FASTNN_T ga = a2[j] - kk, gb = b2[j] - kk, ge = e2[j] - kk, gf = f2[j] - kk;
            s1[j] += (double)(((ea + eb) + (ee + ef)) + ((ga + gb) + (ge + gf)));
            s2[j] += (double)(((ea * ea + eb * eb) + (ee * ee + ef * ef)) +
                              ((ga * ga + gb * gb) + (ge * ge + gf * gf)));
        }
    }
    for (; i + 4 <= i1; i += 4) {
        const FASTNN_T *a = x + i * d, *b = a + d, *e = b + d, *f = e + d;
        for (j = 0; j < d; j++) {
            const FASTNN_T ea = a[j] - k[j], eb = b[j] - k[j], ee = e[j] - k[j], ef = f[j] - k[j];
            s1[j] += (double)((ea + eb) + (ee + ef));
            s2[j] += (double)((ea * ea + eb * eb) + (ee * ee + ef * ef));
        }
    }
    for (; i < i1; i++) {
        const FASTNN_T *a = x + i * d;
        for (j = 0; j < d; j++) {
            const FASTNN_T ea = a[j] - k[j];
            s1[j] += (double)ea;
            s2[j] += (double)(ea * ea);
        }
    }
    for (j = 0; j < d; j++) bad |= !(s2[j] <= DBL_MAX);  /* inf or NaN; an OR vectorises */
    if (bad) return 0;
    if (reuse_k) {
        /* s2 - s1^2/n cancels at most half of s2 (so at most doubles the rounding error)
         * when s1^2 <= s2 * n / 2: the shift is then close enough to this tile's mean */
        for (j = 0; j < d; j++) bad |= s1[j] * s1[j] > 0.5 * (double)nb * s2[j];
        if (bad) return -1;
    }
    return 1;
}

/* The same tile in double throughout: tile mean, then squared deviations from it. */
static void FASTNN_NAME(bn_rows_tile_exact)(
    const FASTNN_T *FASTNN_RESTRICT x, ptrdiff_t d, ptrdiff_t i0, ptrdiff_t i1,
    double *FASTNN_RESTRICT tmean, double *FASTNN_RESTRICT tm2)
{
    const double nb = (double)(i1 - i0);
    ptrdiff_t i, j;
    /* Four rows per sweep: the column accumulators are loaded and stored once per
     * four rows instead of once per row. */
    for (j = 0; j < d; j++) tmean[j] = 0.0;
    for (i = i0; i + 4 <= i1; i += 4) {
        const FASTNN_T *a = x + i * d, *b = a + d, *e = b + d, *f = e + d;
        for (j = 0; j < d; j++)
            tmean[j] += ((double)a[j] + (double)b[j]) + ((double)e[j] + (double)f[j]);
    }
    for (; i < i1; i++) {
        const FASTNN_T *a = x + i * d;
        for (j = 0; j < d; j++) tmean[j] += (double)a[j];
    }
    for (j = 0; j < d; j++) { tmean[j] /= nb; tm2[j] = 0.0; }
    for (i = i0; i + 4 <= i1; i += 4) {
        const FASTNN_T *a = x + i * d, *b = a + d, *e = b + d, *f = e + d;
        for (j = 0; j < d; j++) {
            double m = tmean[j];
            double ea = (double)a[j] - m, eb = (double)b[j] - m;
            double ee = (double)e[j] - m, ef = (double)f[j] - m;
            tm2[j] += (ea * ea + eb * eb) + (ee * ee + ef * ef);
        }
    }
    for (; i < i1; i++) {
        const FASTNN_T *a = x + i * d;
        for (j = 0; j < d; j++) {
            double ea = (double)a[j] - tmean[j];
            tm2[j] += ea * ea;
        }
    }
}

/* Statistics of rows [r0, r1) of x (rows of d elements): cnt[j], mean[j] and m2[j] (sum of
 * squared deviations) per column.  The first tile of rows is summed twice while it sits in
 * cache (a shift near the tile mean, then deviations from it); later tiles use the mean so
 * far as the shift and are read once (see rows_tile_wide).  Tiles are merged into the
 * running statistics with Chan, Golub & LeVeque's update. */
static void FASTNN_NAME(bn_rows_stats)(
    const FASTNN_T *FASTNN_RESTRICT x, ptrdiff_t d, ptrdiff_t r0, ptrdiff_t r1,
    double *FASTNN_RESTRICT cnt, double *FASTNN_RESTRICT mean, double *FASTNN_RESTRICT m2,
    double *FASTNN_RESTRICT tmean, double *FASTNN_RESTRICT tm2, FASTNN_T *FASTNN_RESTRICT k)
{
    ptrdiff_t tile = FASTNN_BN_TILE_ELEMS / d, j;
    double na = 0.0;
    if (tile < 1) tile = 1;
    for (ptrdiff_t i0 = r0; i0 < r1; i0 += tile) {
        ptrdiff_t i1 = i0 + tile < r1 ? i0 + tile : r1;
        double nb = (double)(i1 - i0), n = na + nb;
        /* After the first tile, the mean so far is the shift: one pass over the tile
         * instead of two, unless this tile's data sits far from it. */
        int wide = FASTNN_NAME(bn_rows_tile_wide)(x, d, i0, i1, k, tmean, tm2, na > 0.0);
        if (wide < 0) wide = FASTNN_NAME(bn_rows_tile_wide)(x, d, i0, i1, k, tmean, tm2, 0);
        if (wide) {
            for (j = 0; j < d; j++) {
                const double s1 = tmean[j], q = tm2[j] - s1 * s1 / nb;
                tmean[j] = (double)k[j] + s1 / nb;
                tm2[j] = q > 0.0 ? q : 0.0;
            }
        } else {
            FASTNN_NAME(bn_rows_tile_exact)(x, d, i0, i1, tmean, tm2);
        }
        if (na == 0.0) {  /* first tile: copy (a 0 * inf merge weight would give NaN) */
            for (j = 0; j < d; j++) { mean[j] = tmean[j]; m2[j] = tm2[j]; }
        } else {
            double wb = nb / n, wab = na * nb / n;
            for (j = 0; j < d; j++) {
                double delta = tmean[j] - mean[j];
                mean[j] += delta * wb;
                m2[j] += tm2[j] + delta * delta * wab;
            }
        }
        for (j = 0; j < d; j++) k[j] = isfinite(mean[j]) ? (FASTNN_T)mean[j] : (FASTNN_T)0;
        na = n;
    }
    if (na == 0.0) for (j = 0; j < d; j++) { mean[j] = 0.0; m2[j] = 0.0; }
    for (j = 0; j < d; j++) cnt[j] = na;
}

/* Statistics of segments [k0, k1) (segment k belongs to channel k % c): cnt, mean, m2 per
 * channel; each segment is a two-pass block merged as in rows_stats. */
static void FASTNN_NAME(bn_segs_stats)(
    const FASTNN_T *FASTNN_RESTRICT x, ptrdiff_t c, ptrdiff_t s, ptrdiff_t k0, ptrdiff_t k1,
    double *FASTNN_RESTRICT cnt, double *FASTNN_RESTRICT mean, double *FASTNN_RESTRICT m2)
{
    const double nb = (double)s;
    ptrdiff_t j;
    for (j = 0; j < c; j++) { cnt[j] = 0.0; mean[j] = 0.0; m2[j] = 0.0; }
    for (ptrdiff_t k = k0; k < k1; k++) {
        const FASTNN_T *seg = x + k * s;
        const double sm = FASTNN_NAME(bn_sum)(seg, s) / nb;
        const double q = FASTNN_NAME(bn_sum_sq_dev)(seg, s, sm);
        j = k % c;
        fastnn_bn_merge(&cnt[j], &mean[j], &m2[j], nb, sm, q);
    }
}

/* out = ((x - mhi) - mlo) * scale + shift in FASTNN_T, co = [mhi, mlo, scale, shift]. */
static void FASTNN_NAME(bn_rows_normalize)(
    const FASTNN_T *FASTNN_RESTRICT x, FASTNN_T *FASTNN_RESTRICT out, ptrdiff_t d, ptrdiff_t r0,
    ptrdiff_t r1,
    const FASTNN_T *FASTNN_RESTRICT co)
{
    const FASTNN_T *mhi = co, *mlo = co + d, *scale = co + 2 * d, *shift = co + 3 * d;
    ptrdiff_t i = r0;
    /* Four rows per load of the four coefficients (1.7x faster than row by row).  First to
     * last: measured faster here than reusing the cached end of x, as long as x fits in L3. */
    for (; i + 4 <= r1; i += 4) {
        const FASTNN_T *x0 = x + i * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        FASTNN_T *o0 = out + i * d, *o1 = o0 + d, *o2 = o1 + d, *o3 = o2 + d;
        for (ptrdiff_t j = 0; j < d; j++) {
            const FASTNN_T h = mhi[j], l = mlo[j], sc = scale[j], sh = shift[j];
            o0[j] = FASTNN_BN_NORMALIZE_EXPR(x0[j], h, l, sc, sh);
            o1[j] = FASTNN_BN_NORMALIZE_EXPR(x1[j], h, l, sc, sh);
            o2[j] = FASTNN_BN_NORMALIZE_EXPR(x2[j], h, l, sc, sh);
            o3[j] = FASTNN_BN_NORMALIZE_EXPR(x3[j], h, l, sc, sh);
        }
    }
    for (; i < r1; i++) {
        const FASTNN_T *xr = x + i * d;
        FASTNN_T *o = out + i * d;
        for (ptrdiff_t j = 0; j < d; j++)
            o[j] = FASTNN_BN_NORMALIZE_EXPR(xr[j], mhi[j], mlo[j], scale[j], shift[j]);
    }
}

static void FASTNN_NAME(bn_segs_normalize)(
    const FASTNN_T *FASTNN_RESTRICT x, FASTNN_T *FASTNN_RESTRICT out, ptrdiff_t c, ptrdiff_t s,
    ptrdiff_t k0, ptrdiff_t k1, const FASTNN_T *FASTNN_RESTRICT co)
{
    for (ptrdiff_t k = k1 - 1; k >= k0; k--) {
        const FASTNN_T *xs = x + k * s;
        FASTNN_T *o = out + k * s;
        const ptrdiff_t j = k % c;
        const FASTNN_T mhi = co[j], mlo = co[c + j], sc = co[2 * c + j], sh = co[3 * c + j];
        for (ptrdiff_t i = 0; i < s; i++) o[i] = FASTNN_BN_NORMALIZE_EXPR(xs[i], mhi, mlo, sc, sh);
    }
}

/* The same passes in double arithmetic (float32 data with deviations near FLT_MAX):
 * out = (x - mean) * scale + shift. */
static void FASTNN_NAME(bn_rows_normalize_exact)(
    const FASTNN_T *FASTNN_RESTRICT x, FASTNN_T *FASTNN_RESTRICT out, ptrdiff_t d, ptrdiff_t r0,
    ptrdiff_t r1,
    const double *FASTNN_RESTRICT mean, const double *FASTNN_RESTRICT dco)
{
    const double *scale = dco, *shift = dco + d;
    for (ptrdiff_t i = r1 - 1; i >= r0; i--) {
        const FASTNN_T *xr = x + i * d;
        FASTNN_T *o = out + i * d;
        for (ptrdiff_t j = 0; j < d; j++)
            o[j] = (FASTNN_T)(((double)xr[j] - mean[j]) * scale[j] + shift[j]);
    }
}

static void FASTNN_NAME(bn_segs_normalize_exact)(
    const FASTNN_T *FASTNN_RESTRICT x, FASTNN_T *FASTNN_RESTRICT out, ptrdiff_t c, ptrdiff_t s,
    ptrdiff_t k0, ptrdiff_t k1, const double *FASTNN_RESTRICT mean,
    const double *FASTNN_RESTRICT dco)
{
    for (ptrdiff_t k = k1 - 1; k >= k0; k--) {
        const FASTNN_T *xs = x + k * s;
        FASTNN_T *o = out + k * s;
        const ptrdiff_t j = k % c;
        const double m = mean[j], sc = dco[j], sh = dco[c + j];
        for (ptrdiff_t i = 0; i < s; i++) o[i] = (FASTNN_T)(((double)xs[i] - m) * sc + sh);
    }
}

/* Train-mode gradient sums of rows [r0, r1) at the width of FASTNN_T: xc = (x - mhi) - mlo and
 * dout * xc in FASTNN_T, groups of four rows added into the double sums sdb = sum(dout) and
 * sdg = sum(dout * (x - mean)).  Returns 0 when a sum is not finite (overflow in float, or
 * NaN/inf data): the caller redoes the rows in double. */
static int FASTNN_NAME(bn_rows_grad_sums_wide)(
    const FASTNN_T *FASTNN_RESTRICT dout, const FASTNN_T *FASTNN_RESTRICT x, ptrdiff_t d,
    ptrdiff_t r0, ptrdiff_t r1, const FASTNN_T *FASTNN_RESTRICT mhi,
    const FASTNN_T *FASTNN_RESTRICT mlo,
    double *FASTNN_RESTRICT sdb, double *FASTNN_RESTRICT sdg)
{
    int bad = 0;
    ptrdiff_t i, j;
    for (j = 0; j < d; j++) { sdb[j] = 0.0; sdg[j] = 0.0; }
    for (i = r0; i + 4 <= r1; i += 4) {
        const FASTNN_T *ga = dout + i * d, *gb = ga + d, *gc = gb + d, *gd = gc + d;
        const FASTNN_T *xa = x + i * d, *xb = xa + d, *xc = xb + d, *xd = xc + d;
        for (j = 0; j < d; j++) {
            const FASTNN_T m = mhi[j], l = mlo[j];
            const FASTNN_T ca = (xa[j] - m) - l, cb = (xb[j] - m) - l, cc = (xc[j] - m) - l,
                       cd = (xd[j] - m) - l;
            sdb[j] += (double)((ga[j] + gb[j]) + (gc[j] + gd[j]));
            sdg[j] += (double)((ga[j] * ca + gb[j] * cb) + (gc[j] * cc + gd[j] * cd));
        }
    }
    for (; i < r1; i++) {
        const FASTNN_T *g = dout + i * d, *xr = x + i * d;
        for (j = 0; j < d; j++) {
            sdb[j] += (double)g[j];
            sdg[j] += (double)(g[j] * ((xr[j] - mhi[j]) - mlo[j]));
        }
    }
    for (j = 0; j < d; j++) bad |= !(fabs(sdb[j]) <= DBL_MAX) | !(fabs(sdg[j]) <= DBL_MAX);
    return !bad;
}

/* Gradient sums of rows [r0, r1): sdb[j] = sum(dout), sdg[j] = sum(dout * (x - mean)).
 * With dx != NULL (test mode, where dx does not depend on the sums) also dx = a * dout. */
static void FASTNN_NAME(bn_rows_grad_sums)(
    const FASTNN_T *FASTNN_RESTRICT dout, const FASTNN_T *FASTNN_RESTRICT x, ptrdiff_t d,
    ptrdiff_t r0, ptrdiff_t r1, const double *FASTNN_RESTRICT mean,
    double *FASTNN_RESTRICT sdb, double *FASTNN_RESTRICT sdg,
    FASTNN_T *FASTNN_RESTRICT dx, const double *FASTNN_RESTRICT a)
{
    ptrdiff_t i, j;
    for (j = 0; j < d; j++) { sdb[j] = 0.0; sdg[j] = 0.0; }
    if (dx == NULL) {
        for (i = r0; i + 2 <= r1; i += 2) {  /* two rows per sweep of the accumulators */
            const FASTNN_T *g = dout + i * d, *xr = x + i * d, *g2 = g + d, *x2 = xr + d;
            for (j = 0; j < d; j++) {
                double ga = (double)g[j], gb = (double)g2[j], m = mean[j];
                sdb[j] += ga + gb;
                sdg[j] += ga * ((double)xr[j] - m) + gb * ((double)x2[j] - m);
            }
        }
        for (; i < r1; i++) {
            const FASTNN_T *g = dout + i * d, *xr = x + i * d;
            for (j = 0; j < d; j++) {
                double gj = (double)g[j];
                sdb[j] += gj;
                sdg[j] += gj * ((double)xr[j] - mean[j]);
            }
        }
    } else {
        for (i = r0; i < r1; i++) {
            const FASTNN_T *g = dout + i * d, *xr = x + i * d;
            FASTNN_T *o = dx + i * d;
            for (j = 0; j < d; j++) {
                double gj = (double)g[j];
                sdb[j] += gj;
                sdg[j] += gj * ((double)xr[j] - mean[j]);
                o[j] = (FASTNN_T)(a[j] * gj);
            }
        }
    }
}

/* grad_dots at the width of FASTNN_T: c = (v - mhi) - mlo and g * c in FASTNN_T, groups of four
 * vectors added into the double lanes (float32: ~5e-7 relative, as in the rows loops).
 * Returns 0 when a sum is not finite (the caller redoes the segment in double). */
static inline int FASTNN_NAME(bn_grad_dots_wide)(const FASTNN_T *FASTNN_RESTRICT g,
                                     const FASTNN_T *FASTNN_RESTRICT v, ptrdiff_t n, FASTNN_T mhi,
                                     FASTNN_T mlo, double *sb, double *sg)
{
    double accb[FASTNN_BN_LANES] = {0.0}, accg[FASTNN_BN_LANES] = {0.0}, tb = 0.0, tg = 0.0;
    ptrdiff_t i = 0;
    for (; i + 4 * FASTNN_BN_LANES <= n; i += 4 * FASTNN_BN_LANES) {
        const FASTNN_T *g0 = g + i, *g1 = g0 + FASTNN_BN_LANES, *g2 = g1 + FASTNN_BN_LANES,
                       *g3 = g2 + FASTNN_BN_LANES;
        const FASTNN_T *v0 = v + i, *v1 = v0 + FASTNN_BN_LANES, *v2 = v1 + FASTNN_BN_LANES,
                       *v3 = v2 + FASTNN_BN_LANES;
        for (int u = 0; u < FASTNN_BN_LANES; u++) {
            const FASTNN_T c0 = (v0[u] - mhi) - mlo, c1 = (v1[u] - mhi) - mlo,
                       c2 = (v2[u] - mhi) - mlo, c3 = (v3[u] - mhi) - mlo;
            accb[u] += (double)((g0[u] + g1[u]) + (g2[u] + g3[u]));
            accg[u] += (double)((g0[u] * c0 + g1[u] * c1) + (g2[u] * c2 + g3[u] * c3));
        }
    }
    for (; i < n; i++) {
        tb += (double)g[i];
        tg += (double)(g[i] * ((v[i] - mhi) - mlo));
    }
    *sb = tb + fastnn_bn_lanes_total(accb);
    *sg = tg + fastnn_bn_lanes_total(accg);
    return fabs(*sb) <= DBL_MAX && fabs(*sg) <= DBL_MAX;
}

static void FASTNN_NAME(bn_segs_grad_sums)(
    const FASTNN_T *FASTNN_RESTRICT dout, const FASTNN_T *FASTNN_RESTRICT x, ptrdiff_t c,
    ptrdiff_t s,
    ptrdiff_t k0, ptrdiff_t k1, const double *FASTNN_RESTRICT mean,
    double *FASTNN_RESTRICT sdb, double *FASTNN_RESTRICT sdg,
    FASTNN_T *FASTNN_RESTRICT dx, const double *FASTNN_RESTRICT a,
    const FASTNN_T *FASTNN_RESTRICT co)
{
    ptrdiff_t j;
    for (j = 0; j < c; j++) { sdb[j] = 0.0; sdg[j] = 0.0; }
    for (ptrdiff_t k = k0; k < k1; k++) {
        const FASTNN_T *g = dout + k * s, *xs = x + k * s;
        double sb, sg;
        j = k % c;
        /* in train mode, at the width of FASTNN_T first (float32: twice the lanes of double) */
        if (dx != NULL || sizeof(FASTNN_T) == sizeof(double) ||
            !FASTNN_NAME(bn_grad_dots_wide)(g, xs, s, co[j], co[c + j], &sb, &sg))
            FASTNN_NAME(bn_grad_dots)(g, xs, s, mean[j], &sb, &sg);
        if (dx != NULL) {
            FASTNN_T *o = dx + k * s;
            const double aj = a[j];
            for (ptrdiff_t i = 0; i < s; i++) o[i] = (FASTNN_T)(aj * (double)g[i]);
        }
        sdb[j] += sb;
        sdg[j] += sg;
    }
}

/* Train-mode dx in the element type: with co = [mhi, mlo, inv_std, a, cb, cg] (6 arrays),
 * xhat = ((x - mhi) - mlo) * inv_std and dx = a * ((dout - cb) - xhat * cg), where
 * a = gamma * inv_std, cb = mean(dout), cg = mean(dout * xhat). */
static void FASTNN_NAME(bn_rows_dx)(
    const FASTNN_T *FASTNN_RESTRICT dout, const FASTNN_T *FASTNN_RESTRICT x,
    FASTNN_T *FASTNN_RESTRICT dx,
    ptrdiff_t d, ptrdiff_t r0, ptrdiff_t r1, const FASTNN_T *FASTNN_RESTRICT co)
{
    const FASTNN_T *mhi = co, *mlo = co + d, *is = co + 2 * d, *a = co + 3 * d, *cb = co + 4 * d,
               *cg = co + 5 * d;
    ptrdiff_t i = r1;
    /* Blocks of four rows per load of the six coefficients, last to first: the gradient
     * sums pass just read the end of x and dout (together twice the size of x). */
    while (i - 4 >= r0) {
        i -= 4;
        const FASTNN_T *g0 = dout + i * d, *g1 = g0 + d, *g2 = g1 + d, *g3 = g2 + d;
        const FASTNN_T *x0 = x + i * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        FASTNN_T *o0 = dx + i * d, *o1 = o0 + d, *o2 = o1 + d, *o3 = o2 + d;
        for (ptrdiff_t j = 0; j < d; j++) {
            const FASTNN_T h = mhi[j], l = mlo[j], s = is[j], aa = a[j], b = cb[j], g = cg[j];
            o0[j] = FASTNN_BN_DX_EXPR(g0[j], x0[j], h, l, s, aa, b, g);
            o1[j] = FASTNN_BN_DX_EXPR(g1[j], x1[j], h, l, s, aa, b, g);
            o2[j] = FASTNN_BN_DX_EXPR(g2[j], x2[j], h, l, s, aa, b, g);
            o3[j] = FASTNN_BN_DX_EXPR(g3[j], x3[j], h, l, s, aa, b, g);
        }
    }
    while (i > r0) {
        i--;
        const FASTNN_T *g = dout + i * d, *xr = x + i * d;
        FASTNN_T *o = dx + i * d;
        for (ptrdiff_t j = 0; j < d; j++)
            o[j] = FASTNN_BN_DX_EXPR(g[j], xr[j], mhi[j], mlo[j], is[j], a[j], cb[j], cg[j]);
    }
}

static void FASTNN_NAME(bn_segs_dx)(
    const FASTNN_T *FASTNN_RESTRICT dout, const FASTNN_T *FASTNN_RESTRICT x,
    FASTNN_T *FASTNN_RESTRICT dx,
    ptrdiff_t c, ptrdiff_t s, ptrdiff_t k0, ptrdiff_t k1, const FASTNN_T *FASTNN_RESTRICT co)
{
    for (ptrdiff_t k = k1 - 1; k >= k0; k--) {
        const FASTNN_T *g = dout + k * s, *xs = x + k * s;
        FASTNN_T *o = dx + k * s;
        const ptrdiff_t j = k % c;
        const FASTNN_T mhi = co[j], mlo = co[c + j], is = co[2 * c + j], a = co[3 * c + j],
                   cb = co[4 * c + j], cg = co[5 * c + j];
        for (ptrdiff_t i = 0; i < s; i++) o[i] = FASTNN_BN_DX_EXPR(g[i], xs[i], mhi, mlo, is, a,
                                                                   cb, cg);
    }
}

/* Train-mode dx in double: dx = a * dout + b * (x - mean) + cc, dco = [a, b, cc]. */
static void FASTNN_NAME(bn_rows_dx_exact)(
    const FASTNN_T *FASTNN_RESTRICT dout, const FASTNN_T *FASTNN_RESTRICT x,
    FASTNN_T *FASTNN_RESTRICT dx,
    ptrdiff_t d, ptrdiff_t r0, ptrdiff_t r1, const double *FASTNN_RESTRICT mean,
    const double *FASTNN_RESTRICT dco)
{
    const double *a = dco, *b = dco + d, *cc = dco + 2 * d;
    for (ptrdiff_t i = r1 - 1; i >= r0; i--) {
        const FASTNN_T *g = dout + i * d, *xr = x + i * d;
        FASTNN_T *o = dx + i * d;
        for (ptrdiff_t j = 0; j < d; j++)
            o[j] = (FASTNN_T)(a[j] * (double)g[j] + b[j] * ((double)xr[j] - mean[j]) + cc[j]);
    }
}

static void FASTNN_NAME(bn_segs_dx_exact)(
    const FASTNN_T *FASTNN_RESTRICT dout, const FASTNN_T *FASTNN_RESTRICT x,
    FASTNN_T *FASTNN_RESTRICT dx,
    ptrdiff_t c, ptrdiff_t s, ptrdiff_t k0, ptrdiff_t k1, const double *FASTNN_RESTRICT mean,
    const double *FASTNN_RESTRICT dco)
{
    for (ptrdiff_t k = k1 - 1; k >= k0; k--) {
        const FASTNN_T *g = dout + k * s, *xs = x + k * s;
        FASTNN_T *o = dx + k * s;
        const ptrdiff_t j = k % c;
        const double m = mean[j], aj = dco[j], bj = dco[c + j], cj = dco[2 * c + j];
        for (ptrdiff_t i = 0; i < s; i++)
            o[i] = (FASTNN_T)(aj * (double)g[i] + bj * ((double)xs[i] - m) + cj);
    }
}

/* ---- drivers: thread team, per-thread partial statistics, merge, element pass ---- */

/* Per-thread statistics for the units [u0, u1) (rows when s == 1, else segments). */
static void FASTNN_NAME(bn_stats_part)(const FASTNN_T *x, ptrdiff_t c, ptrdiff_t s, ptrdiff_t u0,
                           ptrdiff_t u1, double *part)
{
    if (s == 1)
        FASTNN_NAME(bn_rows_stats)(x, c, u0, u1, part, part + c, part + 2 * c, part + 3 * c,
                                   part + 4 * c,
                       (FASTNN_T *)(part + 5 * c));
    else
        FASTNN_NAME(bn_segs_stats)(x, c, s, u0, u1, part, part + c, part + 2 * c);
}

/* 1 when the element passes may run in FASTNN_T: always for double; for float when no
 * deviation from the mean can overflow (sqrt(m2) bounds max |x - mean|; NaN counts as
 * safe, it propagates either way). */
static int FASTNN_NAME(bn_wide_ok)(const double *m2, ptrdiff_t c)
{
    if (sizeof(FASTNN_T) == sizeof(double)) return 1;
    for (ptrdiff_t j = 0; j < c; j++)
        if (m2[j] > FASTNN_BN_WIDE_LIMIT * FASTNN_BN_WIDE_LIMIT) return 0;
    return 1;
}

static void FASTNN_NAME(bn_normalize_part)(const FASTNN_T *x, FASTNN_T *out, ptrdiff_t c,
                                           ptrdiff_t s,
                               ptrdiff_t u0, ptrdiff_t u1, int wide, const FASTNN_T *co,
                               const double *mean, const double *dco)
{
    if (wide && s == 1)
        FASTNN_NAME(bn_rows_normalize)(x, out, c, u0, u1, co);
    else if (wide)
        FASTNN_NAME(bn_segs_normalize)(x, out, c, s, u0, u1, co);
    else if (s == 1)
        FASTNN_NAME(bn_rows_normalize_exact)(x, out, c, u0, u1, mean, dco);
    else
        FASTNN_NAME(bn_segs_normalize_exact)(x, out, c, s, u0, u1, mean, dco);
}

/* Coefficients of the normalise pass: co = [mhi, mlo, scale, shift] in FASTNN_T (mean = mhi +
 * mlo, a two-term split of the double mean), dco = [scale, shift] in double. */
static void FASTNN_NAME(bn_set_affine)(FASTNN_T *co, double *dco, ptrdiff_t c, const double *mean,
                           const double *inv_std, const FASTNN_T *gamma, const FASTNN_T *beta)
{
    for (ptrdiff_t j = 0; j < c; j++) {
        const FASTNN_T hi = (FASTNN_T)mean[j];
        const double scale = (double)gamma[j] * inv_std[j];
        co[j] = hi;
        co[c + j] = (FASTNN_T)(mean[j] - (double)hi);
        co[2 * c + j] = (FASTNN_T)scale;
        co[3 * c + j] = beta[j];
        dco[j] = scale;
        dco[c + j] = (double)beta[j];
    }
}

/* Merge the threads' partials into mean, 1/std and the running statistics (m2 is left in
 * the first thread's slot for wide_ok). */
static void FASTNN_NAME(bn_finish_stats)(double *scratch, ptrdiff_t stride, int nthreads,
                                         ptrdiff_t c,
                             double eps, double momentum, const FASTNN_T *rm_in,
                             const FASTNN_T *rv_in, FASTNN_T *rm_out, FASTNN_T *rv_out,
                             double *mean,
                             double *inv_std)
{
    for (ptrdiff_t j = 0; j < c; j++) {
        double n = 0.0, m = 0.0, q = 0.0, var;
        for (int t = 0; t < nthreads; t++) {
            const double *part = scratch + t * stride;
            fastnn_bn_merge(&n, &m, &q, part[j], part[c + j], part[2 * c + j]);
        }
        var = q / n;  /* biased batch variance (CS231n and PyTorch's normalisation) */
        mean[j] = m;
        inv_std[j] = 1.0 / sqrt(var + eps);
        rm_out[j] = (FASTNN_T)(momentum * (double)rm_in[j] + (1.0 - momentum) * m);
        rv_out[j] = (FASTNN_T)(momentum * (double)rv_in[j] + (1.0 - momentum) * var);
        scratch[2 * c + j] = q;
    }
}

/* The train-mode normalise pass: streaming stores (stream != 0, see
 * FASTNN_NAME(fastnn_bn_stream_level)) for a
 * 2-d batch, else normalize_part. */
static void FASTNN_NAME(bn_normalize_train_part)(const FASTNN_T *x, FASTNN_T *out, ptrdiff_t c,
                                                 ptrdiff_t s,
                                     ptrdiff_t u0, ptrdiff_t u1, int wide, int stream,
                                     const FASTNN_T *co, const double *mean, const double *dco)
{
#if FASTNN_BN_STREAMS && FASTNN_DTYPE == 32
    if (stream && s == 1) {
        FASTNN_NAME(bn_stream_normalize)(x, out, c, u0, u1, co);
        return;
    }
#endif
    FASTNN_NAME(bn_normalize_part)(x, out, c, s, u0, u1, wide, co, mean, dco);
}

/* Streaming level of a train-mode element pass over n * c * s elements (0: ordinary
 * stores).  Only the element-type ("wide") loops have streaming twins: normalise for 2-d
 * float32 batches (float64 measured slower at (4096, 1024)), dx for image batches of both
 * dtypes (the callees check which). */
static int FASTNN_NAME(fastnn_bn_stream_level)(ptrdiff_t n, ptrdiff_t c, ptrdiff_t s, int wide)
{
    if (!wide || (sizeof(FASTNN_T) != sizeof(float) && s == 1)) return 0;
    return fastnn_bn_stream_level((size_t)n * (size_t)c * (size_t)s * sizeof(FASTNN_T),
                           (size_t)(s == 1 ? c : s) * sizeof(FASTNN_T));
}

/* Train-mode forward.  x, out: (n, c, s); gamma, beta, running stats: (c,).  Writes out,
 * the new running statistics, mean and inv_std (double, for the backward).  Returns 0, or
 * -1 when the scratch allocation fails. */
static int FASTNN_NAME(bn_forward_train)(const FASTNN_T *x, FASTNN_T *out, ptrdiff_t n,
                                         ptrdiff_t c, ptrdiff_t s,
                             const FASTNN_T *gamma, const FASTNN_T *beta, double eps,
                             double momentum,
                             const FASTNN_T *rm_in, const FASTNN_T *rv_in, FASTNN_T *rm_out,
                             FASTNN_T *rv_out, double *mean, double *inv_std, int nt)
{
    const ptrdiff_t units = s == 1 ? n : n * c, stride = fastnn_bn_stride(c, 6);
    double *scratch, *dco;
    FASTNN_T *co;
    int wide = 1, stream = 0;
    if (nt < 1) nt = 1;
    if (nt > units) nt = (int)(units > 0 ? units : 1);
    scratch = (double *)malloc(sizeof(double) * (size_t)(stride * nt + 6 * c));
    if (scratch == NULL) return -1;
    dco = scratch + stride * nt;
    co = (FASTNN_T *)(dco + 2 * c);
    if (nt == 1) {
        FASTNN_NAME(bn_stats_part)(x, c, s, 0, units, scratch);
        FASTNN_NAME(bn_finish_stats)(scratch, stride, 1, c, eps, momentum, rm_in, rv_in, rm_out,
                                     rv_out,
                         mean, inv_std);
        wide = FASTNN_NAME(bn_wide_ok)(scratch + 2 * c, c);
        stream = FASTNN_NAME(fastnn_bn_stream_level)(n, c, s, wide);
        FASTNN_NAME(bn_set_affine)(co, dco, c, mean, inv_std, gamma, beta);
        FASTNN_NAME(bn_normalize_train_part)(x, out, c, s, 0, units, wide, stream, co, mean, dco);
    } else {
#pragma omp parallel num_threads(nt)
        {
            const int t = FASTNN_BN_THREAD_NUM(), team = FASTNN_BN_NUM_THREADS();
            const ptrdiff_t u0 = units * t / team, u1 = units * (t + 1) / team;
            FASTNN_NAME(bn_stats_part)(x, c, s, u0, u1, scratch + t * stride);
#pragma omp barrier
#pragma omp single
            {
                FASTNN_NAME(bn_finish_stats)(scratch, stride, team, c, eps, momentum, rm_in, rv_in,
                                             rm_out,
                                 rv_out, mean, inv_std);
                wide = FASTNN_NAME(bn_wide_ok)(scratch + 2 * c, c);
                stream = FASTNN_NAME(fastnn_bn_stream_level)(n, c, s, wide);
                FASTNN_NAME(bn_set_affine)(co, dco, c, mean, inv_std, gamma, beta);
            }
            FASTNN_NAME(bn_normalize_train_part)(x, out, c, s, u0, u1, wide, stream, co, mean, dco);
        }
    }
    free(scratch);
    return 0;
}

/* 1 when no element of v[0:n] is inf or NaN. */
static int FASTNN_NAME(bn_all_finite)(const FASTNN_T *FASTNN_RESTRICT v, ptrdiff_t n)
{
    int bad = 0;
    for (ptrdiff_t i = 0; i < n; i++) bad |= !(v[i] - v[i] == 0);  /* an OR vectorises */
    return !bad;
}

/* The test-mode normalise pass.  For float32 nothing bounds x here (no batch statistics),
 * so each block of rows (segments) normalised in float is checked, and a row (segment)
 * with a non-finite output is redone in double from x (out must not alias x): an
 * intermediate may have overflowed where the result does not; NaN or inf data just take
 * the slower path. */
static void FASTNN_NAME(bn_normalize_checked)(const FASTNN_T *x, FASTNN_T *out, ptrdiff_t c,
                                              ptrdiff_t s,
                                  ptrdiff_t u0, ptrdiff_t u1, const FASTNN_T *co,
                                  const double *mean, const double *dco)
{
    const ptrdiff_t len = s == 1 ? c : s;  /* elements per unit */
    ptrdiff_t block;
    if (sizeof(FASTNN_T) == sizeof(double)) {  /* double is the exact pass already */
        FASTNN_NAME(bn_normalize_part)(x, out, c, s, u0, u1, 1, co, mean, dco);
        return;
    }
    block = 4096 / (len > 0 ? len : 1);
    if (block < 4) block = 4;
    for (ptrdiff_t b0 = u0; b0 < u1; b0 += block) {
        const ptrdiff_t b1 = b0 + block < u1 ? b0 + block : u1;
        FASTNN_NAME(bn_normalize_part)(x, out, c, s, b0, b1, 1, co, mean, dco);
        if (FASTNN_NAME(bn_all_finite)(out + b0 * len, (b1 - b0) * len)) continue;
        for (ptrdiff_t u = b0; u < b1; u++)
            if (!FASTNN_NAME(bn_all_finite)(out + u * len, len))
                FASTNN_NAME(bn_normalize_part)(x, out, c, s, u, u + 1, 0, co, mean, dco);
    }
}

/* Test-mode forward: normalise with the running statistics (also stored as mean and
 * inv_std for the backward). */
static int FASTNN_NAME(bn_forward_test)(const FASTNN_T *x, FASTNN_T *out, ptrdiff_t n, ptrdiff_t c,
                                        ptrdiff_t s,
                            const FASTNN_T *gamma, const FASTNN_T *beta, double eps,
                            const FASTNN_T *rm, const FASTNN_T *rv, double *mean, double *inv_std,
                            int nt)
{
    const ptrdiff_t units = s == 1 ? n : n * c;
    double *dco = (double *)malloc(sizeof(double) * (size_t)(6 * c));
    FASTNN_T *co;
    if (dco == NULL) return -1;
    co = (FASTNN_T *)(dco + 2 * c);
    for (ptrdiff_t j = 0; j < c; j++) {
        mean[j] = (double)rm[j];
        inv_std[j] = 1.0 / sqrt((double)rv[j] + eps);
    }
    FASTNN_NAME(bn_set_affine)(co, dco, c, mean, inv_std, gamma, beta);
    if (nt > units) nt = (int)(units > 0 ? units : 1);
    if (nt <= 1) {
        FASTNN_NAME(bn_normalize_checked)(x, out, c, s, 0, units, co, mean, dco);
    } else {
#pragma omp parallel num_threads(nt)
        {
            const int t = FASTNN_BN_THREAD_NUM(), team = FASTNN_BN_NUM_THREADS();
            FASTNN_NAME(bn_normalize_checked)(x, out, c, s, units * t / team,
                                              units * (t + 1) / team, co,
                                  mean, dco);
        }
    }
    free(dco);
    return 0;
}

static void FASTNN_NAME(bn_grad_sums_part)(const FASTNN_T *dout, const FASTNN_T *x, ptrdiff_t c,
                                           ptrdiff_t s,
                               ptrdiff_t u0, ptrdiff_t u1, const double *mean, double *part,
                               FASTNN_T *dx, const double *a, const FASTNN_T *co)
{
    if (s == 1 && dx == NULL) {
        if (!FASTNN_NAME(bn_rows_grad_sums_wide)(dout, x, c, u0, u1, co, co + c, part, part + c))
            FASTNN_NAME(bn_rows_grad_sums)(dout, x, c, u0, u1, mean, part, part + c, NULL, a);
    } else if (s == 1)
        FASTNN_NAME(bn_rows_grad_sums)(dout, x, c, u0, u1, mean, part, part + c, dx, a);
    else
        FASTNN_NAME(bn_segs_grad_sums)(dout, x, c, s, u0, u1, mean, part, part + c, dx, a, co);
}

static void FASTNN_NAME(bn_dx_part)(const FASTNN_T *dout, const FASTNN_T *x, FASTNN_T *dx,
                                    ptrdiff_t c, ptrdiff_t s,
                        ptrdiff_t u0, ptrdiff_t u1, int wide, int stream, const FASTNN_T *co,
                        const double *mean, const double *dco)
{
#if FASTNN_BN_STREAMS
    if (stream && s > 1) {
        FASTNN_NAME(bn_stream_dx_segs)(dout, x, dx, c, s, u0, u1, co);
        return;
    }
#endif
    if (wide && s == 1)
        FASTNN_NAME(bn_rows_dx)(dout, x, dx, c, u0, u1, co);
    else if (wide)
        FASTNN_NAME(bn_segs_dx)(dout, x, dx, c, s, u0, u1, co);
    else if (s == 1)
        FASTNN_NAME(bn_rows_dx_exact)(dout, x, dx, c, u0, u1, mean, dco);
    else
        FASTNN_NAME(bn_segs_dx_exact)(dout, x, dx, c, s, u0, u1, mean, dco);
}

/* Sum the threads' gradient partials into dgamma, dbeta and, in train mode, the
 * coefficients of dx = gamma*inv_std * (dout - mean(dout) - xhat * mean(dout*xhat)):
 * co = [mhi, mlo, inv_std, a, cb, cg] in FASTNN_T and dco = [a, b, cc] in double for
 * dx = a*dout + b*(x - mean) + cc.  Returns the wide flag. */
static int FASTNN_NAME(bn_finish_grads)(double *scratch, ptrdiff_t stride, int nthreads,
                                        ptrdiff_t c,
                            double count, double eps, const double *mean,
                            const double *inv_std, int train, const double *a, FASTNN_T *co,
                            double *dco, FASTNN_T *dgamma, FASTNN_T *dbeta)
{
    int wide = 1;
    for (ptrdiff_t j = 0; j < c; j++) {
        double sb = 0.0, sg = 0.0, dg, is = inv_std[j];
        for (int t = 0; t < nthreads; t++) {
            sb += scratch[t * stride + j];
            sg += scratch[t * stride + c + j];
        }
        dg = sg * is;
        dgamma[j] = (FASTNN_T)dg;
        dbeta[j] = (FASTNN_T)sb;
        if (train) {
            /* count * var bounds (x - mean)^2, as in wide_ok */
            const double m2 = count * (1.0 / (is * is) - eps);
            if (sizeof(FASTNN_T) != sizeof(double) &&
                m2 > FASTNN_BN_WIDE_LIMIT * FASTNN_BN_WIDE_LIMIT) wide = 0;
            co[3 * c + j] = (FASTNN_T)a[j];
            co[4 * c + j] = (FASTNN_T)(sb / count);
            co[5 * c + j] = (FASTNN_T)(dg / count);
            dco[c + j] = -a[j] * is * dg / count;
            dco[2 * c + j] = -a[j] * sb / count;
        }
    }
    return wide;
}

/* Backward.  dout, x, dx: (n, c, s); mean, inv_std: (c,) double from the forward. */
static int FASTNN_NAME(bn_backward)(const FASTNN_T *dout, const FASTNN_T *x, FASTNN_T *dx,
                                    ptrdiff_t n, ptrdiff_t c,
                        ptrdiff_t s, const FASTNN_T *gamma, const double *mean,
                        const double *inv_std, double eps, int train, FASTNN_T *dgamma,
                        FASTNN_T *dbeta, int nt)
{
    const ptrdiff_t units = s == 1 ? n : n * c, stride = fastnn_bn_stride(c, 2);
    const double count = (double)n * (double)s;
    double *scratch, *dco;
    FASTNN_T *co, *dx_in_sums = train ? NULL : dx;
    int wide = 1, stream = 0;
    if (nt < 1) nt = 1;
    if (nt > units) nt = (int)(units > 0 ? units : 1);
    scratch = (double *)calloc((size_t)(stride * nt + 9 * c), sizeof(double));
    if (scratch == NULL) return -1;
    dco = scratch + stride * nt;  /* dco[0:c] = a = gamma * inv_std, used by both modes */
    co = (FASTNN_T *)(dco + 3 * c);
    for (ptrdiff_t j = 0; j < c; j++) {
        const FASTNN_T hi = (FASTNN_T)mean[j];
        dco[j] = (double)gamma[j] * inv_std[j];
        co[j] = hi;
        co[c + j] = (FASTNN_T)(mean[j] - (double)hi);
        co[2 * c + j] = (FASTNN_T)inv_std[j];
    }
    if (nt == 1) {
        FASTNN_NAME(bn_grad_sums_part)(dout, x, c, s, 0, units, mean, scratch, dx_in_sums, dco, co);
        wide = FASTNN_NAME(bn_finish_grads)(scratch, stride, 1, c, count, eps, mean, inv_std,
                                            train, dco,
                                co, dco, dgamma, dbeta);
        stream = FASTNN_NAME(fastnn_bn_stream_level)(n, c, s, wide);
        if (train) FASTNN_NAME(bn_dx_part)(dout, x, dx, c, s, 0, units, wide, stream, co, mean,
                                           dco);
    } else {
#pragma omp parallel num_threads(nt)
        {
            const int t = FASTNN_BN_THREAD_NUM(), team = FASTNN_BN_NUM_THREADS();
            const ptrdiff_t u0 = units * t / team, u1 = units * (t + 1) / team;
            FASTNN_NAME(bn_grad_sums_part)(dout, x, c, s, u0, u1, mean, scratch + t * stride,
                                           dx_in_sums,
                               dco, co);
#pragma omp barrier
#pragma omp single
            {
                wide = FASTNN_NAME(bn_finish_grads)(scratch, stride, team, c, count, eps, mean,
                                                    inv_std,
                                        train, dco, co, dco, dgamma, dbeta);
                stream = FASTNN_NAME(fastnn_bn_stream_level)(n, c, s, wide);
            }
            if (train) FASTNN_NAME(bn_dx_part)(dout, x, dx, c, s, u0, u1, wide, stream, co, mean,
                                               dco);
        }
    }
    free(scratch);
    return 0;
}

#include "fastnn_dtype_end.h"
