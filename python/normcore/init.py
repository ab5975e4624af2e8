"""Weight initialization with the names and formulas of ``torch.nn.init``, over NumPy arrays.

Every initializer comes in two forms:

- ``f(shape, <params>, *, rng=None, dtype=np.float32)`` returns a new array of ``shape``;
- ``f_(array, <params>, *, rng=None)`` fills a float32/float64 ``array`` in place and returns it.

``rng`` is a ``numpy.random.Generator`` (used as is) or an int seed (same seed → same weights) or None (fresh
OS entropy). Values are drawn in float64 and rounded to the dtype, so one seed gives the same weights (up to
rounding) in float32 and float64. ``constant``, ``zeros``, ``ones``, ``eye`` and ``dirac`` take ``rng`` only for a
uniform signature and ignore it.

Fans (``fan_in_and_fan_out``): for a weight of shape (out, in, *kernel), fan_in = in·∏kernel and
fan_out = out·∏kernel (PyTorch's convention; a Linear weight is (out_features, in_features)).

Note on the lecture tables: one slide swaps the sigmoid and tanh rows of the Glorot bound table. This module
follows Glorot & Bengio (2010) and PyTorch: the Xavier bound is gain·√(6/(fan_in+fan_out)) with
``calculate_gain("tanh") = 5/3`` and ``calculate_gain("sigmoid") = 1``.

>>> import normcore as nc
>>> w = nc.init.kaiming_normal((64, 32), nonlinearity="relu", rng=0)
>>> w.shape, w.dtype
((64, 32), dtype('float32'))
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from ._checks import integer, real

__all__ = [
    "calculate_gain", "fan_in_and_fan_out", "lsuv",
    "uniform", "uniform_", "normal", "normal_", "constant", "constant_", "zeros", "zeros_", "ones", "ones_",
    "eye", "eye_", "dirac", "dirac_", "xavier_uniform", "xavier_uniform_", "xavier_normal", "xavier_normal_",
    "kaiming_uniform", "kaiming_uniform_", "kaiming_normal", "kaiming_normal_", "lecun_uniform", "lecun_uniform_",
    "lecun_normal", "lecun_normal_", "orthogonal", "orthogonal_", "trunc_normal", "trunc_normal_",
    "sparse", "sparse_", "glorot_uniform", "glorot_uniform_", "glorot_normal", "glorot_normal_",
    "he_uniform", "he_uniform_", "he_normal", "he_normal_",
]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity, param=None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``:
    linear / conv* / sigmoid → 1, tanh → 5/3, relu → √2, leaky_relu → √(2/(1+slope²)) (slope = ``param``,
    default 0.01), selu → 3/4. Unknown names → ValueError."""
    if not isinstance(nonlinearity, str):
        raise TypeError(f"calculate_gain: nonlinearity must be a str, got {type(nonlinearity).__name__}")
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, numbers.Real):
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{', '.join(_LINEAR + ('sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu'))}")


def _shape(shape, fname: str) -> tuple:
    if isinstance(shape, np.ndarray):
        raise TypeError(f"{fname}: shape must be an int or a tuple of ints, got an ndarray "
                        f"(use {fname}_ to fill an array in place)")
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(integer(d, fname, "shape[i]") for d in shape)
    except TypeError:
        raise TypeError(f"{fname}: shape must be an int or a tuple of ints, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{fname}: shape must not have negative sizes, got {dims}")
    return dims


def fan_in_and_fan_out(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape (out, in, *kernel): (in·∏kernel, out·∏kernel), as PyTorch's
    ``_calculate_fan_in_and_fan_out``. ``shape`` may also be an array (its shape is used). Fewer than 2
    dimensions → ValueError."""
    dims = np.shape(shape) if isinstance(shape, np.ndarray) else _shape(shape, "fan_in_and_fan_out")
    if len(dims) < 2:
        raise ValueError("fan_in_and_fan_out: fan in and fan out need a shape with at least 2 dimensions, "
                         f"got {tuple(dims)}")
    receptive = math.prod(dims[2:])
    return dims[1] * receptive, dims[0] * receptive


def _generator(rng, fname: str) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{fname}: rng seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"{fname}: rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def _dtype(dtype, fname: str) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{fname}: dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"{fname}: dtype must be float32 or float64, got {dt}")
    return dt


def _pair(sample):
    """Make ``name(shape, ..., *, rng, dtype)`` and ``name_(array, ..., *, rng)`` from one sampler
    ``_name(shape, gen, fname, <params>) -> float64 ndarray of shape`` (the one definition of the formula)."""
    name = sample.__name__.lstrip("_")
    params = list(inspect.signature(sample).parameters.values())[3:]
    kw = inspect.Parameter.KEYWORD_ONLY
    pos = inspect.Parameter.POSITIONAL_OR_KEYWORD
    sig_new = inspect.Signature([inspect.Parameter("shape", pos)] + params + [
        inspect.Parameter("rng", kw, default=None), inspect.Parameter("dtype", kw, default=np.float32)])
    sig_inplace = inspect.Signature([inspect.Parameter("array", pos)] + params +
                                    [inspect.Parameter("rng", kw, default=None)])

    def _call(sig, fname, first, args, kwargs):
        try:
            bound = sig.bind(first, *args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{fname}: {e}") from None
        bound.apply_defaults()
        a = dict(bound.arguments)
        return a.pop(next(iter(sig.parameters))), a.pop("rng"), a

    def new(shape, *args, **kwargs):
        shape, rng, a = _call(sig_new, name, shape, args, kwargs)
        dt = _dtype(a.pop("dtype"), name)
        dims = _shape(shape, name)
        return np.asarray(sample(dims, _generator(rng, name), name, **a), dtype=dt).reshape(dims)

    def inplace(array, *args, **kwargs):
        array, rng, a = _call(sig_inplace, name + "_", array, args, kwargs)
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{name}_: array must be a numpy.ndarray, got {type(array).__name__}")
        if array.dtype not in (np.float32, np.float64):
            raise TypeError(f"{name}_: array has dtype {array.dtype}; only float32 and float64 are supported")
        if not array.flags.writeable:
            raise ValueError(f"{name}_: array is read-only")
        array[...] = sample(array.shape, _generator(rng, name + "_"), name + "_", **a)
        return array

    doc = (sample.__doc__ or "").strip()
    new.__name__, new.__qualname__, new.__signature__ = name, name, sig_new
    new.__doc__ = f"A new array of ``shape`` (float32 by default): {doc}"
    inplace.__name__, inplace.__qualname__, inplace.__signature__ = name + "_", name + "_", sig_inplace
    inplace.__doc__ = f"Fill ``array`` in place and return it: {doc}"
    new.__module__ = inplace.__module__ = __name__
    return new, inplace


# ---------------------------------------------------------------- the two distribution families
def _uniform_bound(dims, gen, bound):
    """U(−bound, bound)."""
    return gen.uniform(-bound, bound, size=dims)


def _normal_std(dims, gen, std):
    """N(0, std²)."""
    return gen.normal(0.0, std, size=dims)


def _positive(value, fname, pname, strict=False):
    v = real(value, fname, pname)
    if not (v > 0 if strict else v >= 0) or not math.isfinite(v):
        raise ValueError(f"{fname}: {pname} must be {'> 0' if strict else '>= 0'} and finite, got {value!r}")
    return v


def _fan(dims, fname, mode):
    if not isinstance(mode, str) or mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{fname}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if len(dims) < 2:
        raise ValueError(f"{fname}: fan in and fan out need a shape with at least 2 dimensions, got {tuple(dims)}")
    fan_in, fan_out = fan_in_and_fan_out(dims)
    return fan_in if mode == "fan_in" else fan_out


def _scaled_std(gain, fan):
    """std = gain / √fan (0 for an empty shape: nothing is drawn)."""
    return gain / math.sqrt(fan) if fan > 0 else 0.0


def _uniform(dims, gen, fname, a=0.0, b=1.0):
    """U(a, b), as ``torch.nn.init.uniform_``."""
    a, b = real(a, fname, "a"), real(b, fname, "b")
    if not a <= b:
        raise ValueError(f"{fname}: need a <= b, got a={a}, b={b}")
    return gen.uniform(a, b, size=dims)


def _normal(dims, gen, fname, mean=0.0, std=1.0):
    """N(mean, std²), as ``torch.nn.init.normal_``."""
    return real(mean, fname, "mean") + _normal_std(dims, gen, _positive(std, fname, "std"))


def _constant(dims, gen, fname, val):
    """Every element = ``val``, as ``torch.nn.init.constant_``."""
    return np.full(dims, real(val, fname, "val"))


def _zeros(dims, gen, fname):
    """Every element = 0, as ``torch.nn.init.zeros_``."""
    return np.zeros(dims)


def _ones(dims, gen, fname):
    """Every element = 1, as ``torch.nn.init.ones_``."""
    return np.ones(dims)


def _eye(dims, gen, fname):
    """The identity matrix (ones on the main diagonal of a 2-D shape), as ``torch.nn.init.eye_``."""
    if len(dims) != 2:
        raise ValueError(f"{fname}: only 2-dimensional shapes are supported, got {tuple(dims)}")
    return np.eye(*dims)


def _dirac(dims, gen, fname, groups=1):
    """The Dirac delta of a conv weight (out, in, *kernel) with 3 to 5 dimensions: identity on the channels
    at the kernel's centre, per group, as ``torch.nn.init.dirac_`` (preserves the input of a convolution)."""
    if len(dims) not in (3, 4, 5):
        raise ValueError(f"{fname}: only 3, 4 and 5-dimensional shapes are supported, got {tuple(dims)}")
    groups = integer(groups, fname, "groups")
    if groups < 1 or dims[0] % groups:
        raise ValueError(f"{fname}: groups must be >= 1 and divide dim 0 ({dims[0]}), got {groups}")
    w = np.zeros(dims)
    per_group = dims[0] // groups
    centre = tuple(k // 2 for k in dims[2:])
    for g in range(groups):
        for d in range(min(per_group, dims[1])):
            w[(g * per_group + d, d) + centre] = 1.0
    return w


def _xavier_uniform(dims, gen, fname, gain=1.0):
    """Glorot & Bengio (2010): U(−a, a), a = gain·√(6/(fan_in+fan_out)), as ``torch.nn.init.xavier_uniform_``."""
    std = _scaled_std(real(gain, fname, "gain"), sum(_fan_pair(dims, fname)) / 2)
    return _uniform_bound(dims, gen, math.sqrt(3.0) * std)


def _xavier_normal(dims, gen, fname, gain=1.0):
    """Glorot & Bengio (2010): N(0, std²), std = gain·√(2/(fan_in+fan_out)), as ``torch.nn.init.xavier_normal_``."""
    std = _scaled_std(real(gain, fname, "gain"), sum(_fan_pair(dims, fname)) / 2)
    return _normal_std(dims, gen, std)


def _fan_pair(dims, fname):
    if len(dims) < 2:
        raise ValueError(f"{fname}: fan in and fan out need a shape with at least 2 dimensions, got {tuple(dims)}")
    return fan_in_and_fan_out(dims)


def _kaiming_std(dims, fname, a, mode, nonlinearity):
    gain = calculate_gain(nonlinearity, a)
    return _scaled_std(gain, _fan(dims, fname, mode))


def _kaiming_uniform(dims, gen, fname, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He et al. (2015): U(−bound, bound), bound = gain·√(3/fan), gain = calculate_gain(nonlinearity, a),
    fan = fan_in or fan_out per ``mode``, as ``torch.nn.init.kaiming_uniform_``."""
    return _uniform_bound(dims, gen, math.sqrt(3.0) * _kaiming_std(dims, fname, a, mode, nonlinearity))


def _kaiming_normal(dims, gen, fname, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He et al. (2015): N(0, std²), std = gain/√fan, gain = calculate_gain(nonlinearity, a), as
    ``torch.nn.init.kaiming_normal_``."""
    return _normal_std(dims, gen, _kaiming_std(dims, fname, a, mode, nonlinearity))


def _lecun_uniform(dims, gen, fname):
    """LeCun et al. (1998, "Efficient BackProp"): U(−√(3/fan_in), √(3/fan_in)), variance 1/fan_in (Keras'
    lecun_uniform; not in torch.nn.init — it is kaiming_uniform with nonlinearity="linear")."""
    return _uniform_bound(dims, gen, math.sqrt(3.0) * _kaiming_std(dims, fname, None, "fan_in", "linear"))


def _lecun_normal(dims, gen, fname):
    """LeCun et al. (1998): N(0, 1/fan_in) (kaiming_normal with nonlinearity="linear"; Keras' lecun_normal
    truncates at 2 std and rescales, this one does not)."""
    return _normal_std(dims, gen, _kaiming_std(dims, fname, None, "fan_in", "linear"))


def _orthogonal(dims, gen, fname, gain=1.0):
    """Saxe et al. (2013): a (semi-)orthogonal matrix times ``gain`` (shape flattened to (dims[0], -1)), from
    the QR decomposition of a standard normal matrix with the signs of R's diagonal folded into Q, as
    ``torch.nn.init.orthogonal_``: QᵀQ = gain²·I when rows >= cols, QQᵀ = gain²·I when rows < cols."""
    if len(dims) < 2:
        raise ValueError(f"{fname}: only shapes with 2 or more dimensions are supported, got {tuple(dims)}")
    gain = real(gain, fname, "gain")
    rows = dims[0]
    cols = math.prod(dims[1:])
    if rows * cols == 0:
        return np.zeros(dims)
    flat = gen.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(dims)


def _trunc_normal(dims, gen, fname, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """N(mean, std²) truncated to [a, b] (a, b in the values' units, not in stds), as
    ``torch.nn.init.trunc_normal_``. Sampled exactly by rejection (redrawing values outside [a, b]); an
    interval holding less than 1e-6 of the normal's mass → ValueError."""
    mean, std = real(mean, fname, "mean"), _positive(std, fname, "std", strict=True)
    a, b = real(a, fname, "a"), real(b, fname, "b")
    if not a < b:
        raise ValueError(f"{fname}: need a < b, got a={a}, b={b}")
    mass = 0.5 * (math.erf((b - mean) / (std * math.sqrt(2))) - math.erf((a - mean) / (std * math.sqrt(2))))
    if not mass >= 1e-6:
        raise ValueError(f"{fname}: [a, b] = [{a}, {b}] holds {mass:.3g} of N({mean}, {std}²)'s mass; "
                         "it must hold at least 1e-6")
    out = np.empty(math.prod(dims))
    filled = 0
    while filled < out.size:
        need = out.size - filled
        draw = mean + std * gen.standard_normal(min(int(need / mass * 1.1) + 16, 1 << 22))
        keep = draw[(draw >= a) & (draw <= b)][:need]
        out[filled:filled + keep.size] = keep
        filled += keep.size
    return out.reshape(dims)


def _sparse(dims, gen, fname, sparsity, std=0.01):
    """A 2-D weight drawn from N(0, std²) with ⌈sparsity·rows⌉ elements of each column set to 0 (rows chosen
    at random per column), as ``torch.nn.init.sparse_`` (Martens 2010)."""
    if len(dims) != 2:
        raise ValueError(f"{fname}: only 2-dimensional shapes are supported, got {tuple(dims)}")
    sparsity = real(sparsity, fname, "sparsity")
    if not 0 <= sparsity <= 1:
        raise ValueError(f"{fname}: sparsity must be in [0, 1], got {sparsity}")
    rows, cols = dims
    w = _normal_std(dims, gen, _positive(std, fname, "std"))
    zeros = math.ceil(sparsity * rows)
    for c in range(cols):
        w[gen.permutation(rows)[:zeros], c] = 0.0
    return w


uniform, uniform_ = _pair(_uniform)
normal, normal_ = _pair(_normal)
constant, constant_ = _pair(_constant)
zeros, zeros_ = _pair(_zeros)
ones, ones_ = _pair(_ones)
eye, eye_ = _pair(_eye)
dirac, dirac_ = _pair(_dirac)
xavier_uniform, xavier_uniform_ = _pair(_xavier_uniform)
xavier_normal, xavier_normal_ = _pair(_xavier_normal)
kaiming_uniform, kaiming_uniform_ = _pair(_kaiming_uniform)
kaiming_normal, kaiming_normal_ = _pair(_kaiming_normal)
lecun_uniform, lecun_uniform_ = _pair(_lecun_uniform)
lecun_normal, lecun_normal_ = _pair(_lecun_normal)
orthogonal, orthogonal_ = _pair(_orthogonal)
trunc_normal, trunc_normal_ = _pair(_trunc_normal)
sparse, sparse_ = _pair(_sparse)

# Keras names (Glorot = Xavier, He = Kaiming with PyTorch's defaults: gain √2, fan_in).
glorot_uniform, glorot_uniform_ = xavier_uniform, xavier_uniform_
glorot_normal, glorot_normal_ = xavier_normal, xavier_normal_
he_uniform, he_uniform_ = kaiming_uniform, kaiming_uniform_
he_normal, he_normal_ = kaiming_normal, kaiming_normal_


# ---------------------------------------------------------------- LSUV
def _weight_of(layer, i):
    w = layer if isinstance(layer, np.ndarray) else getattr(layer, "weight", None)
    if not isinstance(w, np.ndarray):
        raise TypeError(f"lsuv: layers[{i}] must be an ndarray or have an ndarray .weight, got {type(layer).__name__}")
    if w.dtype not in (np.float32, np.float64):
        raise TypeError(f"lsuv: the weight of layers[{i}] has dtype {w.dtype}; only float32 and float64 are supported")
    if not w.flags.writeable:
        raise ValueError(f"lsuv: the weight of layers[{i}] is read-only; it is rescaled in place")
    return w


def lsuv(layers, x, forward=None, *, tol=0.1, max_iter=10, orthogonal_init=True, rng=None) -> list[float]:
    """Layer-sequential unit-variance initialization (Mishkin & Matas 2015, "All you need is a good init").

    1. (``orthogonal_init``) fill every weight with ``orthogonal_`` (weights with >= 2 dimensions);
    2. for each layer L in order: while |Var(B_L) − 1| >= ``tol`` and fewer than ``max_iter`` rescalings,
       W_L /= √Var(B_L), where B_L is layer L's output on the batch ``x``.

    Two ways to describe the network:

    - ``forward`` given: ``layers`` is a sequence of weight arrays (or objects with an ndarray ``.weight``),
      rescaled in place, and ``forward(x)`` returns the sequence of the layers' outputs (one per entry of
      ``layers``, computed with the current weights). Works with plain NumPy::

          def forward(x):
              h1 = x @ w1.T; h2 = np.tanh(h1) @ w2.T
              return [h1, h2]
          nc.init.lsuv([w1, w2], x, forward)

    - ``forward=None``: ``layers`` is a chain of callables (e.g. ``nc.nn`` modules and your own linear layers);
      ``x`` flows through them in order, and each one with an ndarray ``.weight`` of >= 2 dimensions is
      rescaled on its own output (activations and normalization layers just pass data through).

    Returns the output variance of each rescaled layer after LSUV (in order); a layer that did not reach the
    tolerance within ``max_iter`` rescalings keeps its last variance, so check the result. A layer whose output
    variance is 0 or not finite → ValueError.
    """
    tol = _positive(tol, "lsuv", "tol", strict=True)
    max_iter = integer(max_iter, "lsuv", "max_iter")
    if max_iter < 0:
        raise ValueError(f"lsuv: max_iter must be >= 0, got {max_iter}")
    if isinstance(layers, np.ndarray) or not hasattr(layers, "__iter__"):
        raise TypeError("lsuv: layers must be a list of weight arrays or layers")
    layers = list(layers)
    if forward is None:
        for i, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(f"lsuv: without forward, layers[{i}] must be callable, got {type(layer).__name__}")
        picked = [i for i, layer in enumerate(layers)
                  if isinstance(getattr(layer, "weight", None), np.ndarray) and layer.weight.ndim >= 2]
        weights = [_weight_of(layers[i], i) for i in picked]

        def outputs(h):
            outs = []
            for layer in layers:
                h = layer(h)
                outs.append(h)
            return [outs[i] for i in picked]
    else:
        if not callable(forward):
            raise TypeError(f"lsuv: forward must be callable, got {type(forward).__name__}")
        weights = [_weight_of(layer, i) for i, layer in enumerate(layers)]

        def outputs(h):
            outs = list(forward(h))
            if len(outs) != len(weights):
                raise ValueError(f"lsuv: forward returned {len(outs)} outputs for {len(weights)} layers")
            return outs

    if orthogonal_init:
        gen = _generator(rng, "lsuv")
        for w in weights:
            if w.ndim >= 2:
                orthogonal_(w, rng=gen)
    result = []
    for k, w in enumerate(weights):
        for it in range(max_iter + 1):
            var = float(np.var(np.asarray(outputs(x)[k], dtype=np.float64)))
            if not (math.isfinite(var) and var > 0):
                raise ValueError(f"lsuv: the output of layer {k} has variance {var}; it cannot be rescaled to 1")
            if abs(var - 1.0) < tol or it == max_iter:
                break
            w /= w.dtype.type(math.sqrt(var))
        result.append(var)
    return result
