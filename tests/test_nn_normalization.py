"""nc.nn normalization layers against torch.nn: outputs, gradients (input and parameters), running statistics
over several training steps (momentum and momentum=None), eval mode, state dicts loaded from PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import normcore as nc
from conftest import needs_torch

pytestmark = needs_torch

# (our layer, torch layer, constructor args, input shape, channel axis of the input)
LAYERS = [
    ("BatchNorm1d", (5,), {}, (8, 5), 1),
    ("BatchNorm1d", (5,), {"momentum": None}, (8, 5, 7), 1),
    ("BatchNorm2d", (4,), {}, (3, 4, 5, 6), 1),
    ("BatchNorm2d", (4,), {"affine": False}, (3, 4, 5, 6), 1),
    ("BatchNorm2d", (4,), {"channel_axis": -1}, (3, 5, 6, 4), -1),
    ("BatchNorm3d", (3,), {"track_running_stats": False}, (2, 3, 4, 3, 2), 1),
    ("InstanceNorm1d", (3,), {"affine": True}, (2, 3, 9), 1),
    ("InstanceNorm2d", (4,), {"affine": True, "track_running_stats": True}, (3, 4, 5, 6), 1),
    ("LayerNorm", ((5, 6),), {}, (3, 4, 5, 6), None),
    ("LayerNorm", (6,), {"bias": False}, (2, 6), None),
    ("GroupNorm", (2, 4), {}, (3, 4, 5, 6), None),
    ("GroupNorm", (1, 4), {"affine": False}, (1, 4, 3), None),
    ("RMSNorm", ((6,),), {}, (3, 4, 6), None),
]


def _torch_layer(name, args, kwargs):
    import torch

    kwargs = {k: v for k, v in kwargs.items() if k != "channel_axis"}
    return getattr(torch.nn, name)(*args, **kwargs).double()


def _to_torch_layout(x, channel_axis):
    return np.moveaxis(x, -1, 1) if channel_axis == -1 else x


@pytest.mark.parametrize("name,args,kwargs,shape,axis", LAYERS, ids=lambda v: str(v))
def test_matches_torch_over_steps(name, args, kwargs, shape, axis, rng):
    import torch

    ours = getattr(nc.nn, name)(*args, **kwargs, dtype=np.float64)
    theirs = _torch_layer(name, args, kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    # random affine parameters, the same on both sides
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + 3
        dy = rng.standard_normal(shape)
        xt = torch.from_numpy(_to_torch_layout(x, axis).copy()).requires_grad_(True)
        yt = theirs(xt)
        yt.backward(torch.from_numpy(_to_torch_layout(dy, axis).copy()))
        y = ours(x)
        np.testing.assert_allclose(_to_torch_layout(y, axis), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        dx = ours.backward(dy)
        np.testing.assert_allclose(_to_torch_layout(dx, axis), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
        for k, p in theirs.named_parameters():
            np.testing.assert_allclose(ours.grads[k], p.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=k)
            p.grad = None
        for k, v in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), rtol=1e-12, atol=1e-14, err_msg=k)
    # evaluation mode
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(shape)
    xt = torch.from_numpy(_to_torch_layout(x, axis).copy()).requires_grad_(True)
    yt = theirs(xt)
    yt.backward(torch.from_numpy(_to_torch_layout(dy, axis).copy()))
    np.testing.assert_allclose(_to_torch_layout(ours(x), axis), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_to_torch_layout(ours.backward(dy), axis), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    for k, p in theirs.named_parameters():
        np.testing.assert_allclose(ours.grads[k], p.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=k)


def test_float32_layer_on_float64_input(rng):
    layer = nc.nn.BatchNorm2d(3)
    x = rng.standard_normal((4, 3, 2, 2))
    y = layer(x)
    assert y.dtype == np.float64 and layer.state_dict()["running_mean"].dtype == np.float32
    assert int(layer.state_dict()["num_batches_tracked"]) == 1
    np.testing.assert_allclose(layer.state_dict()["running_mean"], 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="expected 4D input"):
        nc.nn.BatchNorm2d(3)(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="divisible"):
        nc.nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match="num_features"):
        nc.nn.BatchNorm1d(0)
    with pytest.raises(ValueError, match="channel_axis"):
        nc.nn.BatchNorm1d(3, channel_axis=2)
    with pytest.raises(ValueError, match="missing keys"):
        nc.nn.BatchNorm1d(3).load_state_dict({"weight": np.ones(3)})
    with pytest.raises(RuntimeError, match="forward first"):
        nc.nn.LayerNorm(3).backward(np.ones((2, 3)))
