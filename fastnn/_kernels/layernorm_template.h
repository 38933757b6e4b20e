/* Layer normalization rows, written once and included by layernorm_target.c once per dtype
 * with LN_T (float or double) and LN_SFX (f32 or f64) defined.  No include guard on purpose.
 *
 * Each row is normalised over its D features.  A row (D elements) stays in L1/L2 while it is
 * read again, so the statistics are exact two-pass ones in double: the mean, then the mean
 * of squared deviations (never E[x^2] - E[x]^2).  Row sums use LN_LANES independent double
 * partials, which the compiler keeps in vector registers (a single accumulator would
 * serialise on the add latency; -ffast-math, which would reassociate it, is off).
 *
 * Backward, with xhat = (x - mean) * rstd and g = dout * gamma:
 *   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
 *   dgamma += column sums of dout * xhat,  dbeta += column sums of dout (double).
 */

#define LN_CAT_(a, b) a##_##b
#define LN_CAT(a, b) LN_CAT_(a, b)
#define LN(name) LN_CAT(name, LN_SFX)

#ifndef LN_LANES
#define LN_LANES 8
#endif

/* Sum of row[j] - shift over j < D, in double. */
static double LN(ln_sum)(const LN_T *row, fastnn_index D, double shift, int square) {
    double part[LN_LANES] = {0.0};
    fastnn_index j = 0;
    if (square) {
        for (; j + LN_LANES <= D; j += LN_LANES)
            for (int k = 0; k < LN_LANES; k++) {
                const double d = (double)row[j + k] - shift;
                part[k] += d * d;
            }
        for (; j < D; j++) {
            const double d = (double)row[j] - shift;
            part[0] += d * d;
        }
    } else {
        for (; j + LN_LANES <= D; j += LN_LANES)
            for (int k = 0; k < LN_LANES; k++) part[k] += (double)row[j + k] - shift;
        for (; j < D; j++) part[0] += (double)row[j] - shift;
    }
    double total = 0.0;
    for (int k = 0; k < LN_LANES; k++) total += part[k];
    return total;
}

static void LN(ln_forward)(const LN_T *x, LN_T *out, const LN_T *gamma, const LN_T *beta,
                           double *mean, double *rstd, fastnn_index r0, fastnn_index r1,
                           fastnn_index D, double eps) {
    for (fastnn_index r = r0; r < r1; r++) {
        const LN_T *FASTNN_RESTRICT row = x + r * D;
        LN_T *FASTNN_RESTRICT orow = out + r * D;
        const double mu = LN(ln_sum)(row, D, 0.0, 0) / (double)D;
        const double var = LN(ln_sum)(row, D, mu, 1) / (double)D;
        const double rs = 1.0 / sqrt(var + eps);
        mean[r] = mu;
        rstd[r] = rs;
        for (fastnn_index j = 0; j < D; j++)
            orow[j] = (LN_T)(((double)row[j] - mu) * rs * (double)gamma[j] + (double)beta[j]);
    }
}

static void LN(ln_backward)(const LN_T *dout, const LN_T *x, LN_T *dx, const LN_T *gamma,
                            const double *mean, const double *rstd, double *dgamma,
                            double *dbeta, fastnn_index r0, fastnn_index r1, fastnn_index D) {
    for (fastnn_index r = r0; r < r1; r++) {
        const LN_T *FASTNN_RESTRICT drow = dout + r * D;
        const LN_T *FASTNN_RESTRICT row = x + r * D;
        LN_T *FASTNN_RESTRICT dxrow = dx + r * D;
        double *FASTNN_RESTRICT dg = dgamma;
        double *FASTNN_RESTRICT db = dbeta;
        const double mu = mean[r], rs = rstd[r];
        double sum_g[LN_LANES] = {0.0}, sum_gx[LN_LANES] = {0.0};
        fastnn_index j = 0;
        for (; j + LN_LANES <= D; j += LN_LANES)
            for (int k = 0; k < LN_LANES; k++) {
                const double d = (double)drow[j + k];
                const double xh = ((double)row[j + k] - mu) * rs;
                const double g = d * (double)gamma[j + k];
                sum_g[k] += g;
                sum_gx[k] += g * xh;
                dg[j + k] += d * xh;
                db[j + k] += d;
            }
        for (; j < D; j++) {
            const double d = (double)drow[j];
            const double xh = ((double)row[j] - mu) * rs;
            const double g = d * (double)gamma[j];
            sum_g[0] += g;
            sum_gx[0] += g * xh;
            dg[j] += d * xh;
            db[j] += d;
        }
        double a = 0.0, b = 0.0;
        for (int k = 0; k < LN_LANES; k++) {
            a += sum_g[k];
            b += sum_gx[k];
        }
        a /= (double)D;
        b /= (double)D;
        for (j = 0; j < D; j++) {
            const double xh = ((double)row[j] - mu) * rs;
            const double g = (double)drow[j] * (double)gamma[j];
            dxrow[j] = (LN_T)(rs * (g - a - xh * b));
        }
    }
}

#undef LN
#undef LN_CAT
#undef LN_CAT_
