"""SPEC.md's promises beyond the values: shapes, caches, dtypes, immutability, NaN, padding forms."""

import numpy as np
import pytest

import cnnstep
from cnnstep import reference
from tests.helpers import assert_close

IMPLS = [pytest.param(cnnstep, id="fast"), pytest.param(reference, id="reference")]


def frozen_copies(*arrays):
    return [(a, a.copy(), a.flags.writeable) for a in arrays]


def assert_unchanged(copies):
    for original, copy, writeable in copies:
        np.testing.assert_array_equal(original, copy)
        assert original.flags.writeable == writeable


@pytest.mark.parametrize("impl", IMPLS)
def test_no_input_is_modified_and_outputs_are_new_arrays(rng, impl):
    A_prev, W, b = rng.normal(size=(2, 6, 6, 3)), rng.normal(size=(3, 3, 3, 2)), rng.normal(size=(1, 1, 1, 2))
    hp = {"stride": 1, "pad": 0}
    hp_before = dict(hp)
    copies = frozen_copies(A_prev, W, b)
    X_pad = impl.zero_pad(A_prev, 0)
    assert not np.shares_memory(X_pad, A_prev)
    Z, cache = impl.conv_forward(A_prev, W, b, hp)
    dZ = rng.normal(size=Z.shape)
    copies += frozen_copies(dZ)
    grads = impl.conv_backward(dZ, cache)
    for g in (Z, *grads):
        for x in (A_prev, W, b, dZ):
            assert not np.shares_memory(g, x)
    pool_hp = {"f": 2, "stride": 2}
    for mode in ("max", "average"):
        A, pool_cache = impl.pool_forward(A_prev, pool_hp, mode=mode)
        dA = rng.normal(size=A.shape)
        copies += frozen_copies(dA)
        for ties in ("all", "first"):
            dA_prev = impl.pool_backward(dA, pool_cache, mode=mode, ties=ties)
            assert not np.shares_memory(dA_prev, dA) and not np.shares_memory(dA_prev, A_prev)
    window = rng.normal(size=(2, 2))
    copies += frozen_copies(window)
    impl.create_mask_from_window(window)
    impl.conv_single_step(A_prev[0, :3, :3, :], W[..., 0], b[..., 0])
    assert_unchanged(copies)
    assert hp == hp_before and pool_hp == {"f": 2, "stride": 2}


@pytest.mark.parametrize(
    "a_shape, w_shape",
    [
        ((1, 5, 5, 2), (2, 2, 2, 3)),  # banded
        ((1, 6, 6, 9), (3, 3, 9, 4)),  # im2col
        ((1, 30, 30, 16), (3, 3, 16, 16)),
    ],
)  # Winograd
def test_read_only_and_non_contiguous_inputs_give_the_same_results(rng, a_shape, w_shape):
    A_prev, W, b = rng.normal(size=a_shape), rng.normal(size=w_shape), rng.normal(size=(1, 1, 1, w_shape[3]))
    hp, pool_hp = {"stride": 1, "pad": 1}, {"f": 3, "stride": 1}
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    dZ = rng.normal(size=Z.shape)
    expected = (Z, *cnnstep.conv_backward(dZ, cache))
    A, pc = cnnstep.pool_forward(A_prev, pool_hp)
    dA = rng.normal(size=A.shape)
    expected_pool = (A, cnnstep.pool_backward(dA, pc))
    frozen = [x.copy() for x in (A_prev, W, b, dZ, dA)]
    for x in frozen:
        x.flags.writeable = False
    strided = [np.asfortranarray(x) for x in (A_prev, W, b, dZ, dA)]  # same values, other memory order
    for A_x, W_x, b_x, dZ_x, dA_x in (frozen, strided):
        Z2, cache2 = cnnstep.conv_forward(A_x, W_x, b_x, hp)
        for got, want in zip((Z2, *cnnstep.conv_backward(dZ_x, cache2)), expected, strict=True):
            # another memory order may take another BLAS path: the longest sum is dW's, over m n_H n_W
            assert_close(got, want, np.float64, n_terms=Z.size // Z.shape[3] * int(np.prod(w_shape[:3])))
        A2, pc2 = cnnstep.pool_forward(A_x, pool_hp)
        np.testing.assert_array_equal(A2, expected_pool[0])
        np.testing.assert_array_equal(cnnstep.pool_backward(dA_x, pc2), expected_pool[1])


def test_large_finite_data_raises_no_warnings():
    """The non-finite check of the fast kernels must not warn on large but finite data."""
    import warnings

    A_prev = np.full((1, 30, 30, 16), 1e300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Z, cache = cnnstep.conv_forward(
            A_prev, np.full((3, 3, 16, 16), 1e-10), np.zeros((1, 1, 1, 16)), {"stride": 1, "pad": 1}
        )
    assert np.isfinite(Z).all()


@pytest.mark.parametrize("impl", IMPLS)
def test_a_python_number_as_bias_keeps_the_slices_float_type(impl):
    a = np.ones((2, 2, 1), dtype=np.float32)
    assert type(impl.conv_single_step(a, a, 0.5)) is np.float32
    assert type(impl.conv_single_step(a, a, 1)) is np.float32
    assert type(impl.conv_single_step(a, a, np.float64(0.5))) is np.float64  # a NumPy float64 is not weak
    assert impl.conv_single_step(a, a, 0.5) == np.float32(4.5)


@pytest.mark.parametrize("impl", IMPLS)
def test_caches_hold_the_very_objects_passed_in(rng, impl):
    A_prev, W, b = rng.normal(size=(1, 4, 4, 2)), rng.normal(size=(2, 2, 2, 3)), rng.normal(size=(1, 1, 1, 3))
    hp = {"stride": 2, "pad": 0}
    _, cache = impl.conv_forward(A_prev, W, b, hp)
    assert isinstance(cache, tuple) and len(cache) == 4
    assert all(x is y for x, y in zip(cache, (A_prev, W, b, hp), strict=False))
    pool_hp = {"f": 2, "stride": 1}
    _, pool_cache = impl.pool_forward(A_prev, pool_hp)
    assert isinstance(pool_cache, tuple) and len(pool_cache) == 2
    assert pool_cache[0] is A_prev and pool_cache[1] is pool_hp


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_float_dtypes_are_preserved(rng, impl, dtype):
    A_prev = rng.normal(size=(2, 5, 5, 2)).astype(dtype)
    W = rng.normal(size=(3, 3, 2, 3)).astype(dtype)
    b = rng.normal(size=(1, 1, 1, 3)).astype(dtype)
    assert impl.zero_pad(A_prev, 1).dtype == dtype
    Z, cache = impl.conv_forward(A_prev, W, b, {"stride": 1, "pad": "same"})
    assert Z.dtype == dtype
    assert all(g.dtype == dtype for g in impl.conv_backward(Z, cache))
    for mode in ("max", "average"):
        A, pc = impl.pool_forward(A_prev, {"f": 2, "stride": 1}, mode=mode)
        assert A.dtype == dtype
        assert impl.pool_backward(A, pc, mode=mode).dtype == dtype
    assert type(impl.conv_single_step(A_prev[0, :3, :3], W[..., 0], b[..., 0])) is np.dtype(dtype).type
    assert impl.distribute_value(dtype(3), (2, 2)).dtype == dtype


@pytest.mark.parametrize("impl", IMPLS)
def test_integers_compute_in_float64_and_zero_pad_keeps_their_dtype(impl):
    A_prev = np.arange(2 * 4 * 4 * 2, dtype=np.int32).reshape(2, 4, 4, 2)
    assert impl.zero_pad(A_prev, 1).dtype == np.int32
    W = np.ones((2, 2, 2, 1), dtype=np.int64)
    Z, cache = impl.conv_forward(A_prev, W, np.zeros((1, 1, 1, 1), dtype=np.int64), {"stride": 2, "pad": 0})
    assert Z.dtype == np.float64
    assert Z[0, 0, 0, 0] == A_prev[0, :2, :2, :].sum()
    assert all(g.dtype == np.float64 for g in impl.conv_backward(np.ones(Z.shape, dtype=np.int8), cache))
    A, pc = impl.pool_forward(A_prev, {"f": 2, "stride": 2}, mode="average")
    assert A.dtype == np.float64
    assert type(impl.conv_single_step(np.ones((2, 2, 1), int), np.ones((2, 2, 1), int), 1)) is np.float64
    assert impl.distribute_value(3, (2, 2)).dtype == np.float64


@pytest.mark.parametrize("impl", IMPLS)
def test_zero_pad_forms(rng, impl):
    X = rng.normal(size=(2, 3, 4, 2))
    assert impl.zero_pad(X, 0).shape == X.shape
    np.testing.assert_array_equal(impl.zero_pad(X, 0), X)
    X_pad = impl.zero_pad(X, (1, 2))
    assert X_pad.shape == (2, 5, 8, 2)
    np.testing.assert_array_equal(X_pad[:, 1:4, 2:6], X)
    X_pad = impl.zero_pad(X, ((0, 2), (3, 1)))
    assert X_pad.shape == (2, 5, 8, 2)
    np.testing.assert_array_equal(X_pad[:, 0:3, 3:7], X)
    assert np.count_nonzero(X_pad) == np.count_nonzero(X)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("n, f, s", [(5, 4, 1), (6, 4, 1), (7, 3, 2), (8, 2, 3), (1, 4, 1), (9, 5, 4)])
def test_same_padding_gives_ceil_of_input_over_stride(rng, impl, n, f, s):
    A_prev = rng.normal(size=(1, n, n + 1, 1))
    W = rng.normal(size=(f, f, 1, 1))
    Z, _ = impl.conv_forward(A_prev, W, np.zeros((1, 1, 1, 1)), {"stride": s, "pad": "same"})
    assert Z.shape == (1, -(-n // s), -(-(n + 1) // s), 1)
    A, _ = impl.pool_forward(A_prev, {"f": f, "stride": s, "pad": "same"})
    assert A.shape == Z.shape


def test_same_padding_puts_the_odd_pixel_at_the_bottom_right(rng):
    A_prev = rng.normal(size=(1, 4, 4, 1))
    W = rng.normal(size=(4, 4, 1, 1))  # even kernel: total padding 3, split 1 before and 2 after
    b = np.zeros((1, 1, 1, 1))
    Z_same, _ = cnnstep.conv_forward(A_prev, W, b, {"stride": 1, "pad": "same"})
    Z_explicit, _ = cnnstep.conv_forward(A_prev, W, b, {"stride": 1, "pad": ((1, 2), (1, 2))})
    np.testing.assert_array_equal(Z_same, Z_explicit)
    Z_valid, _ = cnnstep.conv_forward(A_prev, W, b, {"stride": 1, "pad": "VALID"})
    assert Z_valid.shape == (1, 1, 1, 1)


@pytest.mark.parametrize("impl", IMPLS)
def test_output_sizes_use_floor_division(rng, impl):
    A_prev = rng.normal(size=(3, 10, 9, 2))
    Z, _ = impl.conv_forward(
        A_prev, rng.normal(size=(3, 2, 2, 4)), np.zeros((1, 1, 1, 4)), {"stride": (3, 2), "pad": (1, 0)}
    )
    assert Z.shape == (3, (10 + 2 - 3) // 3 + 1, (9 - 2) // 2 + 1, 4)
    A, _ = impl.pool_forward(A_prev, {"f": (3, 2), "stride": (2, 4)})
    assert A.shape == (3, (10 - 3) // 2 + 1, (9 - 2) // 4 + 1, 2)


@pytest.mark.parametrize("impl", IMPLS)
def test_stride_and_example_index_are_used(rng, impl):
    """The classic mistakes: forgotten stride, forgotten example index, [pad:-pad] with pad 0."""
    A_prev = rng.normal(size=(3, 6, 6, 1))
    W = np.zeros((2, 2, 1, 1))
    W[0, 0, 0, 0] = 1.0  # picks the top-left cell of each window
    Z, cache = impl.conv_forward(A_prev, W, np.zeros((1, 1, 1, 1)), {"stride": 2, "pad": 0})
    np.testing.assert_array_equal(Z[..., 0], A_prev[:, ::2, ::2, 0])
    dA, dW, db = impl.conv_backward(np.ones_like(Z), cache)
    expected = np.zeros_like(A_prev)
    expected[:, ::2, ::2, :] = 1.0
    np.testing.assert_array_equal(dA, expected)
    A, pc = impl.pool_forward(A_prev, {"f": 1, "stride": 2})
    np.testing.assert_array_equal(A, A_prev[:, ::2, ::2, :])
    np.testing.assert_array_equal(impl.pool_backward(np.ones_like(A), pc), expected)


@pytest.mark.parametrize("impl", IMPLS)
def test_max_pool_backward_gives_every_tie_the_whole_gradient(impl):
    A_prev = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0], [0.0, 0.0, 0.0]]).reshape(1, 3, 3, 1)
    A, cache = impl.pool_forward(A_prev, {"f": 2, "stride": 1})
    dA = np.array([[1.0, 10.0], [100.0, 1000.0]]).reshape(1, 2, 2, 1)
    dA_prev = impl.pool_backward(dA, cache, mode="max")
    expected = np.array([[0.0, 11.0, 10.0], [101.0, 0.0, 1000.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(dA_prev[0, :, :, 0], expected)
    first = impl.pool_backward(dA, cache, mode="max", ties="first")
    np.testing.assert_array_equal(first[0, :, :, 0], [[0.0, 11.0, 0.0], [100.0, 0.0, 1000.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("impl", IMPLS)
def test_mask_marks_every_maximum(impl):
    x = np.array([[2.0, -1.0, 2.0], [0.0, 2.0, 1.0]])
    np.testing.assert_array_equal(impl.create_mask_from_window(x), [[True, False, True], [False, True, False]])
    assert impl.create_mask_from_window(x).dtype == bool
    np.testing.assert_array_equal(
        impl.create_mask_from_window(np.array([[np.nan, 1.0], [2.0, np.nan]])), [[True, False], [False, True]]
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_distribute_value(impl):
    a = impl.distribute_value(3.0, (2, 3))
    assert a.shape == (2, 3)
    np.testing.assert_allclose(a, 0.5)
    assert a.sum() == pytest.approx(3.0)
    assert impl.distribute_value(np.float32(1), (1, 4)).dtype == np.float32


@pytest.mark.parametrize("impl", IMPLS)
def test_average_pool_with_padding_counts_only_real_cells(impl):
    A_prev = np.ones((1, 3, 3, 1))
    A, cache = impl.pool_forward(A_prev, {"f": 3, "stride": 1, "pad": 1}, mode="average")
    np.testing.assert_array_equal(A, np.ones((1, 3, 3, 1)))  # corner windows hold 4 real cells, all ones
    dA_prev = impl.pool_backward(np.ones_like(A), cache, mode="average")
    assert dA_prev.sum() == pytest.approx(A.size)  # each dA spread over real cells only: nothing lost
    A_max, _ = impl.pool_forward(-A_prev, {"f": 3, "stride": 1, "pad": 1}, mode="max")
    np.testing.assert_array_equal(A_max, -np.ones((1, 3, 3, 1)))  # -inf padding never wins


@pytest.mark.parametrize("impl", IMPLS)
def test_nan_is_data_and_propagates_to_the_outputs_it_touches(rng, impl):
    A_prev = rng.normal(size=(2, 6, 6, 1))
    A_prev[1, 0, 0, 0] = np.nan
    W, b = rng.normal(size=(3, 3, 1, 2)), np.zeros((1, 1, 1, 2))
    Z, cache = impl.conv_forward(A_prev, W, b, {"stride": 1, "pad": 0})
    assert np.isnan(Z[1, 0, 0]).all()
    assert not np.isnan(Z[1, 1:, :]).any() and not np.isnan(Z[1, :, 1:]).any() and not np.isnan(Z[0]).any()
    dA, dW, db = impl.conv_backward(np.ones_like(Z), cache)
    # the NaN cell sits at offset (0, 0) of the one window that holds it: only dW[0, 0] touches it
    assert np.isnan(dW[0, 0]).all() and np.isnan(dW).sum() == dW[0, 0].size
    assert not np.isnan(dA).any() and not np.isnan(db).any()
    A, pc = impl.pool_forward(A_prev, {"f": 2, "stride": 2})
    assert np.isnan(A[1, 0, 0, 0]) and np.isnan(A).sum() == 1
    dA_prev = impl.pool_backward(np.ones_like(A), pc)
    assert dA_prev[1, 0, 0, 0] == 1.0 and dA_prev[1, :2, :2, 0].sum() == 1.0  # the NaN is the window's maximum
    dA = np.ones_like(A)
    dA[0, 1, 1, 0] = np.nan
    dA_prev = impl.pool_backward(dA, pc, mode="average")
    assert np.isnan(dA_prev[0, 2:4, 2:4, 0]).all() and np.isnan(dA_prev).sum() == 4


@pytest.mark.parametrize("impl", IMPLS)
def test_empty_batch(impl):
    A_prev = np.zeros((0, 5, 5, 2))
    Z, cache = impl.conv_forward(A_prev, np.ones((3, 3, 2, 4)), np.zeros((1, 1, 1, 4)), {"stride": 1, "pad": 1})
    assert Z.shape == (0, 5, 5, 4)
    dA, dW, db = impl.conv_backward(Z, cache)
    assert dA.shape == A_prev.shape and not dW.any() and not db.any()
    A, pc = impl.pool_forward(A_prev, {"f": 2, "stride": 2})
    assert A.shape == (0, 2, 2, 2) and impl.pool_backward(A, pc).shape == A_prev.shape


def test_workspace_limit_chunks_give_identical_results(rng):
    A_prev, W, b = rng.normal(size=(7, 8, 8, 3)), rng.normal(size=(3, 3, 3, 4)), rng.normal(size=(1, 1, 1, 4))
    hp = {"stride": 1, "pad": 1}
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    dZ = rng.normal(size=Z.shape)
    grads = cnnstep.conv_backward(dZ, cache)
    previous = cnnstep.set_workspace_limit(1)  # one example at a time
    try:
        assert cnnstep.workspace_limit() == 1
        Z_small, _ = cnnstep.conv_forward(A_prev, W, b, hp)
        grads_small = cnnstep.conv_backward(dZ, cache)
    finally:
        cnnstep.set_workspace_limit(previous)
    # chunks of one example sum dW in another order: n_terms is that sum's length
    n_terms = Z.size // Z.shape[3] * int(np.prod(W.shape[:3]))
    assert_close(Z_small, Z, np.float64, n_terms)
    for x, y in zip(grads_small, grads, strict=True):
        assert_close(x, y, np.float64, n_terms)
    with pytest.raises(ValueError, match="set_workspace_limit: nbytes must be a positive integer"):
        cnnstep.set_workspace_limit(0)
