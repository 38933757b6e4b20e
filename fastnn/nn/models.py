"""Models: the lecture notes' two-layer net (section 6) and a deeper fully-connected net.

The implementation behind the public namespace ``fastnn.models``, which documents it.

The first layer's input gradient is never needed, so its backward pass computes only the
weight and bias gradients (no ``dout @ W.T`` product).  The bias add runs in place on each
matrix product, fused with a ReLU that follows it (fastnn.bias_relu), and the bias gradient
comes from the ReLU's backward pass (fastnn.relu_bias_backward) or one column-sum pass
(fastnn.bias_backward), summed in double.
"""

import functools
import numbers
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastnn._config.backend import get_backend, ops
from fastnn._config.threads import num_threads
from fastnn._validation import check_float_dtype, check_int, check_scalar
from fastnn.core.activations import ACTIVATIONS
from fastnn.core.gemm import GEMM_TN, gemm_tn
from fastnn.nn import layers
from fastnn.nn.init import INITIALIZERS, as_generator, from_global_state, small_random, zeros

__all__ = ["init_two_layer_model", "two_layer_net", "FullyConnectedNet"]


def init_two_layer_model(
    input_size: int,
    hidden_size: int,
    output_size: int,
    dtype: DTypeLike = np.float64,
    rng: np.random.Generator | np.random.RandomState | np.random.SeedSequence | int | None = None,
    seed: np.random.Generator | np.random.SeedSequence | int | None = None,
) -> dict[str, np.ndarray]:
    """The notes' two-layer model: weights ``0.0001 * randn``, biases zero.

    Returns a dict with ``W1`` (input_size, hidden_size), ``b1`` (hidden_size,),
    ``W2`` (hidden_size, output_size), ``b2`` (output_size,).
    dtype: float64 as in the notes; float32 is the fast path (use float32 data with it).
    rng / seed: a Generator or int for reproducible weights (NumPy's global state is not used).
    """
    gen = as_generator(rng, seed)
    return {
        "W1": small_random(input_size, hidden_size, scale=0.0001, dtype=dtype, rng=gen),
        "b1": zeros(hidden_size, dtype=dtype),
        "W2": small_random(hidden_size, output_size, scale=0.0001, dtype=dtype, rng=gen),
        "b2": zeros(output_size, dtype=dtype),
    }


def is_object_model(model, loss_function):
    """Whether ``model`` is a model object (``params`` and ``loss(X, y=None)``, like
    :class:`FullyConnectedNet`) used without ``loss_function``; False when one is given.

    Raises TypeError when ``loss_function`` is None and ``model`` is not such an object.
    """
    if loss_function is not None:
        return False
    if hasattr(model, "params") and callable(getattr(model, "loss", None)):
        return True
    raise TypeError(
        "loss_function is required unless the model has .params and "
        ".loss(X, y=None) (like fastnn.FullyConnectedNet)"
    )


def _as_model_dtype(X, dtype):
    X = np.asarray(X)
    if X.dtype != dtype:
        X = X.astype(dtype)
    return X.reshape(X.shape[0], -1)


def _product(x, w):
    """``x @ w`` for x (N, D) and w (D, M); ValueError naming both shapes otherwise."""
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"x has {x.shape[1]} features per row but w has shape {w.shape}")
    return x @ w


def _l2(model, names, reg):
    """0.5 * reg * sum of squared weights (a BLAS dot per weight, no temporaries)."""
    total = 0.0
    for name in names:
        w = model[name].reshape(-1)
        total += float(np.dot(w, w))
    return 0.5 * reg * total


_F = TypeVar("_F", bound=Callable[..., Any])


def _between_gemms(function: _F) -> _F:
    """Run a model's kernels on one thread: they sit between BLAS matrix products, which
    already use the cores.  An OpenMP team there costs more than it saves (its idle threads
    spin while BLAS wants the cores; measurements in docs/perf/layout.md).  The matrix
    products keep BLAS's threads."""

    @functools.wraps(function)
    def on_one_thread(*args, **kwargs):
        with num_threads(1):
            return function(*args, **kwargs)

    return cast(_F, on_one_thread)


def _two_layer_scores(x, model):
    """(h, scores) of the notes' net for x (N, D) of the model's dtype."""
    kernels = ops()
    h = kernels.bias_relu(_product(x, model["W1"]), model["b1"])
    return h, kernels.bias_add(_product(h, model["W2"]), model["b2"])


def _two_layer_backprop(x, model, y, reg):
    """The notes' net on a batch, all but its two weight-gradient products (which
    two_layer_net and TwoLayerSGDStep compute each their own way): (loss with the L2 term,
    h, dscores, da1 = the first layer's pre-activation gradient, db1, db2)."""
    kernels = ops()
    h, scores = _two_layer_scores(x, model)
    loss, dscores = layers.softmax_loss(scores, y)
    dh = dscores @ model["W2"].T
    db2 = kernels.bias_backward(dscores)
    da1, db1 = kernels.relu_bias_backward(dh, h)
    if reg:
        loss += _l2(model, ("W1", "W2"), reg)
    return loss, h, dscores, da1, db1, db2


@_between_gemms
def two_layer_net(
    X: ArrayLike,
    model: dict[str, np.ndarray],
    y: np.ndarray | None = None,
    reg: float = 0.0,
) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
    """The notes' two-layer net: affine - ReLU - affine - softmax.

    X: (N, D) (or (N, d1, ..., dk), flattened), converted to the model's dtype.
    model: dict from :func:`init_two_layer_model`.
    Without y returns the class scores (N, C).  With integer labels y (N,) returns
    ``(loss, grads)``: the mean softmax cross-entropy plus
    ``0.5 * reg * (sum(W1**2) + sum(W2**2))``, and the gradients keyed like the model
    (the weight gradients include ``reg * W``).
    """
    reg = check_scalar(reg, "reg", minimum=0)
    x = _as_model_dtype(X, model["W1"].dtype)
    if y is None:
        return _two_layer_scores(x, model)[1]
    loss, h, dscores, da1, db1, db2 = _two_layer_backprop(x, model, y, reg)
    dW2 = h.T @ dscores
    dW1 = x.T @ da1
    if reg:
        dW1 += reg * model["W1"]
        dW2 += reg * model["W2"]
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


_TWO_LAYER_SHAPES = {"W1": 2, "b1": 1, "W2": 2, "b2": 1}  # the model's keys, and their ndim


class TwoLayerSGDStep:
    """An ``sgd`` step of :func:`two_layer_net` with the weight updates folded into the
    weight-gradient products: ``W = (1 - lr * reg) * W - lr * X.T @ dY`` in one BLAS call
    per weight (fastnn.core.gemm), instead of a gradient array and a separate update pass.

    ``loss(X, y)`` runs the forward pass and the backward pass up to those products and
    returns the loss (so that a caller can stop before the model changes);
    ``apply(learning_rate)`` then updates the model in place.  The result equals
    two_layer_net's gradients followed by ``W -= lr * dW`` up to rounding.  Build it with
    :meth:`for_training`, which says when it applies.
    """

    def __init__(self, model: dict[str, np.ndarray], reg: float):
        self.model = model
        self.reg = reg
        self._saved: tuple[np.ndarray, ...] | None = None

    @classmethod
    def for_training(
        cls, loss_function: Callable[..., Any] | None, model: Any, update: str, reg: float
    ) -> "TwoLayerSGDStep | None":
        """The fused step for this training run, or None when it does not apply: another
        loss function or update rule, the NumPy backend, model arrays of other dtypes or
        layouts, or no BLAS function for the dtype (fastnn.core.gemm.GEMM_TN_SOURCE)."""
        if loss_function is not two_layer_net or update != "sgd" or get_backend() != "cython":
            return None
        if not isinstance(model, dict) or model.keys() != _TWO_LAYER_SHAPES.keys():
            return None
        first = model["W1"]
        if type(first) is not np.ndarray:
            return None
        dtype = first.dtype
        for name, ndim in _TWO_LAYER_SHAPES.items():
            p = model[name]
            if not (
                type(p) is np.ndarray
                and p.dtype == dtype
                and p.ndim == ndim
                and p.flags.c_contiguous
                and p.flags.aligned
                and p.flags.writeable
            ):
                return None
        if GEMM_TN is None or dtype.name not in GEMM_TN:
            return None
        hidden, classes = model["W2"].shape
        if model["W1"].shape[1] != hidden or model["b1"].shape != (hidden,):
            return None
        if model["b2"].shape != (classes,):
            return None
        return cls(model, reg)

    def loss(self, X: ArrayLike, y: np.ndarray) -> float:
        """The batch's loss (as :func:`two_layer_net` computes it); keeps what apply needs."""
        m = self.model
        x = np.ascontiguousarray(_as_model_dtype(X, m["W1"].dtype))
        loss, h, dscores, da1, db1, db2 = _two_layer_backprop(x, m, y, self.reg)
        self._saved = (x, h, np.ascontiguousarray(dscores), da1, db1, db2)
        return loss

    def apply(self, learning_rate: float) -> None:
        """Update the model in place with the gradients of the last :meth:`loss`."""
        if self._saved is None:
            raise RuntimeError("apply() needs a loss() before it")
        x, h, dscores, da1, db1, db2 = self._saved
        self._saved = None
        m = self.model
        decay = 1.0 - learning_rate * self.reg
        gemm_tn(h, dscores, m["W2"], -learning_rate, decay)
        gemm_tn(x, da1, m["W1"], -learning_rate, decay)
        ops().update_many("sgd", [m["b1"], m["b2"]], [db1, db2], [[], []], learning_rate)


_ACTIVATIONS = ACTIVATIONS  # the kernels' list (fastnn.core.activations)


_NORMALIZATIONS = ("batchnorm", "layernorm")


def _course_weight_init(weight_init, weight_scale):
    """``weight_init`` after the course's ``weight_scale`` keyword (a small_random scale)."""
    if weight_scale is None:
        return weight_init
    if weight_init != "he":
        raise TypeError("give weight_init or the course's weight_scale, not both")
    if isinstance(weight_scale, (bool, np.bool_)) or not isinstance(weight_scale, numbers.Real):
        raise TypeError(f"weight_scale must be a float, got {weight_scale!r}")
    return check_scalar(weight_scale, "weight_scale", minimum=0)


def _course_normalization(normalization, batchnorm, use_batchnorm):
    """The normalization layer (None, 'batchnorm' or 'layernorm') from any of the keywords
    (``use_batchnorm`` is the 2017 course's ``batchnorm``)."""
    batchnorm = batchnorm or bool(use_batchnorm)
    if normalization is None:
        return "batchnorm" if batchnorm else None
    if normalization not in _NORMALIZATIONS:
        raise ValueError(
            f"unknown normalization {normalization!r}; choose None or one of "
            f"{', '.join(_NORMALIZATIONS)}"
        )
    if batchnorm and normalization != "batchnorm":
        raise ValueError(f"batchnorm=True contradicts normalization={normalization!r}")
    return normalization


def _course_keep_ratio(dropout_keep_ratio, dropout):
    """The dropout keep probability in (0, 1] from either course keyword (1 = no dropout)."""
    if dropout_keep_ratio is not None and dropout is not None:
        raise TypeError("give dropout_keep_ratio or its older name dropout, not both")
    name = "dropout" if dropout is not None else "dropout_keep_ratio"
    keep = dropout if dropout is not None else dropout_keep_ratio
    if keep is None:
        return 1.0
    if isinstance(keep, (bool, np.bool_)) or not isinstance(keep, numbers.Real):
        raise TypeError(f"{name} must be a keep probability in (0, 1], got {keep!r}")
    keep = float(keep)
    if not 0 < keep <= 1:
        hint = ""
        if keep == 0 and dropout is not None:
            hint = (
                " (the 2017 course's dropout was a drop probability p, 0 meaning no dropout: "
                "give dropout_keep_ratio=1 - p, 1 meaning no dropout)"
            )
        raise ValueError(f"{name} must be a keep probability in (0, 1], got {keep!r}{hint}")
    return keep


class FullyConnectedNet:
    """A fully-connected net: {affine - [norm] - activation - [dropout]} x L-1 - affine - softmax.

    Takes both fastnn's keywords (``activation``, ``weight_init``, ``batchnorm``) and the
    CS231n assignment's (``weight_scale``, ``normalization``, ``dropout_keep_ratio`` or its
    2018 name ``dropout``), so the course's ``FullyConnectedNet(hidden_dims, input_dim,
    num_classes, dropout_keep_ratio=1, normalization=None, reg=0.0, weight_scale=1e-2,
    dtype=np.float32, seed=None)`` calls run unchanged (pass the course's arguments by keyword).

    Parameters
    ----------
    hidden_dims : sequence of int
        Width of each hidden layer.
    input_dim, num_classes : int
    activation : {'relu', 'sigmoid', 'tanh', 'leaky_relu', 'elu', 'maxout'}
        Hidden-layer non-linearity.  'maxout' gives each hidden unit ``maxout_pieces``
        affine pieces (W of shape (D, H, k), b of shape (H, k)), twice the parameters for k=2.
    weight_init : {'he', 'xavier', 'glorot', 'small_random', 'zeros'} or float
        Initializer from :mod:`fastnn.nn.init`; a float is the scale of ``small_random``.
        Biases (and batchnorm beta) start at zero, batchnorm gamma at one.
    batchnorm, use_batchnorm : bool
        Batch normalization after every hidden affine layer (before the non-linearity);
        the same as ``normalization='batchnorm'``.  ``use_batchnorm`` is the 2017 course's
        name.
    normalization : {None, 'batchnorm', 'layernorm'}
        The course's name: the normalization layer after every hidden affine layer.
    weight_scale : float or None
        The course's name: weights ``weight_scale * randn`` (same as a float ``weight_init``).
    dropout_keep_ratio, dropout : float in (0, 1]
        Keep probability of inverted dropout after every hidden non-linearity; 1 (the
        default) means no dropout.  ``dropout`` is the 2018-2019 course's name (the 2017
        course's ``dropout`` was a drop probability p: give ``dropout_keep_ratio=1 - p``).
        As in the course, with a ``seed`` the dropout mask is fixed
        (``dropout_param['seed']``) so that gradient checks see one function; to train with
        fresh masks, delete that key.
    reg : float
        L2 strength: the loss adds ``0.5 * reg * sum(W**2)`` over the weights.
    dtype : float32 or float64
        Parameter and compute dtype; inputs are converted to it.
    seed : int, Generator or None
        Seeds the initial weights.  None draws them from NumPy's global random state, as the
        course's net does, so that ``np.random.seed`` repeats them (with ``weight_scale``,
        the course's very draws: ``weight_scale * np.random.randn(fan_in, fan_out)``).

    Attributes
    ----------
    params : dict of arrays (``W1``, ``b1``, ..., ``gamma1``, ``beta1``, ...)
    normalization : None, 'batchnorm' or 'layernorm'
    bn_params : list of dicts, one per hidden layer when normalized: each batchnorm layer's
        mode and running statistics, or each layer norm's ``ln_param`` (``eps``).
    use_dropout : bool
    dropout_param : dict, the ``dropout_param`` of every dropout layer (empty without).
    """

    def __init__(
        self,
        hidden_dims: Sequence[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        activation: str = "relu",
        weight_init: str | float = "he",
        batchnorm: bool = False,
        reg: float = 0.0,
        dtype: DTypeLike = np.float32,
        seed: np.random.Generator | np.random.SeedSequence | int | None = None,
        maxout_pieces: int = 2,
        *,
        normalization: str | None = None,
        weight_scale: float | None = None,
        dropout_keep_ratio: float | None = None,
        dropout: float | None = None,
        use_batchnorm: bool = False,
    ) -> None:
        weight_init = _course_weight_init(weight_init, weight_scale)
        normalization = _course_normalization(normalization, batchnorm, use_batchnorm)
        keep = _course_keep_ratio(dropout_keep_ratio, dropout)
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {', '.join(_ACTIVATIONS)}"
            )
        if isinstance(weight_init, str):
            if weight_init not in INITIALIZERS:
                raise ValueError(
                    f"unknown weight_init {weight_init!r}; choose one of "
                    f"{', '.join(INITIALIZERS)} or a float scale"
                )
        elif isinstance(weight_init, (bool, np.bool_)) or not isinstance(weight_init, numbers.Real):
            raise TypeError(
                f"weight_init must be one of {', '.join(INITIALIZERS)} or a float "
                f"scale, got {weight_init!r}"
            )
        else:
            weight_init = check_scalar(weight_init, "weight_init", minimum=0)
        hidden_dims = [check_int(h, f"hidden_dims[{i}]") for i, h in enumerate(hidden_dims)]
        dims = [
            check_int(input_dim, "input_dim"),
            *hidden_dims,
            check_int(num_classes, "num_classes"),
        ]
        self.activation = activation
        self.normalization = normalization
        self.batchnorm = normalization == "batchnorm"
        self.use_dropout = keep != 1
        self.dropout_param: dict[str, Any] = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": keep}
            if isinstance(seed, numbers.Integral):
                self.dropout_param["seed"] = int(seed)
        self.reg = check_scalar(reg, "reg", minimum=0)
        self.dtype = check_float_dtype(dtype)
        self.maxout_pieces = 1
        if activation == "maxout":
            self.maxout_pieces = check_int(maxout_pieces, "maxout_pieces")
        self.num_layers = len(hidden_dims) + 1
        self.params = {}
        self.bn_params = []
        rng = None if seed is None else as_generator(seed)  # None: NumPy's global state
        for i in range(self.num_layers):
            fan_in, fan_out = dims[i], dims[i + 1]
            hidden = i < self.num_layers - 1
            k = self.maxout_pieces if hidden else 1
            w = self._init_weight(weight_init, fan_in, fan_out * k, rng)
            b = np.zeros(fan_out * k, dtype=self.dtype)
            if k > 1:
                w, b = w.reshape(fan_in, fan_out, k), b.reshape(fan_out, k)
            self.params[f"W{i + 1}"], self.params[f"b{i + 1}"] = w, b
            if hidden and self.normalization is not None:
                self.params[f"gamma{i + 1}"] = np.ones(fan_out * k, dtype=self.dtype)
                self.params[f"beta{i + 1}"] = np.zeros(fan_out * k, dtype=self.dtype)
                if self.batchnorm:
                    # zero statistics, as the first forward would create (set, so that test
                    # mode before training does not warn about missing ones)
                    self.bn_params.append(
                        {
                            "mode": "train",
                            "running_mean": np.zeros(fan_out * k, dtype=self.dtype),
                            "running_var": np.zeros(fan_out * k, dtype=self.dtype),
                        }
                    )
                else:
                    self.bn_params.append({})  # the layer norm's ln_param

    def _init_weight(self, weight_init, fan_in, fan_out, rng):
        if rng is None and isinstance(weight_init, float):
            # the course's draw from NumPy's global state, value for value
            w = weight_init * np.random.randn(fan_in, fan_out)  # noqa: NPY002
            return w.astype(self.dtype)
        if rng is None:
            rng = from_global_state()
        if isinstance(weight_init, float):
            return small_random(fan_in, fan_out, scale=weight_init, dtype=self.dtype, rng=rng)
        return INITIALIZERS[weight_init](fan_in, fan_out, dtype=self.dtype, rng=rng)

    def _act_forward(self, a):
        if self.activation == "maxout":
            h, k = a.shape[1] // self.maxout_pieces, self.maxout_pieces
            out, argmax = ops().maxout(a.reshape(a.shape[0], h, k))
            return out, argmax
        return getattr(layers, f"{self.activation}_forward")(a)

    def _act_backward(self, dout, cache):
        if self.activation == "maxout":
            k = self.maxout_pieces
            return ops().maxout_backward(dout, cache, k).reshape(dout.shape[0], -1)
        return getattr(layers, f"{self.activation}_backward")(dout, cache)

    @_between_gemms
    def loss(
        self,
        X: ArrayLike,
        y: np.ndarray | None = None,
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Scores (N, C) when y is None (batchnorm in test mode), else ``(loss, grads)``.

        X: (N, input_dim) or (N, d1, ..., dk), converted to the model's dtype.
        y: integer labels (N,).  grads is keyed like :attr:`params`.
        """
        x = _as_model_dtype(X, self.dtype)
        mode = "test" if y is None else "train"
        if self.batchnorm:
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        kernels = ops()
        # The affine layers' bias add runs in place on the product, fused with a ReLU that
        # follows it directly; the ReLU's backward then gives the bias gradient in the same
        # pass (relu_bias_backward).  The ReLU's output is its backward's mask (out > 0
        # exactly where its input is > 0).
        fuse_relu = self.activation == "relu" and self.normalization is None
        caches = []
        h = x
        for i in range(1, self.num_layers):
            w = self.params[f"W{i}"]
            a = _product(h, w.reshape(w.shape[0], -1))
            b = self.params[f"b{i}"].reshape(-1)
            norm_cache = None
            if fuse_relu:
                out = act_cache = kernels.bias_relu(a, b)
            else:
                kernels.bias_add(a, b)
                if self.normalization is not None:
                    norm_forward = getattr(layers, f"{self.normalization}_forward")
                    a, norm_cache = norm_forward(
                        a, self.params[f"gamma{i}"], self.params[f"beta{i}"], self.bn_params[i - 1]
                    )
                out, act_cache = self._act_forward(a)
            drop_cache = None
            if self.use_dropout:
                out, drop_cache = layers.dropout_forward(out, self.dropout_param)
            caches.append((h, norm_cache, act_cache, drop_cache))
            h = out
        L = self.num_layers
        W_last = self.params[f"W{L}"]
        scores = kernels.bias_add(_product(h, W_last), self.params[f"b{L}"])
        if y is None:
            return scores

        loss, dscores = layers.softmax_loss(scores, y)
        grads = {f"W{L}": h.T @ dscores, f"b{L}": kernels.bias_backward(dscores)}
        dh = dscores @ W_last.T
        for i in range(L - 1, 0, -1):
            h_in, norm_cache, act_cache, drop_cache = caches[i - 1]
            if self.use_dropout:
                dh = layers.dropout_backward(dh, drop_cache)
            if fuse_relu:
                da, db = kernels.relu_bias_backward(dh, act_cache)
            else:
                da = self._act_backward(dh, act_cache)
                if self.normalization is not None:
                    norm_backward = getattr(layers, f"{self.normalization}_backward")
                    da, grads[f"gamma{i}"], grads[f"beta{i}"] = norm_backward(da, norm_cache)
                db = kernels.bias_backward(da)
            w = self.params[f"W{i}"]
            grads[f"W{i}"] = (h_in.T @ da).reshape(w.shape)
            grads[f"b{i}"] = db.reshape(self.params[f"b{i}"].shape)
            if i > 1:
                dh = da @ w.reshape(w.shape[0], -1).T
        if self.reg:
            names = [f"W{i}" for i in range(1, L + 1)]
            loss += _l2(self.params, names, self.reg)
            for name in names:
                grads[name] += self.reg * self.params[name]
        return loss, grads

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class of each row of X (N,)."""
        return np.argmax(cast(np.ndarray, self.loss(X)), axis=1)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities (N, C), the softmax of the scores, in the model's dtype."""
        return ops().softmax(cast(np.ndarray, self.loss(X)))
