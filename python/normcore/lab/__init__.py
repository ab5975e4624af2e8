"""The lab: the classic experiments of the lecture material, reproduced with normcore's kernels.

* ``activation_statistics`` — per-layer activation mean / std / histogram through a deep MLP for an
  initialization and an activation (the lecture's tables: small init collapses, large saturates, He + ReLU holds).
* ``gradient_flow`` — per-layer gradient norms of the same MLP with a cross-entropy head: vanishing gradients with
  sigmoid or a small init, healthy ones with He + ReLU or with BatchNorm.
* ``saturation`` — the fraction of units whose derivative is at most a tenth of the activation's peak, for
  pre-activations of several scales (unnormalized inputs saturate sigmoid and tanh).
* ``batchnorm_effect`` — small MLPs trained with plain SGD on scikit-learn's digits with and without BatchNorm,
  for several activations and inits: steps to a target test accuracy, final accuracy, loss / accuracy curves.

The networks run forward and backward on normcore's kernels (activation forward / backward, batch_norm_forward /
batch_norm_backward, log_softmax and its backward), with NumPy matmul for the linear layers, in float64.
``python -m normcore lab init|gradients|saturation|batchnorm [--plot PATH.png]`` prints the tables and draws the
figures (matplotlib).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import init as _init
from ..registry import Activation, activation as _registry_activation
from ._mlp import MLP, cross_entropy

__all__ = ["activation_statistics", "gradient_flow", "saturation", "batchnorm_effect"]

# init name → std multiplier of N(0, 1) weights for fan_in inputs (the lecture's four schemes)
_LECTURE_INITS = {
    "small": lambda fan_in: 0.01,
    "large": lambda fan_in: 1.0,
    "xavier": lambda fan_in: 1.0 / np.sqrt(fan_in),
    "he": lambda fan_in: np.sqrt(2.0 / fan_in),
}
# nc.init names that build a weight from its shape alone
_SHAPE_INITS = ("uniform", "normal", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
                "lecun_uniform", "lecun_normal", "orthogonal", "trunc_normal", "glorot_uniform", "glorot_normal",
                "he_uniform", "he_normal", "eye", "zeros", "ones")


def _positive_int(value, fname, pname):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{fname}: {pname} must be a positive int, got {value!r}")
    return int(value)


def _positive_float(value, fname, pname):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fname}: {pname} must be a number, got {type(value).__name__}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{fname}: {pname} must be a positive finite number, got {value!r}")
    return float(value)


def _activation(activation):
    """An ``nc.activation(...)`` object as it is, or a catalog name (then with its default parameters)."""
    return activation if isinstance(activation, Activation) else _registry_activation(activation)


def _check_init(init, fname):
    if not isinstance(init, str):
        raise TypeError(f"{fname}: init must be a str, got {type(init).__name__}")
    if init not in _LECTURE_INITS and init not in _SHAPE_INITS:
        raise ValueError(f"{fname}: unknown init {init!r}; expected one of "
                         f"{', '.join(list(_LECTURE_INITS) + list(_SHAPE_INITS))}")
    return init


def _weight(init, shape, gen):
    """A float64 (out, in) weight for a checked init name, drawn from the generator ``gen``."""
    if init in _LECTURE_INITS:
        return gen.standard_normal(shape) * _LECTURE_INITS[init](shape[1])
    return getattr(_init, init)(shape, rng=gen, dtype=np.float64)


def activation_statistics(depth=10, width=500, batch=1000, init="xavier", activation="tanh", seed=0, *,
                          bins=50) -> list[dict]:
    """Forward a batch x ~ N(0, 1) of shape (batch, width) through ``depth`` layers h ← act(h·Wᵀ), W: (width,
    width), and return one row per layer: ``{"layer", "mean", "std", "hist_counts", "hist_edges"}`` (histogram
    of the layer's activations, ``bins`` bins over their range).

    ``init``: "small" (0.01·N(0,1)), "large" (1.0·N(0,1)), "xavier" (N(0,1)/√fan_in), "he" (N(0,1)·√(2/fan_in)),
    or the name of an ``nc.init`` initializer that needs only a shape (e.g. "orthogonal", "kaiming_uniform").
    ``activation``: any name of ``nc.ACTIVATIONS`` taking no required parameter, or an ``nc.activation(name,
    **params)`` object (e.g. ``nc.activation("leaky_relu", negative_slope=0.2)``). Deterministic for a ``seed``.

    The lecture's observations (500 units, 10 layers, batch 1000): small+tanh collapses to 0; large+tanh
    saturates (std ≈ 0.98); Xavier+tanh decays from ≈0.63 to ≈0.23; Xavier+ReLU collapses; He+ReLU keeps std ≈ 0.8.
    """
    fname = "activation_statistics"
    depth = _positive_int(depth, fname, "depth")
    width = _positive_int(width, fname, "width")
    batch = _positive_int(batch, fname, "batch")
    bins = _positive_int(bins, fname, "bins")
    _check_init(init, fname)
    act = _activation(activation)
    gen = np.random.default_rng(seed)
    x = gen.standard_normal((batch, width))
    net = MLP([_weight(init, (width, width), gen) for _ in range(depth)], act, head=False)
    net.forward(x)
    rows = []
    for layer, c in enumerate(net.cache, 1):
        h = c["output"]
        counts, edges = np.histogram(h, bins=bins)
        rows.append({"layer": layer, "mean": float(h.mean()), "std": float(h.std()),
                     "hist_counts": counts, "hist_edges": edges})
    return rows


def gradient_flow(depth=10, width=500, batch=1000, init="xavier", activation="tanh", batchnorm=False, seed=0, *,
                  classes=10) -> list[dict]:
    """Gradients per layer at initialization: the network of :func:`activation_statistics` (x ~ N(0, 1) of shape
    (batch, width), ``depth`` hidden layers h ← act(h·Wᵀ), or act(BatchNorm(h·Wᵀ)) with ``batchnorm``) followed
    by a linear head to ``classes`` logits (same init); the loss is the mean cross-entropy of random labels (uniform
    over the classes), backpropagated with normcore's kernels.

    Returns one row per hidden layer: ``{"layer", "act_std", "grad_std", "grad_norm", "weight_grad_norm"}`` —
    std of the layer's activations h, std and Frobenius norm of ∂L/∂h, and Frobenius norm of ∂L/∂W. With the same
    seed (and no BatchNorm) the activations are exactly those of :func:`activation_statistics`.

    ``init`` and ``activation`` as for :func:`activation_statistics`.

    Sigmoid (Xavier, He or small init) makes ∂L/∂W vanish towards the input (orders of magnitude smaller in the
    first layer than in the last); a small init with tanh or ReLU makes ∂L/∂h vanish towards the input and every
    ∂L/∂W tiny; He + ReLU keeps ∂L/∂h constant (∂L/∂W does not vanish: it grows ~10× from the first layer to
    the last); BatchNorm keeps ∂L/∂W within a small factor across layers for any init.
    """
    fname = "gradient_flow"
    depth = _positive_int(depth, fname, "depth")
    width = _positive_int(width, fname, "width")
    batch = _positive_int(batch, fname, "batch")
    classes = _positive_int(classes, fname, "classes")
    _check_init(init, fname)
    if not isinstance(batchnorm, (bool, np.bool_)):
        raise TypeError(f"{fname}: batchnorm must be a bool, got {type(batchnorm).__name__}")
    if batchnorm and batch < 2:
        raise ValueError(f"{fname}: batchnorm needs batch >= 2, got {batch}")
    act = _activation(activation)
    gen = np.random.default_rng(seed)
    x = gen.standard_normal((batch, width))
    weights = [_weight(init, (width, width), gen) for _ in range(depth)] + [_weight(init, (classes, width), gen)]
    labels = gen.integers(classes, size=batch)
    net = MLP(weights, act, batchnorm=batchnorm)
    _, grad_logits = cross_entropy(net.forward(x), labels)
    grads = net.backward(grad_logits)
    return [{"layer": layer, "act_std": float(c["output"].std()), "grad_std": float(d["output"].std()),
             "grad_norm": float(np.linalg.norm(d["output"])), "weight_grad_norm": float(np.linalg.norm(d["weight"]))}
            for layer, (c, d) in enumerate(zip(net.cache[:depth], grads[:depth]), 1)]


# activations whose output is not one value per input value (no elementwise derivative)
_NOT_ELEMENTWISE = ("softmax", "log_softmax", "maxout")


def saturation(input_std=(1.0, 3.0), activation="sigmoid", init="xavier", width=500, batch=1000, seed=0, *,
               threshold=0.1) -> list[dict]:
    """How many units saturate as the input scale grows.

    For each ``s`` in ``input_std``: x ~ s·N(0, 1) of shape (batch, width) goes through one linear layer of
    ``init`` (z = x·Wᵀ; with "xavier" std(z) ≈ s) and the activation. A unit value is *saturated* when its
    derivative is at most ``threshold`` times the activation's peak derivative: |f'(z)| ≤ threshold·max|f'|, the
    gradient it lets through is then cut by 10× or more (default threshold 0.1; for sigmoid |z| ≳ 3.6, outputs
    outside ≈ [0.026, 0.974]; for tanh |z| ≳ 1.8). f' comes from the activation's normcore backward; max|f'| is
    taken over a grid of [−20, 20] with step 1e-3. ReLU-like units count as saturated on their flat side (dead),
    so their fraction stays near 1/2 for any scale.

    Returns one row per ``s``: ``{"input_std", "preact_std", "saturated_fraction", "mean_grad_ratio"}`` (std of z,
    the fraction of saturated values, mean |f'(z)| / max|f'|). ``activation``: a catalog name with an elementwise
    derivative (not softmax, log_softmax, maxout), or an ``nc.activation(name, **params)`` object.
    """
    fname = "saturation"
    stds = input_std if isinstance(input_std, (tuple, list, np.ndarray)) else (input_std,)
    stds = [_positive_float(s, fname, "input_std") for s in stds]
    if not stds:
        raise ValueError(f"{fname}: input_std must hold at least one value")
    width = _positive_int(width, fname, "width")
    batch = _positive_int(batch, fname, "batch")
    _check_init(init, fname)
    threshold = float(threshold) if isinstance(threshold, numbers.Real) and not isinstance(threshold, bool) else None
    if threshold is None or not 0 <= threshold < 1:
        raise ValueError(f"{fname}: threshold must be a number in [0, 1), got {threshold!r}")
    act = _activation(activation)
    if act.name in _NOT_ELEMENTWISE:
        raise ValueError(f"{fname}: activation {act.name!r} has no elementwise derivative; use an elementwise one")
    grid = np.linspace(-20.0, 20.0, 40001)
    peak = float(np.max(np.abs(act.backward(np.ones_like(grid), grid))))
    rows = []
    for s in stds:
        gen = np.random.default_rng(seed)  # the same draws scaled: only the scale changes between rows
        x = s * gen.standard_normal((batch, width))
        z = x @ _weight(init, (width, width), gen).T
        ratio = np.abs(act.backward(np.ones_like(z), z)) / peak if peak > 0 else np.zeros_like(z)
        rows.append({"input_std": s, "preact_std": float(z.std()),
                     "saturated_fraction": float(np.mean(ratio <= threshold)), "mean_grad_ratio": float(ratio.mean())})
    return rows


def _digits(fname, gen):
    """scikit-learn's 8×8 digits (1797 images, bundled with scikit-learn): a seeded 80/20 train/test split,
    standardized per pixel with the training statistics."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(f"{fname} needs scikit-learn for its digits dataset (no download): "
                          "pip install scikit-learn, or normcore[lab]") from None
    from ..preprocess import Standardizer

    data = load_digits()
    x, y = data.data.astype(np.float64), data.target
    order = gen.permutation(len(y))
    test, train = order[:len(y) // 5], order[len(y) // 5:]
    scaler = Standardizer().fit(x[train])
    return scaler.transform(x[train]), y[train], scaler.transform(x[test]), y[test]


def _names(value, fname, pname, kinds=(str,)):
    one = isinstance(value, kinds)
    names = (value,) if one else tuple(value) if isinstance(value, (tuple, list)) else None
    if not names or not all(isinstance(n, kinds) for n in names):
        raise TypeError(f"{fname}: {pname} must be a name or a non-empty tuple of names, got {value!r}")
    return names


def batchnorm_effect(activations=("sigmoid", "relu"), inits=("small", "xavier", "he"), depth=4, width=64, batch=32,
                     epochs=10, lr=0.1, target=0.9, seed=0, *, eval_every=10, progress=None) -> list[dict]:
    """Train the same MLP with and without BatchNorm on scikit-learn's digits (64 standardized pixels, 10
    classes, a seeded 1438/359 train/test split) for every activation × init, and compare how fast they learn.

    Network: ``depth`` hidden layers of ``width`` units (Linear → [BatchNorm] → activation) and a linear head;
    loss: mean cross-entropy; plain SGD with learning rate ``lr`` on minibatches of ``batch`` (reshuffled every
    epoch, the last partial one dropped) for ``epochs`` epochs. For a given seed every configuration starts from
    the same N(0, 1) draws (scaled by the init) and sees the same minibatches, so with / without BatchNorm differ
    only by the BatchNorm layers. Test accuracy (BatchNorm with its running statistics) is measured every
    ``eval_every`` steps, at step 0 and at the end.

    Returns one row per configuration, in the order activations × inits × (without, with BatchNorm):
    ``{"activation", "init", "batchnorm", "steps_to_target", "final_accuracy", "final_loss", "diverged",
    "loss", "eval_steps", "accuracy"}``: the first step whose test accuracy reaches ``target`` (None if never),
    the test accuracy and mean training loss of the last epoch at the end, whether training stopped on a non-finite
    loss, the training loss of every step, and the test accuracy curve (``accuracy[k]`` after ``eval_steps[k]``
    steps). ``progress``: called as progress(steps done, total steps) during training.

    ``activations``: catalog names or ``nc.activation(...)`` objects; ``inits``: as for
    :func:`activation_statistics`. Sigmoid (any init), and ReLU with a small init, do not reach the target without
    BatchNorm in the default 10 epochs, and do within 150 steps with it; ReLU with Xavier / He learns either way.
    Needs scikit-learn (ImportError otherwise). Deterministic for a ``seed``.
    """
    fname = "batchnorm_effect"
    activations = _names(activations, fname, "activations", (str, Activation))
    inits = tuple(_check_init(i, fname) for i in _names(inits, fname, "inits"))
    acts = [_activation(a) for a in activations]
    depth = _positive_int(depth, fname, "depth")
    width = _positive_int(width, fname, "width")
    batch = _positive_int(batch, fname, "batch")
    epochs = _positive_int(epochs, fname, "epochs")
    eval_every = _positive_int(eval_every, fname, "eval_every")
    lr = _positive_float(lr, fname, "lr")
    target = float(target) if isinstance(target, numbers.Real) and not isinstance(target, bool) else None
    if target is None or not 0 < target <= 1:
        raise ValueError(f"{fname}: target must be an accuracy in (0, 1], got {target!r}")
    if progress is not None and not callable(progress):
        raise TypeError(f"{fname}: progress must be callable or None, got {type(progress).__name__}")
    x_train, y_train, x_test, y_test = _digits(fname, np.random.default_rng(seed))
    steps_per_epoch = len(y_train) // batch
    if batch < 2 or steps_per_epoch < 1:
        raise ValueError(f"{fname}: batch must be in [2, {len(y_train)}] (the training set), got {batch}")
    sizes = [x_train.shape[1]] + [width] * depth + [10]
    configs = [(a, i, bn) for a in acts for i in inits for bn in (False, True)]
    total = len(configs) * epochs * steps_per_epoch
    rows = []
    with _one_blas_thread():
        for k, (act, init, bn) in enumerate(configs):
            wgen, order_gen = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])
            net = MLP([_weight(init, (n_out, n_in), wgen) for n_in, n_out in zip(sizes, sizes[1:])], act,
                      batchnorm=bn)
            tick = None if progress is None else (lambda done, k=k: progress(k * epochs * steps_per_epoch + done,
                                                                              total))
            losses, eval_steps, acc, diverged = _train(net, x_train, y_train, x_test, y_test, batch, epochs, lr,
                                                       order_gen, eval_every, tick)
            reached = [s for s, a in zip(eval_steps, acc) if a >= target]
            rows.append({"activation": act.name, "init": init, "batchnorm": bn,
                         "steps_to_target": reached[0] if reached else None, "final_accuracy": acc[-1],
                         "final_loss": float(np.mean(losses[-steps_per_epoch:])), "diverged": diverged,
                         "loss": losses, "eval_steps": eval_steps, "accuracy": acc})
    if progress is not None:
        progress(total, total)
    return rows


def _train(net, x_train, y_train, x_test, y_test, batch, epochs, lr, order_gen, eval_every, tick):
    """Plain minibatch SGD of ``net`` on cross-entropy → (training loss per step, eval steps, test accuracies,
    diverged). ``tick(steps done)`` after every epoch."""

    def accuracy():
        return float(np.mean(np.argmax(net.forward(x_test, training=False), axis=1) == y_test))

    losses, eval_steps, acc = [], [0], [accuracy()]
    steps_per_epoch = len(y_train) // batch
    for _ in range(epochs):
        order = order_gen.permutation(len(y_train))
        for k in range(steps_per_epoch):
            idx = order[k * batch:(k + 1) * batch]
            loss, grad = cross_entropy(net.forward(x_train[idx]), y_train[idx])
            losses.append(loss)
            if not np.isfinite(loss):
                eval_steps.append(len(losses))
                acc.append(accuracy())
                return losses, eval_steps, acc, True
            net.sgd_step(net.backward(grad), lr)
            if len(losses) % eval_every == 0 or len(losses) == epochs * steps_per_epoch:
                eval_steps.append(len(losses))
                acc.append(accuracy())
        if tick is not None:
            tick(len(losses))
    return losses, eval_steps, acc, False


def _one_blas_thread():
    """Single-threaded BLAS while training: the matrices are tiny, and BLAS threads on them cost ~10× the time on a
    busy machine (threadpoolctl comes with scikit-learn; without it nothing changes)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")
