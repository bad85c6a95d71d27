"""1x1 windows at stride 1 without padding (a Dense layer, a 1x1 convolution): the window matrix
is the input itself and its gradient is dA_prev itself, with no copy and no scatter."""

import numpy as np
import pytest

import cnnstep
from cnnstep import reference
from cnnstep._kernels import config as _config
from cnnstep._kernels import im2col as _im2col
from tests.helpers import max_relative_difference, tolerance

POINTWISE = [
    ((3, 5, 4, 6), (1, 1, 6, 7)),  # a 1x1 convolution
    ((5, 1, 1, 40), (1, 1, 40, 3)),  # a Dense layer: a 1x1 image
    ((1, 2, 3, 1), (1, 1, 1, 1)),
]
HP = {"stride": 1, "pad": 0}


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def _case(rng, a_shape, w_shape, dtype):
    A = rng.normal(size=a_shape).astype(dtype)
    W = rng.normal(size=w_shape).astype(dtype)
    b = rng.normal(size=(1, 1, 1, w_shape[3])).astype(dtype)
    return A, W, b


def test_the_pointwise_geometry_is_exactly_1x1_stride_1_no_padding():
    def g(w_shape, hp):
        from cnnstep._kernels import checks

        return checks.conv_geometry((2, 5, 5, w_shape[2]), w_shape, hp, "test")

    assert _im2col.pointwise(g((1, 1, 3, 4), HP))
    assert not _im2col.pointwise(g((1, 1, 3, 4), {"stride": 1, "pad": 1}))
    assert not _im2col.pointwise(g((1, 1, 3, 4), {"stride": 2, "pad": 0}))
    assert not _im2col.pointwise(g((1, 1, 3, 4), {"stride": (1, 2), "pad": 0}))
    assert not _im2col.pointwise(g((1, 2, 3, 4), HP))
    assert not _im2col.pointwise(g((2, 1, 3, 4), HP))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_shape, w_shape", POINTWISE)
@pytest.mark.parametrize("threads", [1, 2])
def test_pointwise_convolutions_agree_with_the_loops_and_leave_the_input_alone(rng, dtype, a_shape, w_shape, threads):
    A, W, b = _case(rng, a_shape, w_shape, dtype)
    A_before = A.copy()
    previous = cnnstep.set_num_threads(threads)
    try:
        Z, cache = cnnstep.conv_forward(A, W, b, HP)
        dZ = rng.normal(size=Z.shape).astype(dtype)
        dZ_before = dZ.copy()
        dA, dW, db = cnnstep.conv_backward(dZ, cache)
    finally:
        cnnstep.set_num_threads(previous)
    ref = [a.astype(np.float64) for a in (A, W, b)]
    Z_ref, ref_cache = reference.conv_forward(*ref, HP)
    dA_ref, dW_ref, db_ref = reference.conv_backward(dZ.astype(np.float64), ref_cache)
    n_C_prev, m_positions = w_shape[2], a_shape[0] * a_shape[1] * a_shape[2]
    assert max_relative_difference(Z, Z_ref) <= tolerance(dtype, n_C_prev)
    assert max_relative_difference(dA, dA_ref) <= tolerance(dtype, w_shape[3])
    assert max_relative_difference(dW, dW_ref) <= tolerance(dtype, m_positions)
    assert max_relative_difference(db, db_ref) <= tolerance(dtype, m_positions)
    assert all(x.dtype == dtype for x in (Z, dA, dW, db))
    np.testing.assert_array_equal(A, A_before)
    np.testing.assert_array_equal(dZ, dZ_before)
    assert not np.shares_memory(dA, A) and not np.shares_memory(Z, A)
    assert not np.shares_memory(dA, dZ)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pointwise_chunks_give_the_same_bits_for_any_thread_count(rng, monkeypatch, dtype):
    # a workspace of about two examples: several chunks, each its own slice of the input
    A, W, b = _case(rng, (7, 6, 5, 8), (1, 1, 8, 9), dtype)
    monkeypatch.setattr(_config, "_workspace_bytes", 2 * 2 * 6 * 5 * 8 * np.dtype(dtype).itemsize)
    results = []
    for threads in (1, 2, 3):
        previous = cnnstep.set_num_threads(threads)
        try:
            Z, cache = cnnstep.conv_forward(A, W, b, HP)
            results.append((Z, *cnnstep.conv_backward(np.ones_like(Z), cache)))
        finally:
            cnnstep.set_num_threads(previous)
    for other in results[1:]:
        for x, y in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(x, y)
    Z_ref, ref_cache = reference.conv_forward(A.astype(np.float64), W.astype(np.float64), b.astype(np.float64), HP)
    assert max_relative_difference(results[0][0], Z_ref) <= tolerance(dtype, 8)
    dA_ref = reference.conv_backward(np.ones(Z_ref.shape), ref_cache)[0]
    assert max_relative_difference(results[0][1], dA_ref) <= tolerance(dtype, 9)


def test_few_channel_pointwise_convolutions_read_the_input_in_place_not_banded():
    from cnnstep._kernels import band as _band
    from cnnstep._kernels import checks

    pointwise = checks.conv_geometry((2, 8, 8, 3), (1, 1, 3, 8), HP, "test")
    assert not _band.applicable(pointwise)
    # the same few channels with any other 1x1 geometry stay banded
    assert _band.applicable(checks.conv_geometry((2, 8, 8, 3), (1, 1, 3, 8), {"stride": 1, "pad": 1}, "test"))
    assert _band.applicable(checks.conv_geometry((2, 8, 8, 3), (1, 2, 3, 8), HP, "test"))


def test_a_strided_view_of_an_input_takes_the_copying_path_and_agrees(rng):
    base = rng.normal(size=(3, 8, 5, 6))
    A = base[:, ::2]  # not contiguous: its windows are copied as for any other geometry
    W, b = rng.normal(size=(1, 1, 6, 4)), rng.normal(size=(1, 1, 1, 4))
    Z, cache = cnnstep.conv_forward(A, W, b, HP)
    Z_ref, _ = reference.conv_forward(np.ascontiguousarray(A), W, b, HP)
    assert max_relative_difference(Z, Z_ref) <= tolerance(np.float64)
    dZ = rng.normal(size=Z.shape)
    for fast, slow in zip(cnnstep.conv_backward(dZ, cache), reference.conv_backward(dZ, cache), strict=True):
        assert max_relative_difference(fast, slow) <= tolerance(np.float64)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_pixel_reaches_only_its_own_outputs(rng, bad):
    A, W, b = _case(rng, (2, 4, 3, 5), (1, 1, 5, 6), np.float64)
    A[1, 2, 0, 3] = bad
    Z, cache = cnnstep.conv_forward(A, W, b, HP)
    Z_ref, _ = reference.conv_forward(A, W, b, HP)
    np.testing.assert_array_equal(np.isnan(Z), np.isnan(Z_ref))
    np.testing.assert_array_equal(np.isinf(Z), np.isinf(Z_ref))
    assert not np.isfinite(Z[1, 2, 0]).any() and np.isfinite(np.delete(Z.reshape(-1, 6), 1 * 12 + 2 * 3, 0)).all()
    dZ = rng.normal(size=Z.shape)
    dZ[0, 3, 1, 2] = bad
    for fast, slow in zip(cnnstep.conv_backward(dZ, cache), reference.conv_backward(dZ, cache), strict=True):
        np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
        np.testing.assert_array_equal(np.isinf(fast), np.isinf(slow))
        finite = np.isfinite(slow)
        assert max_relative_difference(fast[finite], slow[finite]) <= tolerance(np.float64)
