/* Ends one dtype instantiation of a template header (see fastnn_dtype_begin.h). */
#undef FASTNN_T
#undef FASTNN_T_MAX
#undef FASTNN_NAME
#undef FASTNN_MACRO
#undef FASTNN_UINT
#undef FASTNN_T_MANT_BITS
#undef FASTNN_T_EXP_BIAS
#undef FASTNN_DTYPE
