/* The dropout loop, written once and included by dropout_target.c once per dtype with
 * DROP_T (float or double) and DROP_SFX (f32 or f64) defined.  No include guard on purpose.
 *
 * out = x * m with m = scale (1/p in the dtype) for a kept element and 0 for a dropped one:
 * the course's x * mask, so a dropped NaN or inf still gives NaN, as there.  The forward
 * and the backward are the same loop (x = dout in the backward), the mask recomputed from
 * the key instead of stored.
 */

#define DROP_CAT_(a, b) a##_##b
#define DROP_CAT(a, b) DROP_CAT_(a, b)
#define DROP(name) DROP_CAT(name, DROP_SFX)

static void DROP(dropout_apply)(const DROP_T *FASTNN_RESTRICT x, DROP_T *FASTNN_RESTRICT out,
                                fastnn_index lo, fastnn_index hi, uint64_t key,
                                uint64_t threshold, DROP_T scale) {
    /* keep(i) = word(i) < threshold = word(i) <= limit; threshold 0 (p < 2^-33) keeps
     * nothing: every element is then multiplied by 0, as the dropped ones are. */
    const uint32_t limit = threshold ? (uint32_t)(threshold - 1) : UINT32_MAX;
    const DROP_T kept = threshold ? scale : (DROP_T)0;
    uint32_t words[FASTNN_DROPOUT_BLOCK];
    for (fastnn_index start = lo; start < hi; start += FASTNN_DROPOUT_BLOCK) {
        const fastnn_index len =
            hi - start < FASTNN_DROPOUT_BLOCK ? hi - start : FASTNN_DROPOUT_BLOCK;
        fastnn_dropout_words(key, (uint64_t)(start >> 1), words);
        const DROP_T *FASTNN_RESTRICT xs = x + start;
        DROP_T *FASTNN_RESTRICT os = out + start;
        FASTNN_IVDEP for (fastnn_index i = 0; i < len; i++)
            os[i] = xs[i] * (words[i] <= limit ? kept : (DROP_T)0);
    }
}

#undef DROP
#undef DROP_CAT
#undef DROP_CAT_
