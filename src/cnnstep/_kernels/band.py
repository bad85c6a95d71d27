"""Convolutions with few input channels as banded matrix products.

With few input channels (an RGB image, say) the window matrix of im2col is long, thin and
expensive to build: every row copies f_h runs of only f_w * n_C_prev numbers. Here one row
of the data matrix instead covers a block of ``B`` neighbouring outputs of an output row:
for each of the f_h input rows it holds one contiguous segment of
``L = (B - 1) * s_w + f_w`` columns (all channels). A banded filter matrix ``T`` maps that
row to the block's ``B * n_C`` outputs at once::

    T[(i, u, c), (b, k)] = W[i, u - b * s_w, c, k]   where 0 <= u - b * s_w < f_w, else 0
    Z[m, h, w0 + b, k]   = sum over (i, u, c) of X[m, h, block, (i, u, c)] * T[(i, u, c), (b, k)]

The product does ``L / f_w`` times the multiplications of a direct convolution, but its
data matrix is ``B * f_w / L`` times smaller than im2col's, is copied in long runs, and
its output lands directly in NHWC order. The backward pass runs the same algebra in
reverse: ``dT = X^T dZ`` folds back onto ``dW``. With stride 1 the input gradient is itself
a stride-1 convolution of dZ (flipped filters), computed by the same banded forward pass;
otherwise ``dX = dZ T^T`` is added, segment by segment, onto the padded input gradient.
With many filters the stride-1 input gradient is :class:`Spread`'s instead: rows of f_w - 1
positions of dZ that do not overlap, each mapped to all the outputs it reaches, two halves added.
"""

from __future__ import annotations

import numpy as np

from cnnstep._kernels import config as _config
from cnnstep._kernels import frame as _frame
from cnnstep._kernels import im2col as _im2col
from cnnstep._kernels import parallel as _parallel
from cnnstep._kernels.checks import ConvGeometry, Padding

# Both passes use the band up to 64 filters: with the bias and db inside its products and
# its segments copied whole, it beat im2col in the forward pass too (one thread, fastest
# calls: 32x64x64x3 -> 3x3x16 3.1 ms against 4.9, 64x32x32x3 -> 3x3x16 1.8 against 3.2,
# 32x64x64x3 -> 3x3x64 11.0 against 12.6; float64 alike).
MAX_FILTERS = 64


def applicable(g: ConvGeometry) -> bool:
    """Few input channels per window row (at most 16 numbers), no gaps between windows
    (s_w <= f_w), at most ``MAX_FILTERS`` filters (the banded product's width grows with them).

    The channel threshold was measured against the im2col kernel: an RGB image under a
    3x3 or 4x4 filter gains 1.4x; with 8 channels im2col's own copies are long enough to win.
    1x1 windows at stride 1 without padding go to im2col, which reads them in place (fwd+bwd,
    float32, 2 threads: 32x64x64x3 -> 8 filters 0.78x the band's time, 32x32x32x16 -> 16 0.93x).
    """
    return g.f_w * g.n_C_prev <= 16 and g.s_w <= g.f_w and g.n_C <= MAX_FILTERS and not _im2col.pointwise(g)


def block(g: ConvGeometry, width: int = 32) -> int:
    """Outputs per data row: enough for a wide product (B * n_C >= ``width``), at most 3x the work.

    With the chunks on cnnstep's threads and BLAS on one thread in each, narrower blocks
    (less work wasted on the band's zeros) measured faster than B * n_C >= 64: 32x64x64x3 ->
    4x4x8, B=4 against 8: forward 3.0-3.6 ms against 3.6-5.4, weight gradient 3.3 against
    5.6; 3x3x16, B=2 against 4: weight gradient 3.6 against 4.1 (alternating rounds).
    """
    B = max(1, min(-(-width // g.n_C), (2 * g.f_w) // g.s_w + 1, g.n_W))
    return B


def _segments(framed: np.ndarray, out: np.ndarray, n_H: int, nb: int, f_h: int, s_h: int, step: int, length: int):
    """The data rows (m * n_H * nb, f_h * length * C) in ``out``: row (m, h, q) holds, for each
    i < f_h, columns ``q * step`` to ``q * step + length`` of the framed input's row ``h * s_h + i``.

    Each segment is copied as one element of an opaque length * C * itemsize byte type:
    numpy then moves whole segments instead of running its float loop on each short run
    (32x64x64x3 under 3x3, B = 2: 0.33 ms against 0.52 per 16 examples).
    """
    seg = length * framed.shape[3] * framed.itemsize
    raw = framed.view(np.uint8)
    sm, sh, sw, _ = raw.strides
    segments = np.lib.stride_tricks.as_strided(
        raw, shape=(framed.shape[0], n_H, nb, f_h, seg), strides=(sm, s_h * sh, step * sw, sh, 1), writeable=False
    )
    X = out[: framed.shape[0] * n_H * nb]
    raw_X = X.view(np.uint8)  # (rows, row bytes), its rows possibly wider (a column of ones)
    r = raw_X.strides[0]
    target = np.lib.stride_tricks.as_strided(raw_X, shape=segments.shape, strides=(n_H * nb * r, nb * r, r, seg, 1))
    void = np.dtype((np.void, seg))
    np.copyto(target.view(void), segments.view(void))
    return X


class Band:
    """The banded geometry of one convolution: block size, padded frame, strides."""

    def __init__(self, g: ConvGeometry, width: int = 32):
        self.g = g
        self.B = block(g, width)
        self.nb = -(-g.n_W // self.B)  # blocks per output row (the last may run past n_W)
        self.L = (self.B - 1) * g.s_w + g.f_w  # input columns per block
        self.step = self.B * g.s_w  # input columns between blocks
        self.H_pad = g.n_H_prev + g.pad.top + g.pad.bottom
        # wide enough for the last block, even where it runs past the output
        self.W_pad = max(g.n_W_prev + g.pad.left + g.pad.right, (self.nb - 1) * self.step + self.L)
        self.row = g.f_h * self.L * g.n_C_prev  # length of one data row

    def frame(self, mc: int, dtype) -> np.ndarray:
        """A zero frame for chunks of up to mc examples (wide enough for the last block)."""
        g = self.g
        return _frame.blank(mc, g.n_H_prev, g.n_W_prev, g.n_C_prev, g.pad, dtype, width=self.W_pad)

    def data(self, framed: np.ndarray, out: np.ndarray) -> np.ndarray:
        """X (m * n_H * nb, f_h * L * C) in ``out``: per output block, its f_h input row segments."""
        g = self.g
        return _segments(framed, out, g.n_H, self.nb, g.f_h, g.s_h, self.step, self.L)

    def filters(self, W: np.ndarray) -> np.ndarray:
        """T (f_h * L * C, B * n_C), the banded filter matrix."""
        g = self.g
        T = np.zeros((g.f_h, self.L, g.n_C_prev, self.B, g.n_C), dtype=W.dtype)
        for b in range(self.B):
            T[:, b * g.s_w : b * g.s_w + g.f_w, :, b, :] = W
        return T.reshape(self.row, self.B * g.n_C)

    def fold(self, dT: np.ndarray) -> np.ndarray:
        """dW from the gradient of T: the B copies of each filter entry add up."""
        g = self.g
        dT = dT.reshape(g.f_h, self.L, g.n_C_prev, self.B, g.n_C)
        dW = np.zeros((g.f_h, g.f_w, g.n_C_prev, g.n_C), dtype=dT.dtype)
        for b in range(self.B):
            dW += dT[:, b * g.s_w : b * g.s_w + g.f_w, :, b, :]
        return dW

    def blocks(self, Z: np.ndarray) -> np.ndarray:
        """(m, n_H, n_W, K) as rows of blocks (m * n_H * nb, B * K), zeros past n_W."""
        m, n_H, n_W, K = Z.shape
        if self.nb * self.B == n_W:
            return np.ascontiguousarray(Z).reshape(-1, self.B * K)
        wide = np.zeros((m, n_H, self.nb * self.B, K), dtype=Z.dtype)
        wide[:, :, :n_W] = Z
        return wide.reshape(-1, self.B * K)

    def scatter(self, dX: np.ndarray, framed_grad: np.ndarray) -> None:
        """Add every block's segment gradients back onto the padded input gradient.

        A segment (L columns) starts ``step`` columns after the previous block's: its
        pieces of ``step`` columns, piece p of every block at once, tile the row without
        overlap, so each piece is one strided add (the segment's first piece, then those
        overlapping the next blocks: more than one when L > 2 step, e.g. one output per block).
        """
        g = self.g
        m, C = framed_grad.shape[0], g.n_C_prev
        dX = dX.reshape(m, g.n_H, self.nb, g.f_h, self.L * C)
        head, width = self.step * C, self.L * C
        span_h = (g.n_H - 1) * g.s_h + 1
        for i in range(g.f_h):
            rows = framed_grad[:, i : i + span_h : g.s_h].reshape(m, g.n_H, self.W_pad * C)
            s = rows.strides
            for lo in range(0, width, head):
                hi = min(lo + head, width)
                piece = np.lib.stride_tricks.as_strided(
                    rows[:, :, lo:], shape=(m, g.n_H, self.nb, hi - lo), strides=(s[0], s[1], head * s[2], s[2])
                )
                piece += dX[:, :, :, i, lo:hi]


class _Scratch:
    """Buffers for chunks of up to ``mc`` examples, reused chunk after chunk: the padded
    frame (its border zero once and for all) and the data matrix, whose last column is
    ones (set once): in the forward product it adds the bias row of the filter matrix, in
    the backward one it sums the output gradient (db), both inside the product instead of
    another pass over its output (on 32x64x64x3 -> 3x3x16, 0.6 to 1.2 ms of 5)."""

    def __init__(self, band: Band, mc: int, dtype):
        self.band = band
        self.framed = band.frame(mc, dtype)
        self.X = np.empty((mc * band.g.n_H * band.nb, band.row + 1), dtype=dtype)
        self.X[:, band.row] = 1

    def data(self, A_part: np.ndarray) -> np.ndarray:
        """The chunk's data rows with their column of ones, (rows, f_h * L * C + 1)."""
        rows = A_part.shape[0] * self.band.g.n_H * self.band.nb
        self.band.data(_frame.put(self.framed, A_part, self.band.g.pad), self.X[:, : self.band.row])
        return self.X[:rows]


def _per_example(band: Band, itemsize: int) -> int:
    """Scratch bytes per example: its data rows and their block outputs."""
    return band.g.n_H * band.nb * (band.row + 1 + band.B * band.g.n_C) * itemsize


def _chunks(band: Band, m: int, itemsize: int):
    """Chunks of examples whose data matrices stay cache-sized (and within the workspace limit)."""
    return _config.chunks(m, _per_example(band, itemsize), _config.chunk_budget(_config.CACHE_CHUNK_BYTES))


def conv_forward(A: np.ndarray, W: np.ndarray, b: np.ndarray, g: ConvGeometry, width: int = 32) -> np.ndarray:
    """Z of the convolution, chunk by chunk; the chunks shared out over cnnstep's threads.

    ``width``: the product's least width B * n_C (see :func:`block`)."""
    band = Band(g, width)
    # the filter matrix and, for the data rows' column of ones, the bias of every block output
    T = np.vstack([band.filters(W), np.tile(b.reshape(1, g.n_C), (1, band.B))])
    Z = np.empty((g.m, g.n_H, g.n_W, g.n_C), dtype=A.dtype)
    exact = band.nb * band.B == g.n_W
    parts = _chunks(band, g.m, A.dtype.itemsize)
    mc = _config.largest(parts)

    def task(group):
        scratch = _Scratch(band, mc, A.dtype)
        for part in group:
            X = scratch.data(A[part])
            if exact:
                # m h block (i u c) , (i u c) (b k) -> m h (block b) k
                np.matmul(X, T, out=Z[part].reshape(-1, band.B * g.n_C))
            else:
                Zb = (X @ T).reshape(-1, g.n_H, band.nb * band.B, g.n_C)
                Z[part] = Zb[:, :, : g.n_W]

    _run(task, parts, _per_example(band, A.dtype.itemsize), _size(band))
    return Z


def _run(task, parts, per_example: int, size: int) -> list:
    """The chunks over cnnstep's threads, BLAS on one thread throughout (as for every kernel's chunks).

    Also when they run serially (small batches), which for these thin products was measured
    before it was the rule: BLAS's two threads ran up to 10x slower than one when the other
    core was busy (32x64x64x3 -> 4x4x8 forward: 50 ms against 5.7, alternating, on a loaded
    2-core machine), and the weight gradient's product ``dZb^T @ X`` reduces over its long
    axis, which BLAS's threads do not split (32x64x64x3 -> 3x3x16, dW only: 6-8 ms against 17-39).
    """
    return _parallel.run_chunks(task, parts, per_example, size)


def _size(band: Band) -> int:
    """The numbers of the whole batch's data rows: whether the chunks go to several threads."""
    return band.g.m * band.g.n_H * band.nb * band.row


def conv_backward(dZ: np.ndarray, A: np.ndarray, W: np.ndarray, g: ConvGeometry, input_gradient: bool = True):
    """(dA_prev, dW, db) of :func:`conv_forward`; dA_prev is None unless ``input_gradient``.

    db (n_C,) comes out of the weight gradient's product (the data rows' column of ones).
    Each thread sums dT over its own chunks; the threads' sums are added in a fixed order.
    With stride 1, dA_prev is :func:`input_gradient_of`'s (no scatter).
    """
    transposed = _transposed(g) if input_gradient else None
    if transposed is not None:
        return (input_gradient_of(dZ, W, transposed),) + conv_backward(dZ, A, W, g, input_gradient=False)[1:]
    band = Band(g)
    T = band.filters(W)
    dx = np.empty((g.m, g.n_H_prev, g.n_W_prev, g.n_C_prev), dtype=dZ.dtype) if input_gradient else None
    parts = _chunks(band, g.m, A.dtype.itemsize)
    mc = _config.largest(parts)

    def task(group):
        dT = np.zeros((band.row + 1, band.B * g.n_C), dtype=dZ.dtype)  # and db per block output
        scratch = _Scratch(band, mc, A.dtype)
        frames = np.empty((mc, band.H_pad, band.W_pad, g.n_C_prev), dtype=dZ.dtype) if input_gradient else None
        for part in group:
            X = scratch.data(A[part])
            dZb = band.blocks(dZ[part])
            # rows (i u c 1) , rows (b k) -> (i u c 1) (b k): with the column of ones this
            # orientation ran 10-20% faster than dZb^T @ X (float32 and float64, 1 and 2 threads)
            dT += X.T @ dZb
            if not input_gradient:
                continue
            grad = frames[: part.stop - part.start]
            grad[...] = 0
            band.scatter(np.matmul(dZb, T.T, out=X[:, : band.row]), grad)  # rows (b k) , (b k) (i u c) -> rows (i u c)
            dx[part] = grad[:, g.pad.top : g.pad.top + g.n_H_prev, g.pad.left : g.pad.left + g.n_W_prev, :]
        return dT

    dT = sum(_run(task, parts, _per_example(band, A.dtype.itemsize), _size(band)))
    return dx, band.fold(dT[: band.row]), dT[band.row].reshape(band.B, g.n_C).sum(axis=0)


# The input gradient's product maps a block of B' input positions (3 channels each) from
# f_h segments of the output gradient: B' * n_C_prev >= 12 (B' = 4 for RGB) measured fastest
# (one thread, 64x32x32x3 -> 3x3x16: 3.5 ms against 4.7 for B' = 2 and 3.9 for 8; 32x64x64x3
# -> 4x4x8: 5.8 against 7.5 and 5.7), and against 6.8 and 9.4 by the scatter.
INPUT_GRADIENT_WIDTH = 12

# :class:`Spread` takes the input gradient from the band with this many filters or more (and
# f_w >= 3): what it saves (a smaller copy and product) grows with the output gradient's
# channels, what it adds (the halves' add) with the input's. One thread, alternating, fastest
# calls: 64x32x32x3 -> 3x3x16 3.25 ms against 3.69, 32x32x32x3 -> 5x5x16 2.85 against 3.63,
# -> 3x3x32 0.90x, 16x32x32x3 -> 3x3x64 0.80x, 32x64x64x3 -> 4x4x16 0.93x; with 8 filters no
# gain (32x64x64x3 -> 4x4x8 0.95x, medians 1.00x; -> 3x3x8 1.06x), and 2x2 filters (B = 1)
# slower (1.30x).
SPREAD_MIN_FILTERS = 16


def _transposed(g: ConvGeometry) -> ConvGeometry | None:
    """The geometry of dA_prev as a convolution of dZ (stride 1, padding at most f - 1), else None.

    With stride 1, ``dA_prev[y, x, c] = sum over (i, j, k) of dZ[y + top - i, x + left - j, k]
    * W[i, j, c, k]``: a stride-1 convolution of dZ, padded by f - 1 - pad on each side, with the
    filters flipped in both axes and their channel axes swapped.
    """
    p = g.pad
    if g.s_h != 1 or g.s_w != 1 or max(p.top, p.bottom) >= g.f_h or max(p.left, p.right) >= g.f_w:
        return None
    q = Padding(g.f_h - 1 - p.top, g.f_h - 1 - p.bottom, g.f_w - 1 - p.left, g.f_w - 1 - p.right)
    return ConvGeometry(g.m, g.n_H, g.n_W, g.n_C, g.f_h, g.f_w, g.n_C_prev, 1, 1, q, g.n_H_prev, g.n_W_prev)


def input_gradient_of(dZ: np.ndarray, W: np.ndarray, transposed: ConvGeometry) -> np.ndarray:
    """dA_prev of a stride-1 convolution from its transposed geometry (:func:`_transposed`): by
    :class:`Spread` where it applies, else as the banded forward pass of that geometry. Either
    way each output is a sum of its own terms and exact zeros (no scatter of overlapping segments)."""
    flipped = np.ascontiguousarray(W[::-1, ::-1].transpose(0, 1, 3, 2))  # (f_h, f_w, n_C, n_C_prev)
    if Spread.applicable(transposed):
        return Spread(transposed).input_gradient(dZ, flipped)
    zero = np.zeros(transposed.n_C, dtype=dZ.dtype)
    return conv_forward(dZ, flipped, zero, transposed, INPUT_GRADIENT_WIDTH)


class Spread:
    """The input gradient of a stride-1 convolution, each data row spread over the outputs it reaches.

    ``t`` is the transposed geometry (:func:`_transposed`): a stride-1 convolution of the output
    gradient (``t.n_C_prev`` channels, the layer's filters) giving dA_prev (``t.n_C`` channels).
    A data row holds B = f_w - 1 neighbouring input positions of one row of blocks, for each of
    the f_h input rows: ``f_h`` segments of B columns that do not overlap (with 3x3 filters about
    two thirds of the band's copy, whose segments of B' + 2 columns start B' apart). Its product
    with ``U`` gives all 2B outputs those positions reach::

        U[(i, u, k), (e, c)]    = Wf[i, u + B - e, k, c]   where 0 <= u + B - e < f_w, else 0
        Y[m, y, q, (e, c)]      = sum over (i, u, k) of X[m, y, q, (i, u, k)] * U[(i, u, k), (e, c)]
        dA[m, y, q * B + b, c]  = Y[m, y, q, (B + b, c)] + Y[m, y, q + 1, (b, c)]

    (Wf the flipped filters, (f_h, f_w, n_C, n_C_prev)): output block q takes the second half of
    its own data row's outputs and the first half of the next data row's, one add. The product is
    2 (f_w - 1) / f_w times a direct convolution's multiplications (4/3 for 3x3 filters, where
    the band's blocks of B' = 4 cost 2).
    """

    @staticmethod
    def applicable(t: ConvGeometry) -> bool:
        """f_w >= 3 and at least ``SPREAD_MIN_FILTERS`` channels of the output gradient: there
        its smaller copy and product outweigh the add (see ``SPREAD_MIN_FILTERS``)."""
        return t.s_h == 1 and t.s_w == 1 and t.f_w >= 3 and t.n_C_prev >= SPREAD_MIN_FILTERS

    def __init__(self, t: ConvGeometry):
        self.t = t
        self.B = t.f_w - 1
        self.nb = -(-t.n_W // self.B)  # output blocks per row (the last may run past n_W)
        self.nb_in = self.nb + 1  # data rows per row: the last block also takes the next row's first half
        self.row = t.f_h * self.B * t.n_C_prev
        self.width = self.nb_in * self.B  # >= n_W + f_w - 1, the padded input's width

    def filters(self, Wf: np.ndarray) -> np.ndarray:
        """U (f_h * B * n_C, 2 B * n_C_prev) from the flipped filters (f_h, f_w, n_C, n_C_prev)."""
        t, B = self.t, self.B
        U = np.zeros((t.f_h, B, t.n_C_prev, 2 * B, t.n_C), dtype=Wf.dtype)
        for u in range(B):
            for j in range(t.f_w):
                U[:, u, :, u + B - j, :] = Wf[:, j]
        return U.reshape(self.row, 2 * B * t.n_C)

    def per_example(self, itemsize: int) -> int:
        """Scratch bytes per example: its data rows and their products."""
        return self.t.n_H * self.nb_in * (self.row + 2 * self.B * self.t.n_C) * itemsize

    def input_gradient(self, dZ: np.ndarray, Wf: np.ndarray) -> np.ndarray:
        """dA_prev (m, n_H, n_W, n_C) of the transposed geometry, chunk by chunk on cnnstep's threads."""
        t, B = self.t, self.B
        U = self.filters(Wf)
        dx = np.empty((t.m, t.n_H, t.n_W, t.n_C), dtype=dZ.dtype)
        exact = self.nb * B == t.n_W
        per_example = self.per_example(dZ.itemsize)
        parts = _config.chunks(t.m, per_example, _config.chunk_budget(_config.CACHE_CHUNK_BYTES))
        mc = _config.largest(parts)

        def task(group):
            framed = _frame.blank(mc, t.n_H_prev, t.n_W_prev, t.n_C_prev, t.pad, dZ.dtype, width=self.width)
            X = np.empty((mc * t.n_H * self.nb_in, self.row), dtype=dZ.dtype)
            Y = np.empty((X.shape[0], 2 * B * t.n_C), dtype=dZ.dtype)
            wide = None if exact else np.empty((mc, t.n_H, self.nb * B, t.n_C), dtype=dZ.dtype)
            for part in group:
                n = part.stop - part.start
                rows = _segments(_frame.put(framed, dZ[part], t.pad), X, t.n_H, self.nb_in, t.f_h, 1, B, B)
                # m y q (i u k) , (i u k) (e c) -> m y q (e c), then each block's two halves
                halves = np.matmul(rows, U, out=Y[: rows.shape[0]]).reshape(n, t.n_H, self.nb_in, 2, B * t.n_C)
                out = dx[part] if exact else wide[:n]
                np.add(halves[:, :, :-1, 1], halves[:, :, 1:, 0], out=out.reshape(n, t.n_H, self.nb, B * t.n_C))
                if not exact:
                    dx[part] = out[:, :, : t.n_W]

        _run(task, parts, per_example, t.m * t.n_H * self.nb_in * self.row)
        return dx
