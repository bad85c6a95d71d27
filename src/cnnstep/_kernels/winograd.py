"""Winograd F(2x2, 3x3): 3x3 stride-1 convolutions with 2.25x fewer multiplications.

Every 2x2 block of outputs is computed from a 4x4 tile of the padded input (tiles
overlap by two cells) as::

    Y = A^T [ (G g G^T) * (B^T d B) ] A          (elementwise * in the 4x4 domain)

where ``g`` is a 3x3 filter, ``d`` the input tile and the small matrices are::

    B^T = [[1, 0, -1,  0],     G = [[1,    0,   0],     A^T = [[1, 1,  1,  0],
           [0, 1,  1,  0],          [1/2,  1/2, 1/2],           [0, 1, -1, -1]]
           [0, -1, 1,  0],          [1/2, -1/2, 1/2],
           [0, 1,  0, -1]]          [0,    0,   1]]

Summed over input channels, the 4x4 products become 16 independent matrix products
``M[xi] = V[xi] @ U[xi]`` of shape (tiles, n_C_prev) @ (n_C_prev, n_C): the bulk of the
work, done by BLAS. The transforms have coefficients 0, +-1 and +-1/2 only, so float32
keeps its accuracy (the tests bound the error against float64). The same identity run
backwards gives both gradients from one ``dM = A dY A^T``: the weight gradient
``dU[xi] = V[xi]^T @ dM[xi]``, ``dW = G^T dU G``, and the input gradient
``dV[xi] = dM[xi] @ U[xi]^T`` taken back through the input transform (``B dV B^T``, tiles
that overlap adding up).

Array layout here: ``V`` (4, 4, P, n_C_prev), ``U`` (4, 4, n_C_prev, n_C),
``M`` (4, 4, P, n_C), with P = m * tiles_h * tiles_w, the tile axes (xi, nu) first so that
each ``V[xi, nu]`` is one contiguous matrix.
"""

from __future__ import annotations

import numpy as np

from cnnstep._kernels import config as _config
from cnnstep._kernels import parallel as _parallel
from cnnstep._kernels.checks import ConvGeometry, Padding

G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


# Below these sizes the transforms cost more than the multiplications they save (measured
# against the im2col kernel on 2 cores): few channels make the 16 products thin, a small
# image makes the transforms' per-call overhead count.
# The forward pass needs more channels than the backward: its single product per chunk
# is cheap next to the transforms, while the backward saves on two products (measured with
# threads, batch 32: 16 -> 32 channels on 32x32 images, forward 1.6-1.75x im2col's time,
# backward 0.72-0.74x; 32 -> 64 on 16x16, forward 1.7-1.8x; 64 channels, forward 25 ms against 29).
MIN_CHANNELS = 16
MIN_FORWARD_CHANNELS = 32
MIN_OUTPUTS = 900  # output positions per image (about 30x30)
# The backward also pays on smaller images, given enough channels and a batch of at least 32:
# at least 12x12 outputs and min(n_C_prev, n_C) * outputs >= 8192 (2 threads, against im2col,
# batch 32: 32 -> 64 channels on 16x16 0.75-0.82x, 64 -> 64 on 12x12 0.79-0.82x, 16 -> 32 on
# 24x24 0.67-0.78x; below the bounds 16 -> 32 on 16x16 1.28-1.34x, 32 -> 32 on 12x12 1.02-1.09x,
# 64 -> 64 on 8x8 0.97-1.05x, 128 -> 128 on 8x8 1.14x; 32 -> 64 on 16x16 with batch 16 1.36-1.42x,
# batch 8 1.18-1.33x, where im2col's chunks still fit the caches).
MIN_BACKWARD_OUTPUTS = 144
MIN_BACKWARD_WORK = 8192  # min(n_C_prev, n_C) * output positions per image
MIN_BACKWARD_BATCH = 32

# The backward's chunks are this many halves of the cache-sized chunk: each chunk runs twice
# the forward's passes and products, and fewer, larger chunks spend less on per-call overhead
# (16 -> 32 channels on 32x32 images, batch 32, 2 threads: four examples per chunk rather than
# two, fastest 7.0-8.4 ms against 5.9-7.7, medians 9.2-9.9 against 8.3-9.0).
BACKWARD_CHUNK_SCALE = 3


def applicable(g: ConvGeometry, forward: bool = False) -> bool:
    """3x3 filters, stride 1, and enough channels and positions for Winograd to pay.

    ``forward``: for the forward pass (more channels needed); else for the backward (which
    also takes smaller images, in large enough batches).
    """
    if not (g.f_h == 3 and g.f_w == 3 and g.s_h == 1 and g.s_w == 1):
        return False
    channels, outputs = min(g.n_C_prev, g.n_C), g.n_H * g.n_W
    if forward:
        return channels >= MIN_FORWARD_CHANNELS and outputs >= MIN_OUTPUTS
    if channels < MIN_CHANNELS:
        return False
    smaller = outputs >= MIN_BACKWARD_OUTPUTS and channels * outputs >= MIN_BACKWARD_WORK and g.m >= MIN_BACKWARD_BATCH
    return outputs >= MIN_OUTPUTS or smaller


def _tiles(n: int) -> int:
    return (n + 1) // 2


def filter_transform(W: np.ndarray) -> np.ndarray:
    """U = G g G^T for every (input channel, filter) pair: (4, 4, n_C_prev, n_C)."""
    Gw = G.astype(W.dtype)
    # a i , i j c k , b j -> a b c k
    return np.einsum("ai,ijck,bj->abck", Gw, W, Gw, optimize=True)


def _source_buffer(m: int, th: int, tw: int, C: int, dtype) -> np.ndarray:
    """Zero buffer for the padded input in column-parity layout (m, 2*th + 2, 2, tw + 1, C)."""
    return np.zeros((m, 2 * th + 2, 2, tw + 1, C), dtype=dtype)


def _fill_source(S: np.ndarray, A: np.ndarray, top: int, left: int) -> np.ndarray:
    """Write A into S at (top, left) of the padded frame; S[i, r, p, q] is padded cell (r, 2q + p).

    The padding cells of S are zero and stay zero, so one buffer serves every chunk.

    Splitting the columns by parity makes every tile column ``2*t + b`` a slice
    ``S[:, :, b % 2, b // 2 : b // 2 + tw]`` whose inner (tiles x channels) block is
    contiguous, so the transforms below run on long contiguous rows.
    """
    m, n_H_prev, n_W_prev, _ = A.shape
    H_t, Q = S.shape[1], S.shape[3]
    rows = max(0, min(n_H_prev, H_t - top))
    for p in range(2):
        first = (p - left) % 2  # first column of A whose padded column has parity p
        cols = range(first, min(n_W_prev, 2 * Q - left), 2)
        if len(cols) == 0:
            continue
        q = (first + left) // 2
        S[:m, top : top + rows, p, q : q + len(cols), :] = A[:, :rows, first : cols.stop : 2, :]
    return S


def input_transform(S: np.ndarray, rows: np.ndarray, out: np.ndarray) -> np.ndarray:
    """V = B^T d B for every 4x4 tile (stride 2) of the source S: out (4, 4, m, th, tw, C).

    ``rows`` is scratch (4, m, th, 2, tw + 1, C) for the row pass, done once on whole rows
    (overlapping tiles share it).
    """
    th = rows.shape[2]
    tw = out.shape[4]
    m = out.shape[2]

    def r(a):  # padded rows 2*t + a of every tile row
        return S[:m, a : a + 2 * th : 2]

    # rows: t = B^T d
    np.subtract(r(0), r(2), out=rows[0])
    np.add(r(1), r(2), out=rows[1])
    np.subtract(r(2), r(1), out=rows[2])
    np.subtract(r(1), r(3), out=rows[3])

    def c(b):  # columns 2*t + b of every tile
        return rows[:, :, :, b % 2, b // 2 : b // 2 + tw, :]

    # columns: V = t B
    np.subtract(c(0), c(2), out=out[:, 0])
    np.add(c(1), c(2), out=out[:, 1])
    np.subtract(c(2), c(1), out=out[:, 2])
    np.subtract(c(1), c(3), out=out[:, 3])
    return out


def output_transform(M: np.ndarray, sums: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Y = A^T M A for every tile: M (4, 4, m, th, tw, K) -> Y (m, th, 2, tw, 2, K).

    ``sums`` is scratch (2, 4, m, th, tw, K): the row pass writes it, the column pass adds into it.
    """
    # rows: S = A^T M
    np.add(M[0], M[1], out=sums[0])
    sums[0] += M[2]
    np.subtract(M[1], M[2], out=sums[1])
    sums[1] -= M[3]
    # columns: Y = S A, written straight into the interleaved output layout (one strided pass
    # per output column; the partial sums stay in the contiguous scratch)
    s0, s1, s2, s3 = (sums[:, b].transpose(1, 2, 0, 3, 4) for b in range(4))  # (m, th, 2, tw, K)
    s3 += s2
    np.subtract(s1, s3, out=Y[:, :, :, :, 1, :])  # s1 - (s2 + s3)
    s1 += s2
    np.add(s0, s1, out=Y[:, :, :, :, 0, :])  # s0 + (s1 + s2)
    return Y


# The gradient transform below leaves out the negations of its last row and column (A's entries
# -1): it gives ``SIGNS[a] * SIGNS[b] * dM[a, b]``, and the products that use it undo the signs
# (exactly: a negation rounds nothing).
SIGNS = np.array([1.0, 1.0, 1.0, -1.0])
TILE_SIGNS = np.outer(SIGNS, SIGNS).reshape(16)


def gradient_transform(dZ: np.ndarray, blocks: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    """dM = A dY A^T for every 2x2 output block of dZ, up to signs: out (4, 4, m, th, tw, K).

    ``out[a, b]`` holds ``SIGNS[a] * SIGNS[b] * dM[a, b]``. ``blocks`` (m, th, 2, tw, 2, K) is
    scratch for dZ laid out by block, zeros past an odd edge (None for even output sizes, where
    dZ itself is that layout). The four corners ``out[0 or 3, 0 or 3]`` are the block's four
    values themselves, copied out in one pass; every other entry is the sum or the difference of
    two entries already written, which the passes read as contiguous runs.
    """
    m, n_H, n_W, K = dZ.shape
    th, tw = out.shape[3], out.shape[4]
    if n_H == 2 * th and n_W == 2 * tw:
        blocks = dZ.reshape(m, th, 2, tw, 2, K)
    else:
        blocks.reshape(m, 2 * th, 2 * tw, K)[:, :n_H, :n_W, :] = dZ  # K, not -1: m may be 0
    # corners: y[i, j] is the block's value (i, j): out[3 * i, 3 * j]
    np.copyto(out[::3, ::3], blocks.transpose(2, 4, 0, 1, 3, 5))
    # rows: e = A y (row 3 unsigned), for columns 0 and 3
    np.add(out[0, ::3], out[3, ::3], out=out[1, ::3])
    np.subtract(out[0, ::3], out[3, ::3], out=out[2, ::3])
    # columns: dM = e A^T (column 3 unsigned)
    np.add(out[:, 0], out[:, 3], out=out[:, 1])
    np.subtract(out[:, 0], out[:, 3], out=out[:, 2])
    return out


def _per_example(th: int, tw: int, C: int, K: int, itemsize: int) -> int:
    """Bytes of the 4x4-domain buffers (V and M) per example."""
    return 16 * th * tw * (C + K) * itemsize


def _chunk_examples(m: int, th: int, tw: int, C: int, K: int, itemsize: int):
    """Chunks of examples whose 4x4-domain buffers stay cache-sized (and within the workspace limit)."""
    return _config.chunks(m, _per_example(th, tw, C, K, itemsize), _config.chunk_budget(_config.CACHE_CHUNK_BYTES))


def _run(task, parts, m: int, th: int, tw: int, C: int, K: int, itemsize: int) -> list:
    """Chunks shared out over cnnstep's threads, BLAS on one thread in each."""
    return _parallel.run_chunks(task, parts, _per_example(th, tw, C, K, itemsize), 16 * m * th * tw * max(C, K))


class _Scratch:
    """One thread's buffers for chunks of up to ``mc`` examples."""

    def __init__(self, mc: int, th: int, tw: int, C: int, K: int, dtype):
        self.S = _source_buffer(mc, th, tw, C, dtype)
        self.rows = np.empty((4, mc, th, 2, tw + 1, C), dtype=dtype)
        self.V = np.empty((4, 4, mc, th, tw, C), dtype=dtype)

    def transformed_input(self, A_part: np.ndarray, pad: Padding) -> np.ndarray:
        """V of a chunk as 16 matrices (16, mp * th * tw, C)."""
        mp = A_part.shape[0]
        _fill_source(self.S, A_part, pad.top, pad.left)
        V = self.V[:, :, :mp]
        input_transform(self.S, self.rows[:, :mp], V)
        return V.reshape(16, -1, A_part.shape[3])


def conv(A: np.ndarray, W: np.ndarray, pad: Padding, n_H: int, n_W: int, b: np.ndarray | None = None) -> np.ndarray:
    """Stride-1 3x3 convolution of A (m, n_H_prev, n_W_prev, C) with W (3, 3, C, K), plus b.

    Chunks of examples are shared out over cnnstep's threads (:mod:`cnnstep._kernels.parallel`),
    each with its own buffers; every chunk writes its own slice of Z.
    """
    m, C, K = A.shape[0], A.shape[3], W.shape[3]
    th, tw = _tiles(n_H), _tiles(n_W)
    U = filter_transform(W).reshape(16, C, K)
    Z = np.empty((m, n_H, n_W, K), dtype=A.dtype)
    parts = _chunk_examples(m, th, tw, C, K, A.dtype.itemsize)
    mc = _config.largest(parts)
    even = n_H == 2 * th and n_W == 2 * tw

    def task(group):
        scratch = _Scratch(mc, th, tw, C, K, A.dtype)
        M = np.empty((16, mc * th * tw, K), dtype=A.dtype)
        sums = np.empty((2, 4, mc, th, tw, K), dtype=A.dtype)
        Y_full = None if even else np.empty((mc, th, 2, tw, 2, K), dtype=A.dtype)
        for part in group:
            mp = part.stop - part.start
            Mp = M[:, : mp * th * tw]
            np.matmul(scratch.transformed_input(A[part], pad), U, out=Mp)  # xi (P c) , xi c k -> xi P k
            if b is not None:
                Mp[5] += b.reshape(K)  # M[1, 1] reaches all four outputs of a tile once: the bias
            M4 = Mp.reshape(4, 4, mp, th, tw, K)
            if even:
                output_transform(M4, sums[:, :, :mp], Z[part].reshape(mp, th, 2, tw, 2, K))
            else:
                Y = output_transform(M4, sums[:, :, :mp], Y_full[:mp])
                Z[part] = Y.reshape(mp, 2 * th, 2 * tw, K)[:, :n_H, :n_W, :]

    _run(task, parts, m, th, tw, C, K, A.dtype.itemsize)
    return Z


def input_transform_adjoint(dV: np.ndarray, rows: np.ndarray, sums: np.ndarray, dS: np.ndarray) -> np.ndarray:
    """The adjoint of :func:`input_transform`: dV (4, 4, m, th, tw, C) -> dS, the gradient of the source.

    ``dS`` (m, 2*th + 2, 2, tw + 1, C) is in the source's column-parity layout; every padded cell
    receives the sum over the (up to four) tiles that hold it of its entry of ``B dV B^T``.
    ``rows`` is scratch (4, m, th, 2, tw + 1, C), as for the forward transform; ``sums`` is
    C-contiguous scratch (4, m, th, tw, C). Each pass first sums a tile's own terms into
    ``sums`` (contiguous: faster than summing into the strided output in place), then adds the
    neighbouring tile's shifted contribution as it writes the output.
    """
    th, tw = dV.shape[3], dV.shape[4]
    # columns: the adjoint of V = t B, tile column 2*t + b of every tile, b = 0..3
    d0, d1, d2, d3 = dV[:, 0], dV[:, 1], dV[:, 2], dV[:, 3]
    even, odd = rows[:, :, :, 0], rows[:, :, :, 1]  # columns 2*q and 2*q + 1
    s = sums
    # even[q] = d0[q] + (d1 + d2 - d0)[q - 1]
    np.add(d1, d2, out=s)
    np.subtract(s, d0, out=s)
    np.add(d0[..., 1:, :], s[..., :-1, :], out=even[..., 1:tw, :])
    even[..., 0, :] = d0[..., 0, :]
    even[..., tw, :] = s[..., tw - 1, :]
    # odd[q] = (d1 - d2 + d3)[q] - d3[q - 1]
    np.subtract(d1, d2, out=s)
    np.add(s, d3, out=s)
    np.subtract(s[..., 1:, :], d3[..., :-1, :], out=odd[..., 1:tw, :])
    odd[..., 0, :] = s[..., 0, :]
    np.negative(d3[..., tw - 1, :], out=odd[..., tw, :])
    # rows: the adjoint of t = B^T d, padded rows 2*t + a of every tile, a = 0..3
    r0, r1, r2, r3 = rows
    even_rows, odd_rows = dS[:, 0 : 2 * th + 1 : 2], dS[:, 1 : 2 * th + 2 : 2]
    s = sums.reshape(-1)[: r0.size].reshape(r0.shape)  # the row pass needs fewer (2*tw + 2 <= 4*tw)
    # even_rows[t] = r0[t] + (r1 + r2 - r0)[t - 1]
    np.add(r1, r2, out=s)
    np.subtract(s, r0, out=s)
    np.add(r0[:, 1:], s[:, :-1], out=even_rows[:, 1:th])
    even_rows[:, 0] = r0[:, 0]
    even_rows[:, th] = s[:, th - 1]
    # odd_rows[t] = (r1 - r2 + r3)[t] - r3[t - 1]
    np.subtract(r1, r2, out=s)
    np.add(s, r3, out=s)
    np.subtract(s[:, 1:], r3[:, :-1], out=odd_rows[:, 1:th])
    odd_rows[:, 0] = s[:, 0]
    np.negative(r3[:, th - 1], out=odd_rows[:, th])
    return dS


def _gather_source(dS: np.ndarray, dx: np.ndarray, top: int, left: int) -> np.ndarray:
    """The inverse of :func:`_fill_source`: dx (m, n_H_prev, n_W_prev, C) read from the frame dS.

    The frame holds the whole padded input (2 * th + 2 >= n_H + 2 rows, the same for columns),
    so every cell of dx is written.
    """
    m, n_H_prev, n_W_prev, _ = dx.shape
    for p in range(2):
        first = (p - left) % 2  # first column of dx whose padded column has parity p
        q = (first + left) // 2
        count = len(range(first, n_W_prev, 2))
        dx[:, :, first::2, :] = dS[:m, top : top + n_H_prev, p, q : q + count, :]
    return dx


def backward(dZ: np.ndarray, A: np.ndarray, W: np.ndarray, pad: Padding, input_gradient: bool = True):
    """(dx or None, dW) of the stride-1 3x3 convolution ``conv(A, W, pad)`` that produced dZ.

    Both gradients come from the same transformed output gradient ``dM = A dY A^T``: the
    weight gradient as ``dU[xi] = V[xi]^T @ dM[xi]``, the input gradient as the adjoint of the
    forward pass, ``dV[xi] = dM[xi] @ U[xi]^T`` taken back through the input transform (tiles
    that overlap add up) and cut to the unpadded input. One pass over dZ per chunk serves both.
    Each thread sums dU over its own chunks; the threads' sums are added in a fixed order.
    """
    m, n_H, n_W, K = dZ.shape
    _, n_H_prev, n_W_prev, C = A.shape
    th, tw = _tiles(n_H), _tiles(n_W)
    per_example = _per_example(th, tw, C, K, A.dtype.itemsize)
    budget = _config.chunk_budget(_config.CACHE_CHUNK_BYTES * BACKWARD_CHUNK_SCALE // 2)
    # a batch that fits one chunk is still cut in one chunk per processor, so that it runs on all of them
    budget = min(budget, per_example * -(-m // _config.BALANCE))
    parts = _config.chunks(m, per_example, budget)
    mc = _config.largest(parts)
    even = n_H == 2 * th and n_W == 2 * tw
    signs = TILE_SIGNS.astype(dZ.dtype).reshape(16, 1, 1)
    Ut = None
    if input_gradient:  # dM comes with the gradient transform's signs: U^T takes them too, so that dV has none
        Ut = np.ascontiguousarray(filter_transform(W).reshape(16, C, K).transpose(0, 2, 1) * signs)
    dx = np.empty((m, n_H_prev, n_W_prev, C), dtype=dZ.dtype) if input_gradient else None

    def task(group):
        scratch = _Scratch(mc, th, tw, C, K, A.dtype)
        blocks = None if even else np.zeros((mc, th, 2, tw, 2, K), dtype=dZ.dtype)
        dM = np.empty((4, 4, mc, th, tw, K), dtype=dZ.dtype)
        dU = np.zeros((16, C, K), dtype=dZ.dtype)
        product = np.empty((16, C, K), dtype=dZ.dtype)
        dS = np.empty_like(scratch.S) if input_gradient else None
        sums = np.empty(4 * mc * th * tw * C, dtype=dZ.dtype) if input_gradient else None
        for part in group:
            mp = part.stop - part.start
            Vp = scratch.transformed_input(A[part], pad)
            gradient_transform(dZ[part], None if even else blocks[:mp], dM[:, :, :mp])
            dMp = dM[:, :, :mp].reshape(16, -1, K)
            np.matmul(Vp.transpose(0, 2, 1), dMp, out=product)  # xi c P , xi P k -> xi c k
            dU += product
            if input_gradient:
                np.matmul(dMp, Ut, out=Vp)  # xi P k , xi k c -> xi P c (V's buffer is free now)
                dVp = Vp.reshape(4, 4, mp, th, tw, C)
                sums_p = sums[: 4 * mp * th * tw * C].reshape(4, mp, th, tw, C)
                input_transform_adjoint(dVp, scratch.rows[:, :mp], sums_p, dS[:mp])
                _gather_source(dS[:mp], dx[part], pad.top, pad.left)
        return dU

    dU = sum(_run(task, parts, m, th, tw, C, K, A.dtype.itemsize)) * signs  # the gradient transform's signs undone
    Gw = G.astype(dZ.dtype)
    # a i , a b c k , b j -> i j c k
    return dx, np.einsum("ai,abck,bj->ijck", Gw, dU.reshape(4, 4, C, K), Gw, optimize=True)
