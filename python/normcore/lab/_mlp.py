"""The lab's one multilayer perceptron, forward and backward with normcore's kernels (NumPy matmul for the linear
layers): hidden layers Linear → [BatchNorm] → activation, then an optional linear head (logits).

Used by ``gradient_flow`` (gradients per layer at initialization) and ``batchnorm_effect`` (SGD training).
"""

from __future__ import annotations

import numpy as np

from ..normalization import batch_norm, batch_norm_backward, batch_norm_forward
from ..structured import log_softmax, log_softmax_backward


class MLP:
    """``weights``: the (out, in) matrices of the linear layers, in order; every layer but the last is a hidden
    layer (Linear → [BatchNorm] → ``act``), the last is a plain linear head when ``head`` (else hidden too).

    Linear layers have a zero bias, except before a BatchNorm (whose shift β makes it redundant). BatchNorm starts
    with γ = 1, β = 0 and running statistics (0, 1), momentum 0.1, eps 1e-5. Arrays keep the weights' dtype."""

    def __init__(self, weights, act, *, batchnorm=False, head=True):
        self.weights = [np.ascontiguousarray(w) for w in weights]
        self.act = act
        self.batchnorm = bool(batchnorm)
        self.n_hidden = len(self.weights) - (1 if head else 0)
        dtype = self.weights[0].dtype
        self.biases, self.bn = [], []
        for i, w in enumerate(self.weights):
            hidden_bn = self.batchnorm and i < self.n_hidden
            self.biases.append(None if hidden_bn else np.zeros(w.shape[0], dtype))
            self.bn.append({"weight": np.ones(w.shape[0], dtype), "bias": np.zeros(w.shape[0], dtype),
                            "running_mean": np.zeros(w.shape[0], dtype),
                            "running_var": np.ones(w.shape[0], dtype)} if hidden_bn else None)
        #: per layer after a forward: "input", "output" (and for hidden layers "preact", the activation's input;
        #: with BatchNorm in training "bn_input", "mean", "rstd")
        self.cache: list[dict] = []

    def forward(self, x, training=True):
        """The network's output for the batch x of shape (batch, in); ``training``: BatchNorm with the batch's
        statistics (running statistics updated), else with the running ones. Keeps what backward needs."""
        cache = []
        h = x
        for i, w in enumerate(self.weights):
            c = {"input": h}
            z = h @ w.T
            if self.biases[i] is not None:
                z += self.biases[i]
            if i < self.n_hidden:
                bn = self.bn[i]
                if bn is not None and training:
                    c["bn_input"] = z
                    z, c["mean"], c["rstd"] = batch_norm_forward(z, bn["weight"], bn["bias"],
                                                                 running_mean=bn["running_mean"],
                                                                 running_var=bn["running_var"])
                elif bn is not None:
                    z = batch_norm(z, bn["running_mean"], bn["running_var"], bn["weight"], bn["bias"])
                c["preact"] = z
                h = self.act.forward(z)
                if h.shape != z.shape:
                    raise ValueError(f"activation {self.act.name!r} changes the layer's shape {z.shape} to "
                                     f"{h.shape}; the lab's MLP needs an activation that keeps it")
            else:
                h = z
            c["output"] = h
            cache.append(c)
        self.cache = cache
        return h

    def backward(self, grad_output):
        """Backpropagate ∂L/∂output through the last training forward. Returns one dict per layer: ``output``
        (∂L/∂ the layer's output), ``weight``, ``bias`` (None without bias), ``bn_weight``, ``bn_bias`` (None
        without BatchNorm)."""
        grads = [None] * len(self.weights)
        g = grad_output
        for i in reversed(range(len(self.weights))):
            c = self.cache[i]
            d = {"output": g, "bn_weight": None, "bn_bias": None}
            if i < self.n_hidden:
                g = self.act.backward(g, c["preact"])
                if self.bn[i] is not None:
                    g, d["bn_weight"], d["bn_bias"] = batch_norm_backward(g, c["bn_input"], c["mean"], c["rstd"],
                                                                          self.bn[i]["weight"])
            d["weight"] = g.T @ c["input"]
            d["bias"] = g.sum(axis=0) if self.biases[i] is not None else None
            g = g @ self.weights[i]
            grads[i] = d
        return grads

    def sgd_step(self, grads, lr):
        """Plain SGD, in place: p ← p − lr·∂L/∂p for every weight, bias and BatchNorm γ, β."""
        for i, d in enumerate(grads):
            self.weights[i] -= lr * d["weight"]
            if self.biases[i] is not None:
                self.biases[i] -= lr * d["bias"]
            if self.bn[i] is not None:
                self.bn[i]["weight"] -= lr * d["bn_weight"]
                self.bn[i]["bias"] -= lr * d["bn_bias"]


def cross_entropy(logits, labels):
    """Mean cross-entropy of integer ``labels`` under softmax(logits) → (loss, ∂loss/∂logits), with normcore's
    log_softmax and its backward."""
    n = logits.shape[0]
    logp = log_softmax(logits, axis=1)
    rows = np.arange(n)
    grad_logp = np.zeros_like(logp)
    grad_logp[rows, labels] = -1.0 / n
    return float(-logp[rows, labels].mean()), log_softmax_backward(grad_logp, y=logp, axis=1)
