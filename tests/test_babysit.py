"""fastnn.workflow.babysit: every check passes on a correct setup and fails on a deliberately
broken one."""

import copy
import math

import numpy as np
import pytest

from fastnn.nn.models import FullyConnectedNet, init_two_layer_model, two_layer_net
from fastnn.workflow import babysit as bs
from fastnn.workflow.preprocessing import Standardize

C, D, H = 5, 20, 30


@pytest.fixture(scope="module")
def data():
    """Five Gaussian blobs in 20-d, standardized on the training part (easy, but not trivial)."""
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((C, D))
    y = rng.integers(0, C, 600)
    X = centers[y] + rng.standard_normal((600, D))
    X = Standardize().fit(X[:400]).transform(X)
    return X[:400], y[:400], X[400:], y[400:]


def small_model(scale=0.01, seed=0):
    """The notes' two-layer model with weights ``scale * randn``."""
    rng = np.random.default_rng(seed)
    return {
        "W1": scale * rng.standard_normal((D, H)),
        "b1": np.zeros(H),
        "W2": scale * rng.standard_normal((H, C)),
        "b2": np.zeros(C),
    }


# -- deliberately broken setups ---------------------------------------------------------------


def ignores_data(X, model, y=None, reg=0.0):
    """A model whose loss never looks at X."""
    return two_layer_net(np.zeros_like(X), model, y, reg)


def reg_not_applied(X, model, y=None, reg=0.0):
    return two_layer_net(X, model, y, 0.0)


def reg_only_in_loss(X, model, y=None, reg=0.0):
    if y is None:
        return two_layer_net(X, model)
    loss, grads = two_layer_net(X, model, y, 0.0)
    return loss + 0.5 * reg * sum(np.sum(model[k] ** 2) for k in ("W1", "W2")), grads


def summed_loss(X, model, y=None, reg=0.0):
    """Forgets to divide by N."""
    if y is None:
        return two_layer_net(X, model)
    loss, grads = two_layer_net(X, model, y, reg)
    return loss * len(X), {k: g * len(X) for k, g in grads.items()}


def _line(capsys):
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1, out
    return out[0]


# -- check_initial_loss -----------------------------------------------------------------------


def test_initial_loss_passes_on_the_notes_model(data, capsys):
    X, y, _, _ = data
    model = init_two_layer_model(D, H, C, seed=0)
    result = bs.check_initial_loss(model, two_layer_net, X, y)
    assert result.passed and result.verdict == "PASS" and bool(result)
    assert result.details["loss"] == pytest.approx(math.log(C), abs=1e-3)
    assert _line(capsys) == str(result) and str(result).startswith("PASS initial loss: ")


def test_initial_loss_fails_on_broken_setups(data, capsys):
    X, y, _, _ = data
    big = small_model(scale=10.0)
    result = bs.check_initial_loss(big, two_layer_net, X, y)
    assert not result.passed and "initialization" in result.explanation
    assert _line(capsys).startswith("FAIL initial loss: ")
    result = bs.check_initial_loss(small_model(), summed_loss, X, y, verbose=False)
    assert not result.passed and "above ln(5)" in result.explanation
    result = bs.check_initial_loss(small_model(), ignores_data, X, y, verbose=False)
    assert not result.passed and "ignores its input" in result.explanation
    assert capsys.readouterr().out == ""


def test_initial_loss_on_model_objects(data):
    X, y, _, _ = data
    good = FullyConnectedNet([H], D, C, weight_init=0.001, dtype=np.float64, seed=0)
    assert bs.check_initial_loss(good, None, X, y, verbose=False).passed
    he_big = FullyConnectedNet([H], D, C, weight_init=1.0, dtype=np.float64, seed=0)
    assert not bs.check_initial_loss(he_big, None, X, y, verbose=False).passed
    with pytest.raises(TypeError, match="loss_function is required"):
        bs.check_initial_loss({"W": np.ones(2)}, None, X, y)


# -- check_regularization ---------------------------------------------------------------------


def test_regularization_passes_when_reg_raises_the_loss(data, capsys):
    X, y, _, _ = data
    model = init_two_layer_model(D, H, C, seed=0)
    result = bs.check_regularization(model, two_layer_net, X, y)
    assert result.passed
    penalty = 0.5 * 1e3 * (np.sum(model["W1"] ** 2) + np.sum(model["W2"] ** 2))
    assert result.details["loss_reg"] - result.details["loss"] == pytest.approx(penalty, rel=1e-6)
    assert "went up" in _line(capsys)


def test_regularization_fails_when_reg_is_not_applied(data):
    X, y, _, _ = data
    model = init_two_layer_model(D, H, C, seed=0)
    result = bs.check_regularization(model, reg_not_applied, X, y, verbose=False)
    assert not result.passed and "not applied" in result.explanation
    result = bs.check_regularization(model, reg_only_in_loss, X, y, verbose=False)
    assert not result.passed and "backward" in result.explanation


def test_regularization_on_a_model_object_restores_its_reg(data):
    X, y, _, _ = data
    net = FullyConnectedNet([H], D, C, weight_init=0.01, reg=0.5, dtype=np.float64, seed=0)
    assert bs.check_regularization(net, None, X, y, verbose=False).passed
    assert net.reg == 0.5
    with pytest.raises(ValueError, match="reg"):
        bs.check_regularization(net, None, X, y, reg=0.0)


# -- overfit_small ------------------------------------------------------------------------------


def test_overfit_small_passes_and_leaves_the_model_alone(data, capsys):
    X, y, _, _ = data
    model = small_model()
    before = copy.deepcopy(model)
    result = bs.overfit_small(model, two_layer_net, X, y, learning_rate=1.0, seed=0)
    assert result.passed, result.explanation
    assert result.details["accuracy"] == 1.0
    assert result.details["final_loss"] < 0.1
    assert len(result.details["stats"]["loss_history"]) == 200
    for k in model:
        np.testing.assert_array_equal(model[k], before[k])
    assert _line(capsys).startswith("PASS overfit 20 examples")


def test_overfit_small_fails_when_the_loss_ignores_the_data(data):
    X, y, _, _ = data
    result = bs.overfit_small(
        small_model(), ignores_data, X, y, learning_rate=1.0, seed=0, verbose=False
    )
    assert not result.passed and "could not overfit" in result.explanation
    assert result.details["accuracy"] < 1.0


def test_overfit_small_fails_with_learning_rate_1e6(data):
    X, y, _, _ = data
    result = bs.overfit_small(
        small_model(), two_layer_net, X, y, learning_rate=1e6, seed=0, verbose=False
    )
    assert not result.passed and "too high" in result.explanation
    assert result.details["stats"]["diverged"]


def test_overfit_small_model_object(data):
    X, y, _, _ = data
    net = FullyConnectedNet([H], D, C, weight_init=0.01, reg=1.0, dtype=np.float64, seed=0)
    result = bs.overfit_small(net, None, X, y, learning_rate=1.0, seed=0, verbose=False)
    assert result.passed, result.explanation
    assert net.reg == 1.0 and result.details["best_model"].reg == 0.0


# -- find_learning_rate -------------------------------------------------------------------------

SWEEP = dict(num_epochs=5, batch_size=20, seed=0)


def test_find_learning_rate_classifies_rates(data, capsys):
    X, y, X_val, y_val = data
    result = bs.find_learning_rate(
        small_model(), two_layer_net, X, y, X_val, y_val, [1e-7, 1e-1, 1.0, 1e6], **SWEEP
    )
    assert isinstance(result, bs.LearningRateSweep)
    verdicts = {lr: v for lr, v, _ in result.verdicts}
    assert verdicts == {1e-7: "too low", 1e-1: "good", 1.0: "good", 1e6: "too high"}
    assert result.passed and result.learning_rate_range == (1e-1, 1.0)
    line = _line(capsys)
    assert "[1e-01, 1e+00]" in line and "too low: 1e-07" in line and "too high: 1e+06" in line


def test_find_learning_rate_fails_when_nothing_is_good(data):
    X, y, X_val, y_val = data
    high = bs.find_learning_rate(
        small_model(), two_layer_net, X, y, X_val, y_val, [1e6], verbose=False, **SWEEP
    )
    assert not high.passed and high.learning_rate_range is None
    assert high.verdicts[0][1] == "too high" and "explodes" in high.verdicts[0][2]
    blind = bs.find_learning_rate(
        small_model(), ignores_data, X, y, X_val, y_val, [1e-1, 1.0], verbose=False, **SWEEP
    )
    assert not blind.passed
    with pytest.raises(ValueError, match="learning_rates"):
        bs.find_learning_rate(small_model(), two_layer_net, X, y, learning_rates=[-1.0])


# -- diagnose -------------------------------------------------------------------------------------


def _stats(loss, train, val, diverged=False):
    return {
        "loss_history": list(loss),
        "train_acc_history": list(train),
        "val_acc_history": list(val),
        "lr_history": [1e-3] * len(train),
        "diverged": diverged,
    }


def _codes(result):
    return [code for code, _ in result.details["problems"]]


def test_diagnose_names_each_problem(capsys):
    decreasing = np.linspace(2.3, 0.3, 100)
    healthy = bs.diagnose(_stats(decreasing, [0.5, 0.95], [0.5, 0.93]))
    assert healthy.passed and _codes(healthy) == []
    assert _line(capsys).startswith("PASS diagnosis: no problem found")

    nan = bs.diagnose(_stats([2.3, 2.1, float("nan")], [0.3], [0.3], diverged=True), verbose=False)
    assert _codes(nan) == ["nan"] and "learning rate is too high" in nan.explanation

    boom = bs.diagnose(_stats([2.3, 2.0, 9.0, 40.0], [0.3], [0.3]), verbose=False)
    assert _codes(boom) == ["exploding"]

    flat_then_drop = np.concatenate([np.full(30, 2.3026), np.linspace(2.3, 0.3, 70)])
    flat = bs.diagnose(_stats(flat_then_drop, [0.95], [0.94]), verbose=False)
    assert _codes(flat) == ["flat_start"] and "bad initialization" in flat.explanation

    stuck = bs.diagnose(_stats(np.full(100, 2.3026), [0.19], [0.19]), verbose=False)
    assert _codes(stuck) == ["not_decreasing", "underfitting"]

    overfit = bs.diagnose(_stats(decreasing, [0.99], [0.7]), verbose=False)
    assert _codes(overfit) == ["overfitting"]
    assert "increase the regularization" in overfit.explanation

    under = bs.diagnose(_stats(decreasing, [0.42], [0.40]), verbose=False)
    assert _codes(under) == ["underfitting"] and "capacity" in under.explanation
    assert not any(r.passed for r in (nan, boom, flat, stuck, overfit, under))


def test_diagnose_needs_a_run():
    for bad in ({}, {"loss_history": []}, [1.0, 2.0]):
        with pytest.raises(ValueError, match="loss_history"):
            bs.diagnose(bad)


def test_diagnose_real_exploding_and_diverged_runs(data):
    from fastnn.nn.trainer import ClassifierTrainer

    X, y, X_val, y_val = data
    for epochs, code in ((3, "exploding"), (20, "nan")):
        _, stats = ClassifierTrainer().train(
            X,
            y,
            X_val,
            y_val,
            small_model(),
            two_layer_net,
            learning_rate=1e6,
            update="sgd",
            num_epochs=epochs,
            seed=0,
        )
        assert stats["diverged"] == (code == "nan")
        result = bs.diagnose(stats, verbose=False)
        assert _codes(result) == [code] and "learning rate is too high" in result.explanation


# -- babysit ---------------------------------------------------------------------------------------

BABYSIT = dict(
    overfit_learning_rate=1.0,
    learning_rates=[1e-7, 1e-1, 1.0, 1e6],
    sweep_epochs=5,
    batch_size=20,
    num_epochs=10,
    seed=0,
)


def test_babysit_passes_on_a_correct_setup(data, capsys):
    X, y, X_val, y_val = data
    model = small_model()
    before = copy.deepcopy(model)
    report = bs.babysit(model, two_layer_net, X, y, X_val, y_val, **BABYSIT)
    names = [r.name for r in report.results]
    assert names == [
        "initial loss",
        "regularization",
        "overfit 20 examples",
        "learning rate sweep",
        "diagnosis",
    ], str(report)
    assert report.passed and report.failed is None, str(report)
    assert report.learning_rate_range == (1e-1, 1.0)
    assert report.stats["val_acc_history"][-1] > 0.9
    for k in model:
        np.testing.assert_array_equal(model[k], before[k])
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("babysit: every check passed")


@pytest.mark.parametrize(
    "loss_function, stop",
    [
        (ignores_data, "initial loss"),
        (reg_not_applied, "regularization"),
    ],
)
def test_babysit_stops_at_the_first_failure(data, capsys, loss_function, stop):
    X, y, X_val, y_val = data
    report = bs.babysit(small_model(), loss_function, X, y, X_val, y_val, **BABYSIT)
    assert not report.passed
    assert report.failed is report.results[-1] and report.failed.name == stop
    assert f"babysit stopped at '{stop}'" in capsys.readouterr().out


def test_babysit_with_learning_rate_1e6_everywhere(data):
    X, y, X_val, y_val = data
    kw = dict(BABYSIT, overfit_learning_rate=1e6, verbose=False)
    report = bs.babysit(small_model(), two_layer_net, X, y, X_val, y_val, **kw)
    assert report.failed.name == "overfit 20 examples" and "too high" in report.failed.explanation
    kw = dict(BABYSIT, learning_rates=[1e6], verbose=False)
    report = bs.babysit(small_model(), two_layer_net, X, y, X_val, y_val, **kw)
    assert report.failed.name == "learning rate sweep" and len(report.results) == 4


def test_babysit_on_digits_with_a_model_object():
    """The real 8x8 digits, standardized, and a FullyConnectedNet (loss_function=None)."""
    from fastnn.workflow.datasets import load_digits

    X, y = load_digits()
    st = Standardize().fit(X[:1400])
    X_train, X_val = st.transform(X[:1400]), st.transform(X[1400:])
    net = FullyConnectedNet([50], 64, 10, weight_init=0.01, seed=0)
    before = copy.deepcopy(net.params)
    report = bs.babysit(
        net,
        None,
        X_train,
        y[:1400],
        X_val,
        y[1400:],
        overfit_learning_rate=0.5,
        learning_rates=[1e-6, 1e-1, 1.0, 1e2],
        sweep_epochs=2,
        seed=0,
        verbose=False,
    )
    assert report.passed, str(report)
    assert report.learning_rate_range == (1e-1, 1.0)
    assert report.stats["val_acc_history"][-1] > 0.8
    for k in before:  # the caller's net is untouched
        np.testing.assert_array_equal(net.params[k], before[k])


def test_checks_leave_a_batchnorm_net_untouched():
    # The loss in train mode updates the batchnorm running statistics; the checks must run
    # it on a copy (reg is varied on the copy too).
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((40, 12)), rng.integers(0, 4, 40)
    net = FullyConnectedNet([16], 12, 4, batchnorm=True, weight_init=0.01, reg=0.25, seed=0)
    before = copy.deepcopy(net)
    bs.check_initial_loss(net, None, X, y, verbose=False)
    bs.check_regularization(net, None, X, y, verbose=False)
    assert net.reg == 0.25
    assert [bn["mode"] for bn in net.bn_params] == ["train"]
    for bn, bn_before in zip(net.bn_params, before.bn_params):
        for key in ("running_mean", "running_var"):
            np.testing.assert_array_equal(bn[key], 0)  # never updated
            np.testing.assert_array_equal(bn[key], bn_before[key])
    for k in before.params:
        np.testing.assert_array_equal(net.params[k], before.params[k])


# -- the ladder and the defaults on the README's data ------------------------------------------


@pytest.fixture(scope="module")
def centered_digits():
    """The README's data: the embedded digits, split and zero-centered on the training rows."""
    from fastnn.workflow.datasets import load_digits, train_val_split
    from fastnn.workflow.preprocessing import ZeroCenter

    X, y = load_digits()
    X_train, X_val, y_train, y_val = train_val_split(X, y, val_size=0.2, seed=0)
    center = ZeroCenter().fit(X_train)
    return center.transform(X_train), y_train, center.transform(X_val), y_val


def test_overfit_small_climbs_to_the_rate_that_overfits(centered_digits):
    X, y, _, _ = centered_digits
    model = init_two_layer_model(64, 50, 10, seed=0)
    without = bs.overfit_small(model, two_layer_net, X, y, max_learning_rate=None, verbose=False)
    assert not without.passed and "may be too low" in without.explanation
    assert without.details["tried"] == [1e-3]
    result = bs.overfit_small(model, two_layer_net, X, y, verbose=False)
    assert result.passed, result.explanation
    assert result.details["tried"] == pytest.approx([1e-3, 1e-2, 1e-1])
    assert result.details["learning_rate"] == pytest.approx(0.1)
    assert "at learning rate 0.1" in result.explanation and "1e-03, 1e-02" in result.explanation


def test_overfit_small_ladder_stops_at_its_cap(data):
    X, y, _, _ = data
    result = bs.overfit_small(
        small_model(), ignores_data, X, y, learning_rate=1e-2, max_learning_rate=1.0,
        seed=0, verbose=False,
    )  # fmt: skip
    assert not result.passed and result.details["tried"] == pytest.approx([1e-2, 1e-1, 1.0])
    with pytest.raises(ValueError, match="max_learning_rate must be finite"):
        bs.overfit_small(small_model(), two_layer_net, X, y, max_learning_rate=math.inf)


def test_babysit_with_its_defaults_passes_on_the_readme_digits(centered_digits):
    X_train, y_train, X_val, y_val = centered_digits
    model = init_two_layer_model(64, 50, 10, seed=0)
    report = bs.babysit(model, two_layer_net, X_train, y_train, X_val, y_val, verbose=False)
    assert report.passed, str(report)
    low, high = report.learning_rate_range
    assert low < high and report.results[2].details["learning_rate"] > 1e-3
