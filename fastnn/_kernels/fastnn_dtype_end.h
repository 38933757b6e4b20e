/* Ends one dtype instantiation of a template header (see fastnn_dtype_begin.h). */
#undef FASTNN_T
#undef FASTNN_T_MAX
#undef FASTNN_NAME
#undef FASTNN_DTYPE
