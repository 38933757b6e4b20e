"""fastnn.optim (the course's optim.py API on the update kernels) against the course's own
expected arrays (the FullyConnectedNets notebook) and against its NumPy twins."""

import tracemalloc

import numpy as np
import pytest

import fastnn
from fastnn import optim
from fastnn.gradcheck import rel_error
from fastnn.reference import optim_rules as twin

BACKENDS = ("cython", "numpy")
DTYPES = (np.float64, np.float32)
# The expected arrays are printed to 8 decimals (half a unit: 5e-9); float32 values near 1
# round at 6e-8 per operation.
TOLERANCE = {np.float64: 5.1e-9, np.float32: 5e-7}

N, D = 4, 5


def linspace(start, stop, dtype):
    return np.linspace(start, stop, num=N * D).reshape(N, D).astype(dtype)


# (rule, its config before the step, {config key or "next_w": expected array after it})
COURSE_CHECKS = {
    "sgd_momentum": (
        lambda dt: {"learning_rate": 1e-3, "velocity": linspace(0.6, 0.9, dt)},
        {
            "next_w": [
                [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
                [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
                [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
                [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
            ],
            "velocity": [
                [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
                [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
                [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
                [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
            ],
        },
    ),
    "rmsprop": (
        lambda dt: {"learning_rate": 1e-2, "cache": linspace(0.6, 0.9, dt)},
        {
            "next_w": [
                [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
                [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
                [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
                [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
            ],
            "cache": [
                [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
                [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
                [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
                [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
            ],
        },
    ),
    "adam": (
        lambda dt: {
            "learning_rate": 1e-2,
            "m": linspace(0.6, 0.9, dt),
            "v": linspace(0.7, 0.5, dt),
            "t": 5,
        },
        {
            "next_w": [
                [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
                [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
                [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
                [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
            ],
            "v": [
                [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
                [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
                [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
                [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
            ],
            "m": [
                [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
                [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
                [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
                [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
            ],
        },
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("rule", sorted(COURSE_CHECKS))
@pytest.mark.parametrize("implementation", ["fastnn.optim", "reference twin"])
def test_the_course_notebook_checks_pass(implementation, rule, dtype, backend):
    fastnn.use_backend(backend)
    function = getattr(optim if implementation == "fastnn.optim" else twin, rule)
    make_config, expected = COURSE_CHECKS[rule]
    w = linspace(-0.4, 0.6, dtype)
    dw = linspace(-0.6, 0.4, dtype)
    config = make_config(dtype)
    next_w, returned = function(w, dw, config=config)
    assert returned is config  # the caller's dict, updated
    assert next_w.dtype == dtype
    for key, want in expected.items():
        got = next_w if key == "next_w" else config[key]
        np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE[dtype], err_msg=key)
    if rule == "adam":
        assert config["t"] == 6  # incremented before use


def test_sgd_matches_the_course_formula():
    # the notebook has no sgd check: the course's one-line formula is the oracle
    w, dw = linspace(-0.4, 0.6, np.float64), linspace(-0.6, 0.4, np.float64)
    want = w - 1e-2 * dw  # the default learning rate
    next_w, config = optim.sgd(w, dw)
    assert config == {"learning_rate": 1e-2}
    assert rel_error(next_w, want) < 1e-15


@pytest.mark.parametrize("rule", optim.UPDATE_RULES)
def test_a_config_without_keys_gets_the_course_defaults(rule):
    w, dw = linspace(-0.4, 0.6, np.float64), linspace(-0.6, 0.4, np.float64)
    config = {}
    getattr(optim, rule)(w, dw, config)
    expected = {
        "sgd": {"learning_rate": 1e-2},
        "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
        "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
        "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 1},
    }[rule]
    for key, value in expected.items():
        assert config[key] == value, key
    # a key the caller set is kept
    config = {"learning_rate": 0.5}
    getattr(optim, rule)(w, dw, config)
    assert config["learning_rate"] == 0.5


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("rule", optim.UPDATE_RULES)
def test_ten_steps_equal_the_numpy_twin(rule, dtype, backend):
    fastnn.use_backend(backend)
    rng = np.random.default_rng(7)
    w = rng.standard_normal((33, 17)).astype(dtype)
    w_twin = w.copy()
    config = {"learning_rate": 3e-3}
    config_twin = dict(config)
    for _ in range(10):
        dw = rng.standard_normal(w.shape).astype(dtype)
        next_w, config = getattr(optim, rule)(w, dw, config)
        assert next_w is w  # in place
        w_twin, config_twin = getattr(twin, rule)(w_twin, dw, config_twin)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(w, w_twin, rtol=rtol, atol=rtol * 1e-2)
    assert config.keys() == config_twin.keys()
    for key, value in config.items():
        np.testing.assert_allclose(value, config_twin[key], rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("rule", optim.UPDATE_RULES)
def test_no_allocation_per_step_after_the_first(rule):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(100_000).astype(np.float32)  # 400 kB
    dw = rng.standard_normal(w.shape).astype(np.float32)
    config = {"learning_rate": 1e-6}
    getattr(optim, rule)(w, dw, config)  # creates the state arrays
    states = {k: v for k, v in config.items() if isinstance(v, np.ndarray)}
    tracemalloc.start()
    try:
        for _ in range(5):
            getattr(optim, rule)(w, dw, config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < w.nbytes // 4, peak  # NumPy reports its array allocations to tracemalloc
    for key, state in states.items():
        assert config[key] is state, key  # the same state arrays, updated in place


def test_the_twins_allocate_so_the_allocation_check_can_fail():
    w = np.zeros(100_000, dtype=np.float32)
    tracemalloc.start()
    try:
        twin.sgd(w, w)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak >= w.nbytes


def test_state_arrays_of_another_dtype_are_converted_once():
    w = np.zeros((2, 3), dtype=np.float32)
    velocity = np.ones((2, 3))  # float64, as the notebook's linspace gives
    config = {"velocity": velocity, "learning_rate": 0.0}
    optim.sgd_momentum(w, np.zeros_like(w), config)
    assert config["velocity"].dtype == np.float32
    np.testing.assert_allclose(config["velocity"], 0.9)
    kept = config["velocity"]
    optim.sgd_momentum(w, np.zeros_like(w), config)
    assert config["velocity"] is kept


def test_bad_input_is_a_clear_error():
    w = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(TypeError, match="dw has dtype float64 but w has dtype float32"):
        optim.sgd(w, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        optim.adam(w, np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="config must be a dict"):
        optim.rmsprop(w, w, config=[("learning_rate", 1e-2)])
    with pytest.raises(TypeError, match="float32 or float64"):
        optim.sgd(np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="read-only"):
        ro = np.zeros(3)
        ro.flags.writeable = False
        optim.sgd(ro, np.zeros(3))


def _read_only(shape):
    w = np.zeros(shape)[:, ::2]  # not contiguous either
    w.flags.writeable = False
    return w


# (how the call goes wrong, the arguments, the error, what its message must say)
BAD_CALLS = [
    ("dw shape", lambda: (np.zeros((2, 3)), np.zeros((3, 2)), None), ValueError,
     "dw has shape (3, 2) but w has shape (2, 3)"),
    ("dw dtype", lambda: (np.zeros(3), np.zeros(3, np.float32), None), TypeError,
     "dw has dtype float32 but w has dtype float64"),
    ("integer w", lambda: (np.zeros(3, int), np.zeros(3, int), None), TypeError,
     "w must be float32 or float64, got dtype int64"),
    ("list w", lambda: ([0.0, 1.0], np.zeros(2), None), TypeError,
     "w must be a numpy.ndarray"),
    ("read-only strided w", lambda: (_read_only((2, 6)), np.zeros((2, 3)), None), ValueError,
     "w is read-only"),
    ("negative learning_rate", lambda: (np.zeros(3), np.zeros(3), {"learning_rate": -0.1}),
     ValueError, "config['learning_rate'] must be >= 0, got -0.1"),
    ("learning_rate as text", lambda: (np.zeros(3), np.zeros(3), {"learning_rate": "1e-3"}),
     TypeError, "config['learning_rate'] must be a real number"),
]  # fmt: skip
STATE_KEY = {"sgd_momentum": "velocity", "rmsprop": "cache", "adam": "m"}
SCALAR_KEY = {"sgd_momentum": "momentum", "rmsprop": "decay_rate", "adam": "beta1"}


@pytest.mark.parametrize("rule", optim.UPDATE_RULES)
@pytest.mark.parametrize("case", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_a_bad_call_names_the_course_arguments(rule, case):
    """w, dw and config['...'] as in ``rule(w, dw, config)``, never the kernels' p, g, lr."""
    _, make, error, message = case
    with pytest.raises(error) as info:
        getattr(optim, rule)(*make())
    text = str(info.value)
    assert message in text, text
    assert not any(word in text.split() for word in ("p", "g", "lr")), text


@pytest.mark.parametrize("rule", ["sgd_momentum", "rmsprop", "adam"])
def test_a_bad_config_entry_names_its_key(rule):
    key = STATE_KEY[rule]
    with pytest.raises(ValueError, match=rf"config\['{key}'\] must be an array of w's shape"):
        getattr(optim, rule)(np.zeros((2, 3)), np.zeros((2, 3)), {key: np.zeros(5)})
    key = SCALAR_KEY[rule]
    with pytest.raises(ValueError, match=rf"config\['{key}'\] must be"):
        getattr(optim, rule)(np.zeros(3), np.zeros(3), {key: 1.5})


def test_update_all_names_the_parameter():
    from fastnn.nn.optim import update_all

    params = {"W1": np.zeros((2, 3)), "b1": np.zeros(3)}
    grads = {"W1": np.zeros((2, 3)), "b1": np.zeros(3, np.float32)}
    with pytest.raises(TypeError, match=r"grads\['b1'\] has dtype float32 but params\['b1'\]"):
        update_all("adam", params, grads, {"W1": None, "b1": None})


def test_update_all_names_a_bad_config_entry():
    """The kernel refuses beta1 = 1; the error names the parameter's config entry."""
    from fastnn.nn.optim import update_all

    params = {"W1": np.zeros((2, 3)), "b1": np.zeros(3)}
    grads = {k: np.ones_like(v) for k, v in params.items()}
    configs = {"W1": None, "b1": {"beta1": 1.0}}
    with pytest.raises(ValueError, match=r"configs\['b1'\]\['beta1'\] must be < 1"):
        update_all("adam", params, grads, configs)
    assert not params["b1"].any()  # its group was refused whole (W1's, other scalars, ran)


def test_the_namespace_is_public():
    import fastnn.optim as namespace

    assert fastnn.optim is namespace
    assert "optim" in fastnn.__all__
    assert set(namespace.__all__) >= {"sgd", "sgd_momentum", "rmsprop", "adam"}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_rmsprop_puts_epsilon_outside_the_root_as_the_course(backend, dtype):
    """With tiny gradients the cache is far below epsilon: sqrt(cache) + eps and
    sqrt(cache + eps) then differ 1000-fold (the notebook's check cannot tell them apart)."""
    fastnn.use_backend(backend)
    w = np.ones(6, dtype=dtype)
    dw = np.full(6, 1e-6, dtype=dtype)
    cache = 0.01 * dw.astype(np.float64) ** 2
    course_w = 1.0 - 1e-2 * 1e-6 / (np.sqrt(cache) + 1e-8)  # the course's code, in float64
    next_w, _ = optim.rmsprop(w.copy(), dw, config=None)
    np.testing.assert_allclose(next_w, course_w, rtol=1e-5)
    assert abs(course_w[0] - (1.0 - 1e-2 * 1e-6 / np.sqrt(cache[0] + 1e-8))) > 0.05


@pytest.mark.parametrize("eps_in_sqrt", [True, False])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_rmsprop_update_kernel_equals_its_twin_for_both_epsilon_places(dtype, eps_in_sqrt):
    from fastnn import core, reference

    rng = np.random.default_rng(3)
    p0 = rng.standard_normal(1000).astype(dtype)
    g = (rng.standard_normal(1000) * np.logspace(-9, 1, 1000)).astype(dtype)
    c0 = np.abs(rng.standard_normal(1000)).astype(dtype) * 1e-12
    results = []
    for module in (core, reference):
        p, c = p0.copy(), c0.copy()
        module.rmsprop_update(p, g, c, 1e-2, 0.9, 1e-8, eps_in_sqrt=eps_in_sqrt)
        results.append((p, c))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rule", optim.UPDATE_RULES)
def test_update_all_is_the_loop_of_the_rule(rule, backend):
    """One call for every parameter gives the loop's params and configs bit for bit, also when
    the configs differ (a second learning rate, a config still None, a later Adam step)."""
    from fastnn.nn.optim import update_all

    rng = np.random.default_rng(3)
    shapes = {"W1": (6, 4), "b1": (4,), "W2": (4, 3), "b2": (3,), "g": ()}
    params = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    grads = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    configs = {k: {"learning_rate": 1e-2} for k in shapes}
    configs["b1"]["learning_rate"] = 5e-3
    configs["b2"] = None
    if rule == "adam":
        configs["W2"]["t"] = 4
    loop_params = {k: v.copy() for k, v in params.items()}
    loop_configs = {k: None if c is None else dict(c) for k, c in configs.items()}
    function = getattr(optim, rule)
    with fastnn.backend(backend):
        for _ in range(3):
            for name, w in loop_params.items():
                loop_params[name], loop_configs[name] = function(w, grads[name], loop_configs[name])
            assert update_all(function if backend == "cython" else rule, params, grads, configs)
    for name in shapes:
        np.testing.assert_array_equal(params[name], loop_params[name], err_msg=name)
        assert configs[name].keys() == loop_configs[name].keys()
        for key, value in configs[name].items():
            np.testing.assert_array_equal(value, loop_configs[name][key], err_msg=f"{name} {key}")


def test_update_all_leaves_other_rules_to_the_caller():
    from fastnn.nn.optim import update_all

    w = np.ones(3)
    params, configs = {"w": w}, {"w": {}}
    assert not update_all(twin.sgd, params, {"w": np.ones(3)}, configs)
    assert not update_all(lambda w, dw, config: (w, config), params, {"w": w}, configs)

    class UnhashableRule:
        __eq__ = object.__eq__
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, w, dw, config):
            return w, config

    assert not update_all(UnhashableRule(), params, {"w": w}, configs)
    assert configs == {"w": {}} and np.array_equal(w, np.ones(3))
    with pytest.raises(KeyError, match="'w'"):
        update_all("sgd", params, {}, configs)
