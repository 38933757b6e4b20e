/* The activation kernels of one ISA target (setup.py compiles this file once per target):
 * their table, named by FASTNN_TARGET_NAME. */
#include "fastnn_target.h"

#include "activations_dispatch.h"
#include "activations_simd.h"

const struct fastnn_activations_table FASTNN_TARGET_NAME(fastnn_activations) = {
    {fastnn_act_relu_f32, fastnn_act_relu_backward_f32,
     fastnn_act_sigmoid_f32, fastnn_act_sigmoid_backward_f32,
     fastnn_act_tanh_f32, fastnn_act_tanh_backward_f32,
     fastnn_act_leaky_relu_f32, fastnn_act_leaky_relu_backward_f32,
     fastnn_act_elu_f32, fastnn_act_elu_backward_f32},
    {fastnn_act_relu_f64, fastnn_act_relu_backward_f64,
     fastnn_act_sigmoid_f64, fastnn_act_sigmoid_backward_f64,
     fastnn_act_tanh_f64, fastnn_act_tanh_backward_f64,
     fastnn_act_leaky_relu_f64, fastnn_act_leaky_relu_backward_f64,
     fastnn_act_elu_f64, fastnn_act_elu_backward_f64},
    fastnn_act_maxout_f32,
    fastnn_act_maxout_f64,
    fastnn_act_maxout_backward_f32,
    fastnn_act_maxout_backward_f64,
};
