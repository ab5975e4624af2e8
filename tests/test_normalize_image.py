"""nc.normalize_image against a float64 NumPy reference and torchvision-style ToTensor + Normalize in PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import normcore as nc

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _reference(images, mean, std, scale, layout):
    y = (images.astype(np.float64) * scale - np.asarray(mean)) / np.asarray(std)
    return np.moveaxis(y, -1, -3) if layout == "NCHW" else y


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (9, 4, 3), (1, 3, 17, 4), (3, 1, 1, 1), (2, 0, 3, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uint8_against_float64_reference(layout, shape, dtype, rng, threads):
    C = shape[-1]
    images = rng.integers(0, 256, shape, dtype=np.uint8)
    mean, std = rng.random(C), rng.random(C) + 0.1
    want = _reference(images, mean, std, 1 / 255, layout).astype(dtype)  # correctly rounded from double
    for n in (1, 2):
        nc.set_num_threads(n)
        got = nc.normalize_image(images, mean, std, out_layout=layout, dtype=dtype)
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_large_batch_threads(threads, rng):
    images = rng.integers(0, 256, (3, 64, 80, 3), dtype=np.uint8)
    want = _reference(images, MEAN, STD, 1 / 255, "NCHW").astype(np.float32)
    for n in (1, 2):
        nc.set_num_threads(n)
        np.testing.assert_array_equal(nc.normalize_image(images, MEAN, STD), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rgb_gather_kernel_every_isa(isa, dtype, threads, rng):
    """The vector RGB → NCHW path: every plane length around the vector widths (vector loop, scalar tail, the
    pixel the vector loop leaves for the last one), and an image big enough for streaming stores, every ISA."""
    mean, std = rng.random(3), rng.random(3) + 0.1
    for hw in (*range(1, 50), 255, 256, 257):
        images = rng.integers(0, 256, (2, 1, hw, 3), dtype=np.uint8)
        want = _reference(images, mean, std, 1 / 255, "NCHW").astype(dtype)
        np.testing.assert_array_equal(nc.normalize_image(images, mean, std, dtype=dtype), want, err_msg=f"hw={hw}")
    images = rng.integers(0, 256, (2, 700, 777, 3), dtype=np.uint8)  # 13 MB of float32 output: streamed
    want = _reference(images, mean, std, 1 / 255, "NCHW").astype(dtype)
    for n in (1, 2):
        nc.set_num_threads(n)
        np.testing.assert_array_equal(nc.normalize_image(images, mean, std, dtype=dtype), want)


@pytest.mark.parametrize("in_dtype", [np.float32, np.float64])
def test_float_images(in_dtype, rng):
    images = rng.random((2, 6, 5, 3)).astype(in_dtype)
    got = nc.normalize_image(images, MEAN, STD, scale=1.0)
    want = _reference(images, MEAN, STD, 1.0, "NCHW")
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    strided = nc.normalize_image(images[:, ::2], MEAN, STD, scale=1.0, out_layout="NHWC", dtype=np.float64)
    np.testing.assert_allclose(strided, _reference(images[:, ::2], MEAN, STD, 1.0, "NHWC"), rtol=1e-15)


def test_torch_to_tensor_normalize(rng):
    torch = pytest.importorskip("torch")
    images = rng.integers(0, 256, (2, 9, 11, 3), dtype=np.uint8)
    t = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)  # ToTensor
    want = ((t - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)).numpy()  # Normalize
    np.testing.assert_allclose(nc.normalize_image(images, MEAN, STD), want, rtol=1e-6, atol=1e-6)


def test_out_and_bad_input(rng):
    images = rng.integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
    out = np.empty((2, 3, 4, 4), np.float32)
    assert nc.normalize_image(images, MEAN, STD, out=out) is out
    np.testing.assert_array_equal(out, nc.normalize_image(images, MEAN, STD))
    np.testing.assert_array_equal(nc.normalize_image(images, 0.5, 0.25),
                                  nc.normalize_image(images, [0.5] * 3, [0.25] * 3))
    with pytest.raises(ValueError, match=r"mean has 2 .* 3 channels"):
        nc.normalize_image(images, MEAN[:2], STD)
    with pytest.raises(ValueError, match=r"std 4 values"):
        nc.normalize_image(images, MEAN, STD + (1.0,))
    with pytest.raises(ValueError, match="std must be nonzero"):
        nc.normalize_image(images, MEAN, (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="out_layout"):
        nc.normalize_image(images, MEAN, STD, out_layout="CHW")
    with pytest.raises(TypeError, match="dtype"):
        nc.normalize_image(images, MEAN, STD, dtype=np.int32)
    with pytest.raises(TypeError, match="int16"):
        nc.normalize_image(images.astype(np.int16), MEAN, STD)
    with pytest.raises(ValueError, match=r"\(H, W, C\) or \(N, H, W, C\)"):
        nc.normalize_image(images[0, 0], MEAN, STD)
    with pytest.raises(ValueError, match="out has shape"):
        nc.normalize_image(images, MEAN, STD, out=np.empty((2, 4, 4, 3), np.float32))
    with pytest.raises(TypeError, match="out has dtype"):
        nc.normalize_image(images, MEAN, STD, out=np.empty((2, 3, 4, 4), np.float64))
