"""Every fast path agrees with the reference on both sides of its selection boundary.

The top level picks a kernel per geometry (Winograd F(2x2, 3x3) for 3x3 stride-1
convolutions with enough channels, im2col otherwise; reshapes for tiled pooling); these
tests pin the configurations that select each one, the edges between them, and chunking.
"""

import threading

import numpy as np
import pytest

import cnnstep
from cnnstep import reference
from cnnstep._kernels import checks as _checks
from cnnstep._kernels import config as _config
from cnnstep._kernels import winograd as _winograd
from tests.helpers import max_relative_difference, rounding_bound


def geometry(A_prev, W, hp):
    return _checks.conv_call(A_prev, W, np.zeros((1, 1, 1, W.shape[3])), hp, "test")[3]


def check_against_reference(rng, a_shape, w_shape, hp, dtype=np.float64, tol=1e-10):
    A_prev = rng.normal(size=a_shape).astype(dtype)
    W = rng.normal(size=w_shape).astype(dtype)
    b = rng.normal(size=(1, 1, 1, w_shape[3])).astype(dtype)
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    Z_ref, _ = reference.conv_forward(A_prev.astype(np.float64), W.astype(np.float64), b.astype(np.float64), hp)
    assert Z.dtype == dtype
    assert max_relative_difference(Z, Z_ref) <= tol
    dZ = rng.normal(size=Z.shape).astype(dtype)
    ref_cache = (A_prev.astype(np.float64), W.astype(np.float64), b.astype(np.float64), hp)
    for fast, slow in zip(
        cnnstep.conv_backward(dZ, cache), reference.conv_backward(dZ.astype(np.float64), ref_cache), strict=False
    ):
        assert fast.dtype == dtype
        assert max_relative_difference(fast, slow) <= tol


WINOGRAD_CASES = [
    ((2, 6, 6, 8), (3, 3, 8, 8), {"stride": 1, "pad": 1}),  # even output
    ((2, 7, 5, 8), (3, 3, 8, 9), {"stride": 1, "pad": 1}),  # odd output sizes
    ((1, 7, 8, 9), (3, 3, 9, 8), {"stride": 1, "pad": 0}),  # pad 0
    ((2, 5, 6, 8), (3, 3, 8, 8), {"stride": 1, "pad": "same"}),
    ((1, 6, 7, 8), (3, 3, 8, 10), {"stride": 1, "pad": ((2, 0), (1, 2))}),  # asymmetric
    ((1, 4, 5, 8), (3, 3, 8, 8), {"stride": 1, "pad": 3}),  # pad > 2
    ((3, 3, 3, 8), (3, 3, 8, 8), {"stride": 1, "pad": (0, 2)}),  # a single output row
]


@pytest.fixture
def small_winograd(monkeypatch):
    """Let small test shapes take the Winograd path (its size thresholds are about speed only)."""
    monkeypatch.setattr(_winograd, "MIN_CHANNELS", 8)
    monkeypatch.setattr(_winograd, "MIN_FORWARD_CHANNELS", 8)
    monkeypatch.setattr(_winograd, "MIN_OUTPUTS", 1)


def test_winograd_selection_thresholds():
    hp = {"stride": 1, "pad": 1}
    picks = {
        (30, 16, 16): True,
        (29, 16, 16): False,  # output positions: 30x30 = 900 is the least
        (32, 15, 64): False,
        (32, 64, 15): False,  # channels: 16 at least, both sides
        (32, 16, 16): True,
    }
    for (side, c_prev, c), expected in picks.items():
        g = geometry(np.zeros((1, side, side, c_prev)), np.zeros((3, 3, c_prev, c)), hp)
        assert _winograd.applicable(g) is expected, (side, c_prev, c)
    forward_picks = {
        (32, 32, 32): True,
        (32, 31, 64): False,
        (32, 64, 31): False,
        (32, 16, 16): False,
        (29, 32, 32): False,
    }
    for (side, c_prev, c), expected in forward_picks.items():
        g = geometry(np.zeros((1, side, side, c_prev)), np.zeros((3, 3, c_prev, c)), hp)
        assert _winograd.applicable(g, forward=True) is expected, (side, c_prev, c)


def test_winograd_backward_selection_on_smaller_images():
    """Below 30x30 outputs the backward still takes Winograd with at least 12x12 outputs,
    min(n_C_prev, n_C) * outputs >= 8192 and a batch of at least 32; the forward does not."""
    hp = {"stride": 1, "pad": 1}
    picks = {
        (32, 16, 32, 64): True,
        (31, 16, 32, 64): False,  # batch: 32 at least
        (32, 16, 32, 32): True,  # 32 * 256 = 8192 is the least work
        (32, 16, 16, 32): False,  # 16 * 256
        (32, 16, 64, 31): False,  # 31 * 256
        (32, 12, 64, 64): True,  # 12x12 = 144 outputs is the least
        (32, 11, 128, 128): False,
        (32, 16, 15, 64): False,  # channels: 16 at least
        (1, 30, 16, 16): True,  # 30x30: any batch, as before
    }
    for (m, side, c_prev, c), expected in picks.items():
        g = geometry(np.zeros((m, side, side, c_prev)), np.zeros((3, 3, c_prev, c)), hp)
        assert _winograd.applicable(g) is expected, (m, side, c_prev, c)
        assert not _winograd.applicable(g, forward=True), (m, side, c_prev, c)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("side", [16, 17])  # even and odd outputs
def test_winograd_backward_on_a_smaller_image_agrees_with_im2col(rng, dtype, side):
    """32 -> 64 channels, 3x3 'same', batch 32 (the default model's sixth layer at side 16): the
    Winograd backward agrees with the im2col kernel (itself checked against the loops), within
    the rounding bound of dW's sum over the batch's positions in float32."""
    from cnnstep._kernels import im2col as _im2col

    hp = {"stride": 1, "pad": 1}
    A_prev = rng.normal(size=(32, side, side, 32)).astype(dtype)
    W = rng.normal(size=(3, 3, 32, 64)).astype(dtype)
    b = np.zeros((1, 1, 1, 64), dtype=dtype)
    g = geometry(A_prev, W, hp)
    assert _winograd.applicable(g) and not _winograd.applicable(g, forward=True)
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    dZ = rng.normal(size=Z.shape).astype(dtype)
    dA, dW, _ = cnnstep.conv_backward(dZ, cache)
    dA_direct, dW_direct = _im2col.conv_backward(dZ, A_prev, W, g, True)
    tol = 1e-10 if dtype == np.float64 else rounding_bound(np.float32, 32 * side * side)
    assert max_relative_difference(dA, dA_direct) <= tol
    assert max_relative_difference(dW, dW_direct) <= tol


def test_between_the_forward_and_backward_channel_thresholds_both_kernels_agree(rng):
    """16 channels: im2col forward, Winograd backward (at a size each is chosen for)."""
    a_shape, w_shape, hp = (2, 30, 30, 16), (3, 3, 16, 16), {"stride": 1, "pad": 1}
    g = geometry(np.zeros(a_shape), np.zeros(w_shape), hp)
    assert _winograd.applicable(g) and not _winograd.applicable(g, forward=True)
    check_against_reference(rng, a_shape, w_shape, hp)


def test_winograd_agrees_with_reference_at_a_size_it_is_chosen_for(rng):
    a_shape, w_shape, hp = (1, 30, 31, 16), (3, 3, 16, 16), {"stride": 1, "pad": 1}
    assert _winograd.applicable(geometry(np.zeros(a_shape), np.zeros(w_shape), hp))
    check_against_reference(rng, a_shape, w_shape, hp)


@pytest.mark.parametrize("a_shape, w_shape, hp", WINOGRAD_CASES)
def test_winograd_path_agrees_with_reference(rng, small_winograd, a_shape, w_shape, hp):
    A_prev = np.zeros(a_shape)
    assert _winograd.applicable(geometry(A_prev, np.zeros(w_shape), hp))
    check_against_reference(rng, a_shape, w_shape, hp)


@pytest.mark.parametrize("channels, expected", [((7, 8), False), ((8, 7), False), ((8, 8), True)])
def test_both_sides_of_the_channel_boundary_agree(rng, small_winograd, channels, expected):
    c_prev, c = channels
    hp = {"stride": 1, "pad": 1}
    assert _winograd.applicable(geometry(np.zeros((1, 5, 5, c_prev)), np.zeros((3, 3, c_prev, c)), hp)) is expected
    check_against_reference(rng, (2, 5, 5, c_prev), (3, 3, c_prev, c), hp)


@pytest.mark.parametrize(
    "w_shape, hp",
    [
        ((3, 3, 8, 8), {"stride": 2, "pad": 1}),
        ((3, 2, 8, 8), {"stride": 1, "pad": 1}),
        ((2, 2, 8, 8), {"stride": 1, "pad": 1}),
        ((3, 3, 8, 8), {"stride": (1, 2), "pad": 1}),
    ],
)
def test_near_misses_use_im2col_and_agree(rng, small_winograd, w_shape, hp):
    assert not _winograd.applicable(geometry(np.zeros((1, 6, 6, 8)), np.zeros(w_shape), hp))
    check_against_reference(rng, (2, 6, 6, 8), w_shape, hp)


@pytest.mark.parametrize(
    "a_shape, w_shape, hp", [WINOGRAD_CASES[1], ((5, 6, 6, 3), (4, 4, 3, 5), {"stride": 2, "pad": "same"})]
)
def test_chunked_batches_agree(rng, monkeypatch, small_winograd, a_shape, w_shape, hp):
    """One example per chunk, with a last chunk smaller than the others."""
    monkeypatch.setattr(_config, "CACHE_CHUNK_BYTES", 1)
    previous = cnnstep.set_workspace_limit(1)
    try:
        check_against_reference(rng, (5,) + a_shape[1:], w_shape, hp)
    finally:
        cnnstep.set_workspace_limit(previous)


CONV_KERNEL_CASES = [
    ("winograd", (5, 7, 6, 8), (3, 3, 8, 9), {"stride": 1, "pad": 1}),
    ("band", (5, 9, 10, 3), (4, 4, 3, 8), {"stride": 1, "pad": "same"}),
    ("band", (5, 9, 10, 3), (3, 3, 3, 16), {"stride": 2, "pad": 0}),  # last block past the output
    ("band", (5, 9, 11, 3), (3, 3, 3, 16), {"stride": 1, "pad": 1}),  # dA_prev by Spread, last block past n_W
    ("im2col", (5, 8, 7, 9), (3, 2, 9, 5), {"stride": (2, 1), "pad": 1}),
]


@pytest.mark.parametrize("kernel, a_shape, w_shape, hp", CONV_KERNEL_CASES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_conv_chunks_shared_out_over_threads_agree(
    rng, monkeypatch, small_winograd, kernel, a_shape, w_shape, hp, threads
):
    """One example per chunk, chunks shared out over threads (uneven groups): the loops' numbers."""
    from cnnstep._kernels import band as _band
    from cnnstep._kernels import parallel as _parallel

    g = geometry(np.zeros(a_shape), np.zeros(w_shape), hp)
    picked = "winograd" if _winograd.applicable(g) else "band" if _band.applicable(g) else "im2col"
    assert picked == kernel
    monkeypatch.setattr(_config, "CACHE_CHUNK_BYTES", 1)
    monkeypatch.setattr(_parallel, "MIN_PARALLEL_SIZE", 0)
    previous = _parallel.set_num_threads(threads)
    try:
        check_against_reference(rng, a_shape, w_shape, hp)
        A_prev, W = rng.normal(size=a_shape), rng.normal(size=w_shape)
        b = np.zeros((1, 1, 1, w_shape[3]))
        Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
        dZ = rng.normal(size=Z.shape)
        from cnnstep.conv import backward_parts

        dA, dW, _ = backward_parts(dZ, cache, input_gradient=False)
    finally:
        _parallel.set_num_threads(previous)
    assert dA is None
    assert max_relative_difference(dW, reference.conv_backward(dZ, cache)[1]) <= 1e-10


@pytest.mark.parametrize("kernel, a_shape, w_shape, hp", CONV_KERNEL_CASES)
def test_outputs_are_the_same_bits_for_any_thread_count(rng, monkeypatch, small_winograd, kernel, a_shape, w_shape, hp):
    """Chunks do not depend on the thread count, so neither do Z and dA_prev (dW may differ in
    its last bits: it is summed per thread)."""
    from cnnstep._kernels import parallel as _parallel

    monkeypatch.setattr(_parallel, "MIN_PARALLEL_SIZE", 0)
    A_prev, W = rng.normal(size=(9,) + a_shape[1:]), rng.normal(size=w_shape)
    b = rng.normal(size=(1, 1, 1, w_shape[3]))
    per_example = A_prev[0].size * 8 * 40  # a few examples per chunk, whatever the kernel
    previous_limit = cnnstep.set_workspace_limit(3 * per_example)
    previous_threads = _parallel.num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            _parallel.set_num_threads(threads)
            Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
            results.append((Z, cnnstep.conv_backward(Z * 0.5, cache)[0]))
    finally:
        cnnstep.set_workspace_limit(previous_limit)
        _parallel.set_num_threads(previous_threads)
    for Z, dA in results[1:]:
        np.testing.assert_array_equal(Z, results[0][0])
        np.testing.assert_array_equal(dA, results[0][1])


@pytest.mark.parametrize(
    "a_shape, w_shape, hp",
    [
        ((4, 32, 32, 32), (3, 3, 32, 32), {"stride": 1, "pad": 1}),  # Winograd backward, im2col forward
        ((8, 8, 8, 16), (3, 3, 16, 16), {"stride": 1, "pad": 1}),  # im2col, one chunk
        ((32, 1, 1, 256), (1, 1, 256, 64), {"stride": 1, "pad": 0}),  # a Dense layer's products
        ((64, 12, 12, 32), (5, 5, 32, 48), {"stride": 2, "pad": 2}),  # im2col, several chunks
    ],
)
def test_one_thread_gives_the_bits_of_several_at_real_sizes(rng, a_shape, w_shape, hp):
    """At the default sizes (some run serially, some in one chunk), one cnnstep thread holds BLAS
    to one thread as the threaded runs do: BLAS's own threads would round the products differently."""
    A_prev = rng.normal(size=a_shape).astype(np.float32)
    W = rng.normal(size=w_shape).astype(np.float32)
    b = rng.normal(size=(1, 1, 1, w_shape[3])).astype(np.float32)
    results = []
    for threads in (1, 2):
        previous = cnnstep.set_num_threads(threads)
        try:
            Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
            results.append((Z, cnnstep.conv_backward(Z * 0.5, cache)[0]))
        finally:
            cnnstep.set_num_threads(previous)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_no_more_groups_at_once_than_the_workspace_holds():
    import threading

    from cnnstep._kernels import parallel as _parallel

    previous_threads = _parallel.set_num_threads(3)
    previous_limit = cnnstep.set_workspace_limit(100)
    try:
        caller = threading.get_ident()
        idents = _parallel.run_groups(lambda group: threading.get_ident(), range(6), size=1 << 30, scratch=50)
        assert len(idents) == 2 and idents[0] == caller != idents[1]  # 100 // 50: two groups
        assert _parallel.run_groups(lambda group: len(group), range(6), size=1 << 30, scratch=101) == [6]
    finally:
        _parallel.set_num_threads(previous_threads)
        cnnstep.set_workspace_limit(previous_limit)


def test_blas_held_to_one_thread_inside_threaded_runs_and_restored_after():
    from cnnstep._kernels import blas as _blas
    from cnnstep._kernels import parallel as _parallel

    if not _blas.available():
        pytest.skip("NumPy's BLAS here is not an OpenBLAS whose threads can be set")
    _, get_threads = _blas._get_control()
    before = get_threads()
    previous = _parallel.set_num_threads(2)
    try:
        inside = _parallel.run_groups(lambda group: get_threads(), range(4), size=1 << 30, blas=True)
        assert inside == [1, 1]
        assert get_threads() == before
        with _blas.single_threaded():  # nested and concurrent runs restore once, at the end
            assert _parallel.run_groups(lambda group: get_threads(), range(4), blas=True) == [1, 1]
            assert get_threads() == 1
        assert get_threads() == before
        with pytest.raises(ZeroDivisionError):
            _parallel.run_groups(lambda group: 1 / 0, range(4), blas=True)
        assert get_threads() == before
    finally:
        _parallel.set_num_threads(previous)


def test_numpys_own_openblas_is_the_one_controlled():
    """The library held to one thread is the one NumPy calls (as threadpoolctl sees it), even
    with another package's OpenBLAS loaded (scipy ships its own)."""
    from cnnstep._kernels import blas as _blas

    threadpoolctl = pytest.importorskip("threadpoolctl")
    pytest.importorskip("scipy.linalg")
    if not _blas.available():
        pytest.skip("NumPy's BLAS here is not a pthreads OpenBLAS whose threads can be set")
    controller = threadpoolctl.ThreadpoolController()
    numpys = [lib for lib in controller.info() if lib["internal_api"] == "openblas" and "numpy" in lib["filepath"]]
    if not numpys:
        pytest.skip("NumPy here does not ship its own OpenBLAS")
    with _blas.single_threaded():
        inside = [
            lib["num_threads"]
            for lib in threadpoolctl.ThreadpoolController().info()
            if lib["filepath"] == numpys[0]["filepath"]
        ]
    assert inside == [1]


def test_winograd_float32_error_is_bounded(rng, small_winograd):
    """F(2x2, 3x3) transforms use 0, +-1 and +-1/2 only: float32 stays within the rounding bound of
    its longest sum (dW's, over m n_H n_W = 576 positions) of float64."""
    n_terms = 4 * 12 * 12
    tol = rounding_bound(np.float32, n_terms)
    check_against_reference(rng, (4, 12, 12, 16), (3, 3, 16, 16), {"stride": 1, "pad": 1}, dtype=np.float32, tol=tol)


@pytest.mark.parametrize("m, th, tw, C", [(1, 1, 1, 1), (2, 3, 4, 5), (3, 5, 2, 2)])
def test_winograd_input_transform_adjoint_is_its_transpose(rng, m, th, tw, C):
    """<input_transform(S), dV> == <S, adjoint(dV)> for any frame S (padding cells included) and dV:
    the input gradient is the exact transpose of the forward transform, overlapping tiles added."""
    S = rng.normal(size=(m, 2 * th + 2, 2, tw + 1, C))
    dV = rng.normal(size=(4, 4, m, th, tw, C))
    V = _winograd.input_transform(S, np.empty((4, m, th, 2, tw + 1, C)), np.empty((4, 4, m, th, tw, C)))
    rows, sums = np.empty((4, m, th, 2, tw + 1, C)), np.empty((4, m, th, tw, C))
    dS = _winograd.input_transform_adjoint(dV, rows, sums, np.full(S.shape, np.nan))
    forward, backward = float(np.sum(V * dV)), float(np.sum(S * dS))
    assert abs(forward - backward) <= rounding_bound(np.float64, 16 * V.size) * np.sum(np.abs(V * dV))


@pytest.mark.parametrize("m, n_H, n_W, K", [(2, 6, 8, 3), (1, 5, 7, 2), (2, 4, 3, 1), (0, 5, 5, 2)])
def test_winograd_gradient_transform_is_A_dY_A_transposed_up_to_its_signs(rng, m, n_H, n_W, K):
    """out[a, b] = SIGNS[a] SIGNS[b] (A dY A^T)[a, b] for every 2x2 block (zeros past an odd edge)."""
    th, tw = (n_H + 1) // 2, (n_W + 1) // 2
    dZ = rng.normal(size=(m, n_H, n_W, K))
    padded = np.zeros((m, 2 * th, 2 * tw, K))
    padded[:, :n_H, :n_W] = dZ
    A = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, -1.0], [0.0, -1.0]])
    # a i , m t i u j k , b j -> a b m t u k
    expected = np.einsum("ai,mtiujk,bj->abmtuk", A, padded.reshape(m, th, 2, tw, 2, K), A)
    even = n_H == 2 * th and n_W == 2 * tw
    blocks = None if even else np.zeros((m, th, 2, tw, 2, K))
    out = _winograd.gradient_transform(dZ, blocks, np.full((4, 4, m, th, tw, K), np.nan))
    signs = _winograd.TILE_SIGNS.reshape(4, 4, 1, 1, 1, 1)
    np.testing.assert_allclose(out, signs * expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("side", [30, 31])  # even and odd outputs
def test_winograd_backward_of_an_empty_batch(side):
    """m = 0 at a size Winograd is chosen for: empty gradients of the right shapes, as the loops give."""
    A_prev, W, b = np.zeros((0, side, side, 16)), np.ones((3, 3, 16, 16)), np.zeros((1, 1, 1, 16))
    hp = {"stride": 1, "pad": 1}
    assert _winograd.applicable(geometry(A_prev, W, hp))
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    dZ = np.zeros_like(Z)
    for fast, slow in zip(cnnstep.conv_backward(dZ, cache), reference.conv_backward(dZ, cache), strict=True):
        assert fast.shape == slow.shape and fast.dtype == slow.dtype
        np.testing.assert_array_equal(fast, slow)


def test_winograd_backward_at_the_default_models_third_convolution(rng):
    """16 -> 32 channels, 3x3 'same' on 30x30 (the path the default model's third layer takes), float32
    within the rounding bound of dW's sum over the batch's positions; the input gradient is not skipped."""
    a_shape, w_shape, hp = (2, 30, 30, 16), (3, 3, 16, 32), {"stride": 1, "pad": "same"}
    assert _winograd.applicable(geometry(np.zeros(a_shape), np.zeros(w_shape), hp))
    tol = rounding_bound(np.float32, 2 * 30 * 30)
    check_against_reference(rng, a_shape, w_shape, hp, dtype=np.float32, tol=tol)


def _chunk_sizes_seen(monkeypatch) -> list:
    """The list every Winograd call appends its chunks' sizes to, from now on."""
    seen = []
    run = _winograd._run

    def spy(task, parts, *args):
        seen.append([part.stop - part.start for part in parts])
        return run(task, parts, *args)

    monkeypatch.setattr(_winograd, "_run", spy)
    return seen


def test_winograd_backward_chunks_are_larger_than_the_forwards(rng, monkeypatch, small_winograd):
    """The backward's chunks hold BACKWARD_CHUNK_SCALE / 2 times the forward's budget: 7 examples
    in chunks of up to 3 where the forward takes up to 2 (spread evenly); both agree with the loops."""
    a_shape, w_shape, hp = WINOGRAD_CASES[1]
    per_example = 16 * 4 * 3 * (8 + 9) * 8  # tiles of a 7x5 output, float64
    monkeypatch.setattr(_config, "CACHE_CHUNK_BYTES", 2 * per_example)
    monkeypatch.setattr(_config, "BALANCE", 1)  # the budgets alone (balancing: tested below)
    assert _winograd.BACKWARD_CHUNK_SCALE == 3
    seen = _chunk_sizes_seen(monkeypatch)
    check_against_reference(rng, (7,) + a_shape[1:], w_shape, hp)
    assert seen == [[1, 2, 2, 2], [2, 2, 3]]


@pytest.mark.parametrize("m, expected", [(5, [2, 3]), (2, [1, 1]), (1, [1])])
def test_winograd_backward_cuts_a_one_chunk_batch_per_processor(rng, monkeypatch, small_winograd, m, expected):
    """A batch within one chunk's budget is still cut in BALANCE chunks (2 here, where it holds
    two examples), so that every processor works on it; the forward keeps one chunk."""
    a_shape, w_shape, hp = WINOGRAD_CASES[1]
    monkeypatch.setattr(_config, "BALANCE", 2)
    seen = _chunk_sizes_seen(monkeypatch)
    check_against_reference(rng, (m,) + a_shape[1:], w_shape, hp)
    assert seen == [[m], expected]


@pytest.mark.parametrize(
    "m, step, balance",
    [(32, 7, 2), (32, 3, 2), (7, 2, 2), (7, 3, 2), (19, 7, 3), (3, 1, 2), (5, 5, 2), (1, 1, 4), (0, 3, 2), (32, 7, 1)],
)
def test_chunks_are_balanced_for_contiguous_groups(monkeypatch, m, step, balance):
    """Chunks cover range(m) in order, hold at most `step` examples and differ by at most one;
    their count is a multiple of BALANCE (or one chunk, or one example each), and contiguous groups
    of equal count hold equal work within one example."""
    from cnnstep._kernels import parallel as _parallel

    monkeypatch.setattr(_config, "BALANCE", balance)
    parts = _config.chunks(m, 10, 10 * step)
    sizes = [part.stop - part.start for part in parts]
    assert parts[0].start == 0 and parts[-1].stop == m
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:], strict=False))
    assert max(sizes) <= step and max(sizes) - min(sizes) <= 1
    assert _config.largest(parts) == max(sizes)
    if m > step:
        assert len(parts) % balance == 0 or len(parts) == m
        assert len(parts) < -(-m // step) + balance
    else:
        assert len(parts) == 1
    if len(parts) % balance == 0:
        totals = [sum(p.stop - p.start for p in group) for group in _parallel._groups(parts, balance)]
        assert max(totals) - min(totals) <= 1
    if balance == 1:  # no rounding: as few chunks as the step allows
        assert len(parts) == max(1, -(-m // step))


@pytest.mark.parametrize("kernel, a_shape, w_shape, hp", CONV_KERNEL_CASES)
def test_conv_chunks_of_unequal_sizes_agree(rng, monkeypatch, small_winograd, kernel, a_shape, w_shape, hp):
    """5 examples in 4 chunks (1, 1, 1, 2: the largest last, where the scratch buffers must still
    hold it), on two threads: the loops' numbers."""
    from cnnstep._kernels import parallel as _parallel

    g = geometry(np.zeros(a_shape), np.zeros(w_shape), hp)
    assert g.m == 5
    real = _config.chunks
    seen = []

    def four(m, bytes_per_example, budget=None):
        parts = real(m, 1, -(-m // 4)) if m == 5 else real(m, bytes_per_example, budget)
        seen.append([p.stop - p.start for p in parts])
        return parts

    monkeypatch.setattr(_config, "BALANCE", 4)
    monkeypatch.setattr(_config, "chunks", four)
    monkeypatch.setattr(_parallel, "MIN_PARALLEL_SIZE", 0)
    previous = _parallel.set_num_threads(2)
    try:
        check_against_reference(rng, a_shape, w_shape, hp)
    finally:
        _parallel.set_num_threads(previous)
    assert [1, 1, 1, 2] in seen


POOL_CASES = [
    ((5, 8, 8, 3), {"f": 2, "stride": 2}),  # tiled: widened rows
    ((5, 9, 7, 3), {"f": 2, "stride": 2}),  # tiled, with uncovered rows and columns
    ((5, 7, 7, 3), {"f": 3, "stride": 1}),  # overlapping: separable routing
    ((5, 8, 9, 2), {"f": (3, 2), "stride": (2, 1)}),
    ((5, 7, 8, 2), {"f": 3, "stride": 2, "pad": "same"}),  # -inf / real-cells-only frame
    ((5, 8, 8, 2), {"f": 2, "stride": 3}),  # gaps between windows
]


@pytest.mark.parametrize("shape, hp", POOL_CASES)
@pytest.mark.parametrize("mode, ties", [("max", "all"), ("max", "first"), ("average", "all")])
@pytest.mark.parametrize("threads", [1, 3])
def test_pooling_chunks_and_threads_agree_with_reference(rng, monkeypatch, shape, hp, mode, ties, threads):
    """One example per chunk shared out over several threads: the same numbers as the loops."""
    from cnnstep._kernels import parallel as _parallel

    monkeypatch.setattr(_config, "POOL_CHUNK_BYTES", 1)
    monkeypatch.setattr(_parallel, "MIN_PARALLEL_SIZE", 0)  # small arrays too
    previous = _parallel.set_num_threads(threads)
    try:
        A_prev = np.maximum(rng.normal(size=shape), 0)  # ties at zero
        A, cache = cnnstep.pool_forward(A_prev, hp, mode)
        dA = rng.normal(size=A.shape)
        dA_prev = cnnstep.pool_backward(dA, cache, mode, ties=ties)
    finally:
        _parallel.set_num_threads(previous)
    assert max_relative_difference(A, reference.pool_forward(A_prev, hp, mode)[0]) <= 1e-12
    assert max_relative_difference(dA_prev, reference.pool_backward(dA, cache, mode, ties=ties)) <= 1e-12


@pytest.mark.parametrize("shape, hp", POOL_CASES)
def test_max_pool_falls_back_exactly_for_nan_windows(rng, shape, hp):
    """A NaN maximum leaves the fast masked routing for the general rule, in that chunk only."""
    A_prev = rng.normal(size=shape)
    A_prev[2, 1, 1, 0] = np.nan
    A, cache = cnnstep.pool_forward(A_prev, hp)
    dA = rng.normal(size=A.shape)
    fast, slow = cnnstep.pool_backward(dA, cache), reference.pool_backward(dA, cache)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=0)


def test_thread_count_setting():
    from cnnstep._kernels import parallel as _parallel

    previous = cnnstep.set_num_threads(2)
    try:
        assert cnnstep.num_threads() == 2
        assert _parallel.run(lambda x: x * x, range(7)) == [x * x for x in range(7)]
    finally:
        cnnstep.set_num_threads(previous)
    for bad, error in ((0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)):
        with pytest.raises(error, match="set_num_threads: n must be a positive integer"):
            cnnstep.set_num_threads(bad)
    previous = cnnstep.set_num_threads(np.int64(3))
    try:
        assert cnnstep.num_threads() == 3
    finally:
        cnnstep.set_num_threads(previous)


def test_an_error_in_one_part_reaches_the_caller():
    from cnnstep._kernels import parallel as _parallel

    def task(x):
        if x == 5:
            raise ZeroDivisionError("part 5")
        return x

    previous = _parallel.set_num_threads(2)
    try:
        caller = threading.get_ident()
        assert _parallel.run(lambda x: threading.get_ident(), range(4), size=10) == [caller] * 4  # small: serial
        idents = _parallel.run(lambda x: threading.get_ident(), range(4), size=1 << 30)
        assert idents[:2] == [caller] * 2 and idents[2] == idents[3] != caller  # large: two threads, in order
        with pytest.raises(ZeroDivisionError, match="part 5"):
            _parallel.run(task, range(8))
    finally:
        _parallel.set_num_threads(previous)


NAN_CASES = [
    ((2, 8, 8, 8), (3, 3, 8, 8), {"stride": 1, "pad": 1}),  # Winograd
    ((2, 9, 10, 3), (4, 4, 3, 8), {"stride": 1, "pad": "same"}),  # banded
    ((2, 9, 10, 3), (3, 3, 3, 16), {"stride": 1, "pad": 0}),  # banded, trailing columns; dA_prev by Spread
    ((2, 9, 11, 3), (5, 5, 3, 16), {"stride": 1, "pad": 2}),  # dA_prev by Spread, last block past n_W
]


@pytest.mark.parametrize("a_shape, w_shape, hp", NAN_CASES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("where", [(1, 0, 0, 0), (0, 3, 4, 1), (1, -1, -1, 2)])
def test_fast_paths_put_nan_and_inf_exactly_where_the_loops_do(rng, small_winograd, a_shape, w_shape, hp, bad, where):
    """Transforms and banded zeros must not carry a NaN to outputs whose windows never held it."""
    A_prev, W = rng.normal(size=a_shape), rng.normal(size=w_shape)
    b = rng.normal(size=(1, 1, 1, w_shape[3]))
    A_prev[where] = bad
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    Z_ref, _ = reference.conv_forward(A_prev, W, b, hp)
    np.testing.assert_array_equal(np.isnan(Z), np.isnan(Z_ref))
    np.testing.assert_array_equal(np.isinf(Z), np.isinf(Z_ref))
    dZ = rng.normal(size=Z.shape)
    dZ[0, 1, 1, 0] = bad
    for fast, slow in zip(cnnstep.conv_backward(dZ, cache), reference.conv_backward(dZ, cache), strict=False):
        np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
        finite = np.isfinite(slow)
        np.testing.assert_allclose(fast[finite], slow[finite], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "a_shape, w_shape, hp", [WINOGRAD_CASES[0], NAN_CASES[1], ((2, 7, 7, 4), (3, 3, 4, 5), {"stride": 2, "pad": 1})]
)
def test_backward_without_the_input_gradient_gives_the_same_parameter_gradients(
    rng, small_winograd, a_shape, w_shape, hp
):
    from cnnstep.conv import backward_parts

    A_prev, W, b = rng.normal(size=a_shape), rng.normal(size=w_shape), rng.normal(size=(1, 1, 1, w_shape[3]))
    Z, cache = cnnstep.conv_forward(A_prev, W, b, hp)
    dZ = rng.normal(size=Z.shape)
    _, dW, db = cnnstep.conv_backward(dZ, cache)
    dA_none, dW2, db2 = backward_parts(dZ, cache, input_gradient=False)
    assert dA_none is None
    np.testing.assert_array_equal(dW2, dW)
    np.testing.assert_array_equal(db2, db)


def test_training_backward_fills_the_same_gradients_as_the_full_backward(rng):
    from cnnstep.nn import architectures
    from cnnstep.nn.losses import softmax_cross_entropy

    model = architectures.default((12, 12, 3), 4, seed=1, dtype=np.float64)
    X, y = rng.normal(size=(5, 12, 12, 3)), rng.integers(0, 4, size=5)
    _, dlogits = softmax_cross_entropy(model.forward(X), y)
    model.backward(dlogits)
    full = [grad.copy() for _, _, grad in model.params_and_grads()]
    model.forward(X)
    assert model.backward(dlogits, input_gradient=False) is None
    for (key, _, grad), expected in zip(model.params_and_grads(), full, strict=False):
        np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-12, err_msg=key)


def test_winograd_chunks_of_several_examples_agree(rng, monkeypatch, small_winograd):
    """Chunks of 3 examples, and a last chunk of 1."""
    a_shape, w_shape, hp = WINOGRAD_CASES[1]
    per_example = 16 * 4 * 3 * (8 + 9) * 8  # tiles of a 7x5 output, float64
    monkeypatch.setattr(_config, "CACHE_CHUNK_BYTES", 3 * per_example + 1)
    check_against_reference(rng, (7,) + a_shape[1:], w_shape, hp)


@pytest.mark.parametrize(
    "w_shape, hp, expected",
    [
        ((4, 4, 4, 8), {"stride": 1, "pad": "same"}, True),  # f_w * C = 16: banded
        ((3, 3, 6, 8), {"stride": 1, "pad": 1}, False),  # 18: im2col
        ((3, 2, 8, 8), {"stride": (1, 2), "pad": 0}, True),  # s_w <= f_w
        ((3, 2, 3, 8), {"stride": (1, 3), "pad": 0}, False),  # gaps between windows: im2col
        ((3, 3, 3, 65), {"stride": 1, "pad": 1}, False),  # many filters: im2col
    ],
)
def test_both_sides_of_the_band_boundary_agree(rng, w_shape, hp, expected):
    from cnnstep._kernels import band as _band

    a_shape = (2, 9, 11, w_shape[2])
    assert _band.applicable(geometry(np.zeros(a_shape), np.zeros(w_shape), hp)) is expected
    check_against_reference(rng, a_shape, w_shape, hp)


@pytest.mark.parametrize(
    "w_shape, hp",
    [
        ((4, 4, 3, 16), {"stride": 1, "pad": "same"}),  # B = 2: a segment of 5 reaches 2 blocks on
        ((3, 3, 3, 32), {"stride": 1, "pad": 1}),  # B = 1: segments of 3 columns, 1 apart
        ((2, 2, 3, 64), {"stride": 1, "pad": 0}),  # B = 1, a segment just 2 steps long
        ((3, 3, 3, 16), {"stride": 1, "pad": 1}),  # B = 2, L = 2 step: one overlapping piece
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_band_input_gradient_where_segments_overlap_several_blocks(rng, w_shape, hp, dtype):
    """Where a block's segment reaches past the next block's (L > 2 step), its overlapping
    pieces are added one non-overlapping family at a time: the loops' dA_prev."""
    from cnnstep._kernels import band as _band

    a_shape = (3, 9, 11, 3)
    g = geometry(np.zeros(a_shape), np.zeros(w_shape), hp)
    assert _band.applicable(g)
    tol = 1e-10 if dtype == np.float64 else rounding_bound(np.float32, 3 * 9 * 11)
    check_against_reference(rng, a_shape, w_shape, hp, dtype=dtype, tol=tol)


@pytest.mark.parametrize(
    "a_shape, w_shape, hp, gathered",
    [
        ((3, 9, 11, 3), (3, 3, 3, 16), {"stride": 1, "pad": 1}, True),
        ((3, 9, 10, 3), (4, 4, 3, 8), {"stride": 1, "pad": "same"}, True),  # 1 top/left, 2 bottom/right
        ((2, 7, 8, 2), (3, 2, 2, 5), {"stride": 1, "pad": ((2, 0), (1, 0))}, True),  # pad f - 1 and 0
        ((2, 9, 11, 3), (3, 3, 3, 64), {"stride": 1, "pad": 0}, True),
        ((2, 7, 8, 3), (3, 3, 3, 8), {"stride": 1, "pad": 3}, False),  # pad >= f: the scatter
        ((2, 9, 11, 3), (3, 3, 3, 16), {"stride": (1, 2), "pad": 1}, False),  # stride 2: the scatter
        ((2, 9, 11, 3), (3, 3, 3, 16), {"stride": (2, 1), "pad": 1}, False),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_band_input_gradient_gathered_or_scattered_agrees(rng, a_shape, w_shape, hp, gathered, dtype):
    """With stride 1 and padding under f, dA_prev is the banded forward pass of dZ with the
    flipped filters; otherwise the segments' scatter: the loops' numbers on both sides."""
    from cnnstep._kernels import band as _band

    g = geometry(np.zeros(a_shape), np.zeros(w_shape), hp)
    assert _band.applicable(g)
    assert (_band._transposed(g) is not None) is gathered
    tol = 1e-10 if dtype == np.float64 else rounding_bound(np.float32, a_shape[0] * a_shape[1] * a_shape[2])
    check_against_reference(rng, a_shape, w_shape, hp, dtype=dtype, tol=tol)


@pytest.mark.parametrize(
    "a_shape, w_shape, hp, spread",
    [
        ((3, 9, 11, 3), (3, 3, 3, 16), {"stride": 1, "pad": 1}, True),  # B = 2, last block past n_W
        ((3, 9, 10, 3), (3, 3, 3, 15), {"stride": 1, "pad": 1}, False),  # one filter fewer: the band
        ((2, 8, 9, 3), (4, 4, 3, 16), {"stride": 1, "pad": "same"}, True),  # B = 3, pads 1 and 2
        ((2, 8, 9, 3), (4, 4, 3, 8), {"stride": 1, "pad": "same"}, False),
        ((2, 9, 11, 3), (5, 5, 3, 17), {"stride": 1, "pad": 2}, True),  # B = 4
        ((2, 7, 8, 2), (3, 3, 2, 16), {"stride": 1, "pad": ((2, 0), (0, 2))}, True),  # pad f - 1 and 0
        ((2, 6, 7, 1), (3, 3, 1, 64), {"stride": 1, "pad": 0}, True),
        ((2, 5, 1, 3), (3, 1, 3, 16), {"stride": 1, "pad": (1, 0)}, False),  # f_w = 1
        ((2, 6, 7, 3), (2, 2, 3, 16), {"stride": 1, "pad": 0}, False),  # f_w = 2: the band
        ((2, 5, 3, 3), (3, 3, 3, 16), {"stride": 1, "pad": (1, 0)}, True),  # a single output column
        ((0, 6, 7, 3), (3, 3, 3, 16), {"stride": 1, "pad": 1}, True),  # no examples
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_both_sides_of_the_spread_input_gradient_agree(rng, monkeypatch, a_shape, w_shape, hp, spread, dtype):
    """From SPREAD_MIN_FILTERS filters and f_w >= 3 the stride-1 input gradient is Spread's
    (rows of f_w - 1 positions, two halves added), else the band's forward pass of dZ:
    the loops' numbers on both sides, float32 within the rounding bound of dW's sum."""
    from cnnstep._kernels import band as _band

    g = geometry(np.zeros(a_shape), np.zeros(w_shape), hp)
    assert _band.applicable(g) and _band._transposed(g) is not None
    assert _band.Spread.applicable(_band._transposed(g)) is spread
    calls = []
    spreads = _band.Spread.input_gradient
    monkeypatch.setattr(_band.Spread, "input_gradient", lambda *args: calls.append(1) or spreads(*args))
    tol = 1e-10 if dtype == np.float64 else rounding_bound(np.float32, max(1, a_shape[0]) * a_shape[1] * a_shape[2])
    check_against_reference(rng, a_shape, w_shape, hp, dtype=dtype, tol=tol)
    assert bool(calls) is spread


@pytest.mark.parametrize("filters, expected", [(8, True), (16, True), (64, True), (65, False)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_both_sides_of_the_band_filter_limit_agree(rng, monkeypatch, filters, expected, dtype):
    """Up to MAX_FILTERS filters both passes are banded (the forward's bias and the backward's db
    inside the products); past it, im2col: the loops' numbers either way, float32 within the
    rounding bound of its longest sum (dW's, over m n_H n_W positions)."""
    from cnnstep._kernels import band as _band

    a_shape, w_shape, hp = (2, 9, 11, 3), (3, 3, 3, filters), {"stride": 1, "pad": 1}
    g = geometry(np.zeros(a_shape), np.zeros(w_shape), hp)
    assert _band.applicable(g) is expected
    calls = []
    banded = _band.conv_forward
    monkeypatch.setattr(_band, "conv_forward", lambda *args: calls.append(1) or banded(*args))
    tol = 1e-10 if dtype == np.float64 else rounding_bound(np.float32, 2 * 9 * 11)
    check_against_reference(rng, a_shape, w_shape, hp, dtype=dtype, tol=tol)
    assert bool(calls) is expected


@pytest.mark.parametrize("a_shape, w_shape, hp", NAN_CASES[1:])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_band_forward_places_nan_and_inf_of_the_filters_and_bias_as_the_loops_do(rng, a_shape, w_shape, hp, bad):
    """With a finite input the banded forward keeps its result whatever the filters or biases
    hold (its zero filter entries meet only finite inputs): the loops' NaN and infinities."""
    from cnnstep._kernels import band as _band

    assert _band.applicable(geometry(np.zeros(a_shape), np.zeros(w_shape), hp))
    A_prev, W = rng.normal(size=a_shape), rng.normal(size=w_shape)
    b = rng.normal(size=(1, 1, 1, w_shape[3]))
    W[1, 2, 0, 3] = bad
    b[0, 0, 0, 5] = -bad
    Z, _ = cnnstep.conv_forward(A_prev, W, b, hp)
    Z_ref, _ = reference.conv_forward(A_prev, W, b, hp)
    np.testing.assert_array_equal(np.isnan(Z), np.isnan(Z_ref))
    np.testing.assert_array_equal(np.isinf(Z), np.isinf(Z_ref))
    assert np.isnan(Z_ref).any() or np.isinf(Z_ref).any()
    finite = np.isfinite(Z_ref)
    assert max_relative_difference(Z[finite], Z_ref[finite]) <= 1e-10
