"""The Python boundary: accepted inputs, TypeError/ValueError for everything else, out=, threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import normcore as nc
import reference as ref

FORWARDS = [nc.relu, nc.leaky_relu, nc.sigmoid]
BACKWARDS = [nc.relu_backward, nc.leaky_relu_backward, nc.sigmoid_backward]


@pytest.mark.parametrize("fn", FORWARDS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [np.arange(4), np.arange(4, dtype=np.int8), np.array([True, False]),
                                 np.ones(3, np.complex64), np.array([1.0, "a"], dtype=object),
                                 np.ones(3, np.float16), np.array(["x"]), [1, 2, 3], 3],
                         ids=["int64", "int8", "bool", "complex64", "object", "float16", "str", "intlist", "int"])
def test_non_float_input_is_type_error_naming_dtype(fn, bad):
    with pytest.raises(TypeError) as e:
        fn(bad)
    assert str(np.asarray(bad).dtype) in str(e.value)
    assert fn.__name__ in str(e.value)


def test_none_and_junk_inputs():
    for junk in (None, object(), "abc"):
        with pytest.raises(TypeError):
            nc.relu(junk)


@pytest.mark.parametrize("fn", FORWARDS, ids=lambda f: f.__name__)
def test_shapes_dtypes_and_array_likes(fn):
    for dtype in (np.float32, np.float64):
        for shape in [(), (0,), (3, 0, 2), (1,), (2, 3, 4)]:
            x = np.full(shape, 0.25, dtype=dtype)
            y = fn(x)
            assert isinstance(y, np.ndarray) and y.dtype == dtype and y.shape == shape
    y = fn([0.5, -1.5])  # a list of floats is float64
    assert y.dtype == np.float64 and y.shape == (2,)
    y = fn(2.0)
    assert y.dtype == np.float64 and y.shape == ()


@pytest.mark.parametrize("fn", FORWARDS, ids=lambda f: f.__name__)
def test_non_contiguous_and_byteswapped_input(fn, rng):
    base = rng.standard_normal((64, 48)).astype(np.float32)
    want = fn(base)
    np.testing.assert_array_equal(fn(base.T), want.T)
    np.testing.assert_array_equal(fn(base[::2, ::3]), want[::2, ::3])
    np.testing.assert_array_equal(fn(np.asfortranarray(base)), want)
    swapped = base.astype(base.dtype.newbyteorder(">"))
    got = fn(swapped)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_out_checks():
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    with pytest.raises(TypeError, match="float64"):
        nc.relu(x, out=np.empty((3, 4), np.float64))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3, 4\)"):
        nc.relu(x, out=np.empty((4, 3), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        nc.relu(x, out=np.empty((4, 3), np.float32).T)
    ro = np.empty((3, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        nc.relu(x, out=ro)
    with pytest.raises(TypeError, match="ndarray"):
        nc.relu(x, out=[0.0] * 12)
    out = np.empty((3, 4), np.float32)
    assert nc.sigmoid(x, out=out) is out


@pytest.mark.parametrize("fn", BACKWARDS, ids=lambda f: f.__name__)
def test_backward_argument_checks(fn):
    dy = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match="float64"):
        fn(dy, np.ones((2, 3), np.float64))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        fn(dy, np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match="int64"):
        fn(np.ones((2, 3), np.int64), dy)
    with pytest.raises(TypeError):  # neither x nor y
        fn(dy)
    with pytest.raises(ValueError):  # both (nc.ArgumentError is a TypeError and a ValueError)
        fn(dy, dy, y=dy)


def test_parameter_types():
    x = np.ones(3, np.float32)
    for bad in ("0.1", None, True, [0.1]):
        with pytest.raises(TypeError, match="negative_slope"):
            nc.leaky_relu(x, bad)
    np.testing.assert_array_equal(nc.leaky_relu(-x, 1), -x)  # ints and numpy scalars are real numbers
    np.testing.assert_array_equal(nc.leaky_relu(-x, np.float32(0.5)), -0.5 * x)
    with pytest.raises(ValueError, match="negative_slope"):
        nc.leaky_relu_backward(x, y=x, negative_slope=-0.5)


def test_thread_count_api(threads):
    nc.set_num_threads(1)
    assert nc.get_num_threads() == 1
    nc.set_num_threads(3)
    assert nc.get_num_threads() == 3
    with pytest.raises(ValueError):
        nc.set_num_threads(0)
    with pytest.raises(TypeError):
        nc.set_num_threads(1.5)


def test_concurrent_calls_from_python_threads(rng):
    xs = [rng.standard_normal(200_000).astype(np.float32) for _ in range(8)]
    want = [ref.sigmoid(x) for x in xs]

    def work(i):
        for _ in range(5):
            got = nc.sigmoid(xs[i])
        return np.max(ref.ulp_error(got, want[i]))

    with ThreadPoolExecutor(4) as pool:
        assert max(pool.map(work, range(8))) <= 4
