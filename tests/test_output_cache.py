"""The output cache: large outputs reuse the buffers of freed outputs, never one still in use."""

import gc

import numpy as np
import pytest

import normcore as nc

BIG = (512, 1024)  # 2 MiB of float32: cached
SMALL = (64, 64)  # 16 KiB: NumPy's allocator


@pytest.fixture(autouse=True)
def default_cache():
    nc.set_output_cache_limit(512 << 20)
    nc.empty_output_cache()
    yield
    nc.set_output_cache_limit(512 << 20)


def ptr(a):
    return a.__array_interface__["data"][0]


def test_freed_output_is_reused_and_live_one_is_not():
    x = np.random.default_rng(0).standard_normal(BIG).astype(np.float32)
    y1 = nc.relu(x)
    p1 = ptr(y1)
    assert p1 % 64 == 0
    y2 = nc.relu(x)
    assert ptr(y2) != p1  # y1 is alive: its buffer is not handed out
    np.testing.assert_array_equal(y1, np.maximum(x, 0))
    del y1
    gc.collect()
    before = nc.output_cache_info()["hits"]
    y3 = nc.sigmoid(x)
    assert ptr(y3) == p1
    assert nc.output_cache_info()["hits"] == before + 1
    np.testing.assert_allclose(y3, 1 / (1 + np.exp(-x.astype(np.float64))), rtol=1e-6)


def test_a_view_keeps_the_buffer_alive():
    x = np.full(BIG, -2.0, np.float32)
    y = nc.relu(x + 3)  # all ones
    view = y[::2]
    p = ptr(y)
    del y
    gc.collect()
    z = nc.relu(x)  # zeros: would overwrite the view if its buffer were reused
    assert ptr(z) != p
    assert np.all(view == 1.0) and np.all(z == 0.0)


def test_limit_zero_frees_and_disables():
    x = np.ones(BIG, np.float32)
    y = nc.relu(x)
    del y
    gc.collect()
    assert nc.output_cache_info()["cached_bytes"] > 0
    nc.set_output_cache_limit(0)
    info = nc.output_cache_info()
    assert info["cached_bytes"] == 0 and info["cached_buffers"] == 0 and info["limit_bytes"] == 0
    y = nc.relu(x)
    del y
    gc.collect()
    assert nc.output_cache_info()["cached_bytes"] == 0


def test_empty_output_cache_keeps_the_limit():
    nc.set_output_cache_limit(64 << 20)
    y = nc.relu(np.ones(BIG, np.float32))
    del y
    gc.collect()
    nc.empty_output_cache()
    info = nc.output_cache_info()
    assert info["cached_bytes"] == 0 and info["limit_bytes"] == 64 << 20


def test_small_outputs_and_live_bytes():
    x = np.ones(SMALL, np.float32)
    before = nc.output_cache_info()
    y = nc.relu(x)
    assert nc.output_cache_info()["misses"] == before["misses"]  # not from the cache
    big = nc.relu(np.ones(BIG, np.float32))
    assert nc.output_cache_info()["live_bytes"] >= big.nbytes
    assert y.flags.c_contiguous and big.flags.c_contiguous and big.flags.writeable


def test_normalization_outputs_come_from_the_cache():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1024, 512)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    y, mean, rstd = nc.layer_norm_forward(x, (512,), None, None)
    assert ptr(y) % 64 == 0
    dx, _, _ = nc.layer_norm_backward(dy, x, (512,), mean, rstd, None)
    ref = nc.layer_norm_backward(dy.astype(np.float64), x.astype(np.float64), (512,), mean.astype(np.float64),
                                 rstd.astype(np.float64), None)[0]
    np.testing.assert_allclose(dx, ref, rtol=1e-4, atol=1e-5)


def test_bad_limits():
    with pytest.raises(ValueError, match="nbytes"):
        nc.set_output_cache_limit(-1)
    with pytest.raises(TypeError, match="nbytes"):
        nc.set_output_cache_limit(1.5)
