/* Layer normalization rows for one dtype, written once: layernorm_kernels.h instantiates
 * them per dtype (fastnn_dtype_begin.h: FASTNN_T, FASTNN_T_MAX, FASTNN_NAME).
 *
 * Each row is normalised over its D features.  A row (D elements) stays in L1/L2 while it is
 * read again, so the statistics take two passes: the mean, then the mean of squared
 * deviations (never E[x^2] - E[x]^2).  Each pass sums in FASTNN_LN_LANES partials of the
 * dtype (vector registers at the dtype's width; a single accumulator would serialise on the
 * add latency, and -ffast-math, which would reassociate it, is off), added in double at the
 * end; the mean pass sums x minus a shift near the mean, so that the partials hold the
 * data's spread, not its offset.  A row whose partials overflow or meet a NaN (float32 data near FLT_MAX, inf, NaN)
 * is summed again in double, as the twin does.
 *
 * The element passes that write out and dx run in the dtype (float32 at twice the vector
 * width of double), with the mean split as hi + lo; rows whose deviations could overflow the
 * dtype take a double pass instead (ln_fits).
 *
 * Backward, with xhat = (x - mean) * rstd and g = dout * gamma:
 *   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
 *   dgamma += column sums of dout * xhat,  dbeta += column sums of dout (double).
 */

#include <math.h>
#include <string.h>

#include "fastnn_simd.h"
#include "layernorm_dispatch.h"

#include "fastnn_dtype_begin.h"

/* Sum of row[j] - shift (square: of its square) over j < D, in double. */
static double FASTNN_NAME(ln_sum)(const FASTNN_T *row, fastnn_index D, double shift, int square) {
    double part[FASTNN_LN_LANES] = {0.0};
    fastnn_index j = 0;
    if (square) {
        for (; j + FASTNN_LN_LANES <= D; j += FASTNN_LN_LANES)
            for (int k = 0; k < FASTNN_LN_LANES; k++) {
                const double d = (double)row[j + k] - shift;
                part[k] += d * d;
            }
        for (; j < D; j++) {
            const double d = (double)row[j] - shift;
            part[0] += d * d;
        }
    } else {
        for (; j + FASTNN_LN_LANES <= D; j += FASTNN_LN_LANES)
            for (int k = 0; k < FASTNN_LN_LANES; k++) part[k] += (double)row[j + k] - shift;
        for (; j < D; j++) part[0] += (double)row[j] - shift;
    }
    double total = 0.0;
    for (int k = 0; k < FASTNN_LN_LANES; k++) total += part[k];
    return total;
}

#ifdef FASTNN_LANE_VECTORS
typedef FASTNN_T FASTNN_NAME(ln_vec) __attribute__((vector_size(32)));
#endif

/* The same sums at the dtype's vector width: d = (row[j] - hi) - lo (hi + lo = the shift, so
 * float32 keeps the digits of x - shift), in FASTNN_LN_LANES dtype partials added in double
 * at the end.  Not finite when a partial overflowed or met a NaN.  (One accumulator per
 * loop: gcc vectorises two in one loop with lane permutes.)
 * Where FASTNN_LANE_VECTORS is set, the partials are explicit vectors (fastnn_simd.h). */
static double FASTNN_NAME(ln_sum_fast)(const FASTNN_T *row, fastnn_index D, FASTNN_T hi,
                                       FASTNN_T lo, int square) {
    FASTNN_T part[FASTNN_LN_LANES] = {0};
    fastnn_index j = 0;
#ifdef FASTNN_LANE_VECTORS
    enum { W = 32 / sizeof(FASTNN_T), Q = FASTNN_LN_LANES / W };
    FASTNN_NAME(ln_vec) vp[Q];
    memcpy(vp, part, sizeof vp);
    for (; j + FASTNN_LN_LANES <= D; j += FASTNN_LN_LANES)
        for (int q = 0; q < Q; q++) {
            FASTNN_NAME(ln_vec) d = FASTNN_LOAD_VECTOR(FASTNN_NAME(ln_vec), row + j + q * W);
            d = (d - hi) - lo;
            if (square) d *= d;
            vp[q] += d;
        }
    memcpy(part, vp, sizeof vp);
#endif
    if (square) {
        for (; j + FASTNN_LN_LANES <= D; j += FASTNN_LN_LANES)
            for (int k = 0; k < FASTNN_LN_LANES; k++) {
                const FASTNN_T d = (row[j + k] - hi) - lo;
                part[k] += d * d;
            }
        for (; j < D; j++) {
            const FASTNN_T d = (row[j] - hi) - lo;
            part[0] += d * d;
        }
    } else {
        for (; j + FASTNN_LN_LANES <= D; j += FASTNN_LN_LANES)
            for (int k = 0; k < FASTNN_LN_LANES; k++) part[k] += (row[j + k] - hi) - lo;
        for (; j < D; j++) part[0] += (row[j] - hi) - lo;
    }
    double total = 0.0;
    for (int k = 0; k < FASTNN_LN_LANES; k++) total += (double)part[k];
    return total;
}

/* The row's mean and variance (see the top of the file): the mean from x - shift, shift the
 * mean of the first few elements rounded to the dtype (x - shift is exact for x near it, and
 * the partials hold deviations that nearly cancel), then the mean square of (x - hi) - lo
 * with hi + lo = the mean. */
static void FASTNN_NAME(ln_moments)(const FASTNN_T *row, fastnn_index D, double *mean,
                                    double *var) {
    if (D > 0) {
        const fastnn_index head = D < FASTNN_LN_LANES ? D : FASTNN_LN_LANES;
        double first = 0.0;
        for (fastnn_index j = 0; j < head; j++) first += (double)row[j];
        const FASTNN_T shift = (FASTNN_T)(first / (double)head);
        const double mu =
            (double)shift + FASTNN_NAME(ln_sum_fast)(row, D, shift, 0, 0) / (double)D;
        const FASTNN_T hi = (FASTNN_T)mu, lo = (FASTNN_T)(mu - (double)hi);
        const double v = FASTNN_NAME(ln_sum_fast)(row, D, hi, lo, 1) / (double)D;
        if (isfinite(mu) && isfinite(v)) {
            *mean = mu;
            *var = v;
            return;
        }
    }
    *mean = FASTNN_NAME(ln_sum)(row, D, 0.0, 0) / (double)D;
    *var = FASTNN_NAME(ln_sum)(row, D, *mean, 1) / (double)D;
}

/* True when every x - mean of a row fits the dtype with room to spare, so the element
 * passes may run in it: |x - mean| <= std * sqrt(D) = sqrt(D) / rstd (up to eps), kept below
 * a quarter of the dtype's largest value.  Else (float32 data near FLT_MAX, an infinite or
 * NaN variance) they run in double, as the twin does. */
static inline int FASTNN_NAME(ln_fits)(fastnn_index D, double rs) {
    const double limit = (double)FASTNN_T_MAX / 4;
    return rs > 0 && sqrt((double)D) / rs < limit;
}

static void FASTNN_NAME(ln_forward)(const FASTNN_T *x, FASTNN_T *out, const FASTNN_T *gamma,
                                    const FASTNN_T *beta,
                                    double *mean, double *rstd, fastnn_index r0, fastnn_index r1,
                                    fastnn_index D, double eps) {
    for (fastnn_index r = r0; r < r1; r++) {
        const FASTNN_T *FASTNN_RESTRICT row = x + r * D;
        FASTNN_T *FASTNN_RESTRICT orow = out + r * D;
        double mu, var;
        FASTNN_NAME(ln_moments)(row, D, &mu, &var);
        const double rs = 1.0 / sqrt(var + eps);
        mean[r] = mu;
        rstd[r] = rs;
        if (FASTNN_NAME(ln_fits)(D, rs)) {
            /* the element pass at the dtype's vector width: x - mean as (x - hi) - lo with
             * hi + lo = mean, so float32 keeps the digits of x - mean */
            const FASTNN_T hi = (FASTNN_T)mu, lo = (FASTNN_T)(mu - (double)hi), s = (FASTNN_T)rs;
            FASTNN_IVDEP for (fastnn_index j = 0; j < D; j++)
                orow[j] = ((row[j] - hi) - lo) * s * gamma[j] + beta[j];
        } else {
            for (fastnn_index j = 0; j < D; j++)
                orow[j] = (FASTNN_T)(((double)row[j] - mu) * rs * (double)gamma[j] +
                                     (double)beta[j]);
        }
    }
}

/* Flushes the dtype's column sums of the last rows (block: dgamma then dbeta, D each) into
 * the double accumulators and clears them. */
static void FASTNN_NAME(ln_flush)(FASTNN_T *block, double *dgamma, double *dbeta, fastnn_index D) {
    for (fastnn_index j = 0; j < D; j++) {
        dgamma[j] += (double)block[j];
        dbeta[j] += (double)block[D + j];
        block[j] = 0;
        block[D + j] = 0;
    }
}

/* The fast row pass of ln_backward: *a = mean of g = dout * gamma and *b = mean of g * xhat
 * (FASTNN_LN_LANES partials of the dtype, each summing D / FASTNN_LN_LANES products, merged in
 * double), and the row's dout * xhat and dout added into the column sums cg and cb (which
 * hold FASTNN_LN_FLUSH rows in the dtype before going to double).  Its own function so that
 * the restrict parameters tell the compiler the arrays never overlap (without it, gcc checks
 * the overlap again every FASTNN_LN_LANES elements). */
static void FASTNN_NAME(ln_backward_sums)(const FASTNN_T *FASTNN_RESTRICT drow,
                                          const FASTNN_T *FASTNN_RESTRICT row,
                                          const FASTNN_T *FASTNN_RESTRICT gamma,
                                          FASTNN_T *FASTNN_RESTRICT cg,
                                          FASTNN_T *FASTNN_RESTRICT cb, fastnn_index D,
                                          FASTNN_T hi, FASTNN_T lo, FASTNN_T s, double *a,
                                          double *b) {
    FASTNN_T pg[FASTNN_LN_LANES] = {0}, pgx[FASTNN_LN_LANES] = {0};
    fastnn_index j = 0;
    for (; j + FASTNN_LN_LANES <= D; j += FASTNN_LN_LANES)
        for (int k = 0; k < FASTNN_LN_LANES; k++) {
            const FASTNN_T d = drow[j + k];
            const FASTNN_T xh = ((row[j + k] - hi) - lo) * s;
            const FASTNN_T g = d * gamma[j + k];
            pg[k] += g;
            pgx[k] += g * xh;
            cg[j + k] += d * xh;
            cb[j + k] += d;
        }
    for (; j < D; j++) {
        const FASTNN_T d = drow[j];
        const FASTNN_T xh = ((row[j] - hi) - lo) * s;
        const FASTNN_T g = d * gamma[j];
        pg[0] += g;
        pgx[0] += g * xh;
        cg[j] += d * xh;
        cb[j] += d;
    }
    double sum_g = 0.0, sum_gx = 0.0;
    for (int k = 0; k < FASTNN_LN_LANES; k++) {
        sum_g += (double)pg[k];
        sum_gx += (double)pgx[k];
    }
    *a = sum_g / (double)D;
    *b = sum_gx / (double)D;
}

static void FASTNN_NAME(ln_backward)(const FASTNN_T *dout, const FASTNN_T *x, FASTNN_T *dx,
                                     const FASTNN_T *gamma,
                                     const double *mean, const double *rstd, double *dgamma,
                                     double *dbeta, FASTNN_T *block, fastnn_index r0,
                                     fastnn_index r1, fastnn_index D) {
    FASTNN_T *FASTNN_RESTRICT cg = block;
    FASTNN_T *FASTNN_RESTRICT cb = block + D;
    for (fastnn_index j = 0; j < 2 * D; j++) block[j] = 0;
    for (fastnn_index r = r0; r < r1; r++) {
        const FASTNN_T *FASTNN_RESTRICT drow = dout + r * D;
        const FASTNN_T *FASTNN_RESTRICT row = x + r * D;
        FASTNN_T *FASTNN_RESTRICT dxrow = dx + r * D;
        const double mu = mean[r], rs = rstd[r];
        if (!FASTNN_NAME(ln_fits)(D, rs)) {
            /* deviations that could overflow the dtype: everything in double */
            double sum_g = 0.0, sum_gx = 0.0;
            for (fastnn_index j = 0; j < D; j++) {
                const double d = (double)drow[j];
                const double xh = ((double)row[j] - mu) * rs;
                const double g = d * (double)gamma[j];
                sum_g += g;
                sum_gx += g * xh;
                dgamma[j] += d * xh;
                dbeta[j] += d;
            }
            const double a = sum_g / (double)D, b = sum_gx / (double)D;
            for (fastnn_index j = 0; j < D; j++) {
                const double xh = ((double)row[j] - mu) * rs;
                const double g = (double)drow[j] * (double)gamma[j];
                dxrow[j] = (FASTNN_T)(rs * (g - a - xh * b));
            }
            continue;
        }
        /* at the dtype's vector width, x - mean as (x - hi) - lo */
        const FASTNN_T hi = (FASTNN_T)mu, lo = (FASTNN_T)(mu - (double)hi), s = (FASTNN_T)rs;
        double a, b;
        FASTNN_NAME(ln_backward_sums)(drow, row, gamma, cg, cb, D, hi, lo, s, &a, &b);
        fastnn_index j;
        /* dx = rstd * (g - a - xhat * b) = (g - a) * rstd - ((x - hi) - lo) * (rstd^2 b) */
        const FASTNN_T ta = (FASTNN_T)a, tb = (FASTNN_T)(rs * rs * b);
        FASTNN_IVDEP for (j = 0; j < D; j++)
            dxrow[j] = (drow[j] * gamma[j] - ta) * s - ((row[j] - hi) - lo) * tb;
        if ((r - r0) % FASTNN_LN_FLUSH == FASTNN_LN_FLUSH - 1)
            FASTNN_NAME(ln_flush)(block, dgamma, dbeta, D);
    }
    FASTNN_NAME(ln_flush)(block, dgamma, dbeta, D);
}

#include "fastnn_dtype_end.h"
