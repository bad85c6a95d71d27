"""The kernel suite's cases (layer geometries), their inputs, and the contenders timed on them:
cnnstep's blocks and PyTorch's autograd on the same NHWC arrays."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

import cnnstep
import harness
from cnnstep._kernels import checks as _checks

NA = harness.NA
OPS = ("forward", "backward", "forward_backward")
DTYPES = ("float32", "float64")
SEED = 20261126

# --quick: caps on rounds / repeat / pause, and the batch size of every case.
QUICK_ROUNDS = 2
QUICK_REPEAT = 2
QUICK_PAUSE = 0.02
QUICK_M = 8
# --quick times the loops on an output of at most this many positions per side.
QUICK_LOOP_SIDE = 8
# The report marks a ratio whose noise band spans more than this factor.
NOISY_BAND = 2.0
# A loop timing shorter than this is taken twice and the faster kept.
LOOP_SECOND_TRY_S = 0.5


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One benchmark geometry.

    ``kind="conv"``: A_prev (m, n_H_prev, n_W_prev, n_C_prev) convolved with ``n_C``
    filters of f x f, ``stride``, ``pad`` (anything ``conv_forward`` accepts).
    ``kind="pool"``: an f x f window, ``stride``, ``mode`` "max" or "average", no padding.
    """

    name: str
    kind: str
    m: int
    n_H_prev: int
    n_W_prev: int
    n_C_prev: int
    f: int
    stride: int = 1
    n_C: int | None = None
    pad: int | str = 0
    mode: str = "max"

    def __post_init__(self):
        func = "bench_kernels.Case"
        if not isinstance(self.name, str) or not self.name or "," in self.name:
            raise ValueError(f"{func}: name must be a non-empty string without commas, got {self.name!r}")
        if self.kind not in ("conv", "pool"):
            raise ValueError(f'{func}: kind must be "conv" or "pool", got {self.kind!r} (case {self.name})')
        for field in ("m", "n_H_prev", "n_W_prev", "n_C_prev", "f", "stride"):
            value = getattr(self, field)
            if not _checks.is_int(value) or value < 1:
                raise ValueError(f"{func}: {field} must be a positive integer, got {value!r} (case {self.name})")
        if self.kind == "conv" and (not _checks.is_int(self.n_C) or self.n_C < 1):
            raise ValueError(
                f"{func}: a conv case needs n_C, a positive number of filters, got {self.n_C!r} (case {self.name})"
            )
        if self.kind == "pool":
            _checks.pool_mode(self.mode, func)
        self.geometry(0)  # the layer's own validation: window fits, padding form, ...

    def hparameters(self) -> dict:
        if self.kind == "conv":
            return {"stride": self.stride, "pad": self.pad}
        return {"f": self.f, "stride": self.stride}

    def geometry(self, m: int | None = None, n_H_prev: int | None = None, n_W_prev: int | None = None):
        """The validated ConvGeometry or PoolGeometry (m: the case's by default), from the shape rules."""
        shape = (self.m if m is None else m, n_H_prev or self.n_H_prev, n_W_prev or self.n_W_prev, self.n_C_prev)
        func = f"bench_kernels case {self.name}"
        if self.kind == "conv":
            W_shape = (self.f, self.f, self.n_C_prev, self.n_C)
            g = _checks.conv_geometry(shape, W_shape, self.hparameters(), func)
        else:
            g = _checks.pool_geometry(shape, self.hparameters(), self.mode, func)
        return g

    def label(self) -> str:
        size = f"{self.n_H_prev}x{self.n_W_prev}x{self.n_C_prev}"
        if self.kind == "conv":
            return f"m={self.m} {size} -> {self.f}x{self.f}x{self.n_C} pad {self.pad!r} stride {self.stride}"
        return f"m={self.m} {size} {self.mode} f={self.f} s={self.stride}"

    def to_dict(self) -> dict:
        return asdict(self)


def _conv(name, m, n_H_prev, n_W_prev, n_C_prev, f, n_C, pad, stride=1) -> Case:
    return Case(name, "conv", m, n_H_prev, n_W_prev, n_C_prev, f, stride=stride, n_C=n_C, pad=pad)


def _pool(name, m, n_H_prev, n_W_prev, n_C, f, stride, mode) -> Case:
    return Case(name, "pool", m, n_H_prev, n_W_prev, n_C, f, stride=stride, mode=mode)


CASES = (
    _conv("S1", 64, 32, 32, 3, f=3, n_C=16, pad=1),
    _conv("S2", 64, 32, 32, 64, f=3, n_C=64, pad=1),
    _conv("S3", 32, 64, 64, 3, f=4, n_C=8, pad="same"),
    _conv("S4", 64, 28, 28, 32, f=5, n_C=64, pad=2, stride=2),
    _pool("P1", 64, 32, 32, 64, f=2, stride=2, mode="max"),
    _pool("P2", 64, 32, 32, 64, f=2, stride=2, mode="average"),
    _pool("P3", 64, 32, 32, 64, f=3, stride=1, mode="max"),
    _pool("P4", 64, 32, 32, 64, f=3, stride=1, mode="average"),
    _pool("P5", 64, 64, 64, 8, f=8, stride=8, mode="max"),
    _pool("P6", 64, 64, 64, 8, f=8, stride=8, mode="average"),
)


def select_cases(cases) -> list[Case]:
    """Cases from None (all), names (a list or a comma-separated string), Case objects or dicts."""
    if cases is None:
        return list(CASES)
    if isinstance(cases, (str, Case, Mapping)):
        cases = [cases]
    known = {case.name: case for case in CASES}
    chosen: list[Case] = []
    for item in cases:
        if isinstance(item, Case):
            chosen.append(item)
        elif isinstance(item, Mapping):
            chosen.append(Case(**item))
        elif isinstance(item, str):
            for name in filter(None, (part.strip() for part in item.split(","))):
                if name not in known:
                    raise ValueError(f"bench_kernels: unknown case {name!r}, expected one of {', '.join(known)}")
                chosen.append(known[name])
        else:
            raise TypeError(f"bench_kernels: a case must be a name, a Case or a dict, got {_checks.show(item)}")
    if not chosen:
        raise ValueError("bench_kernels: no case selected")
    names = [case.name for case in chosen]
    if len(set(names)) != len(names):
        raise ValueError(f"bench_kernels: case names must be unique, got {names}")
    return chosen


def select_dtypes(dtypes) -> list[str]:
    if isinstance(dtypes, str):
        dtypes = dtypes.split(",")
    chosen = [str(np.dtype(d.strip() if isinstance(d, str) else d)) for d in dtypes]
    for d in chosen:
        if d not in DTYPES:
            raise ValueError(f"bench_kernels: dtype must be one of {', '.join(DTYPES)}, got {d!r}")
    if not chosen:
        raise ValueError("bench_kernels: no dtype selected")
    return list(dict.fromkeys(chosen))


# --------------------------------------------------------------------------- inputs and contenders


def inputs(case: Case, g, dtype: str, seed: int = SEED) -> dict:
    """The arrays both contenders get: A_prev, the output gradient and (conv) W, b."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    arrays = {"A": rng.standard_normal((g.m, g.n_H_prev, g.n_W_prev, case.n_C_prev), dtype=dt)}
    if case.kind == "conv":
        fan_in = case.f * case.f * case.n_C_prev
        arrays["W"] = (rng.standard_normal((case.f, case.f, case.n_C_prev, case.n_C)) / np.sqrt(fan_in)).astype(dt)
        arrays["b"] = rng.standard_normal((1, 1, 1, case.n_C), dtype=dt)
    arrays["dZ"] = rng.standard_normal((g.m, g.n_H, g.n_W, g.n_C), dtype=dt)
    return arrays


def cnnstep_ops(case: Case, arrays: dict, blocks=cnnstep) -> dict[str, harness.Op]:
    """forward, backward (after an untimed forward) and forward+backward of cnnstep's blocks."""
    hp = case.hparameters()
    A, dZ = arrays["A"], arrays["dZ"]
    if case.kind == "conv":
        W, b = arrays["W"], arrays["b"]

        def forward(_=None):
            return blocks.conv_forward(A, W, b, hp)

        def backward(out_cache):
            return blocks.conv_backward(dZ, out_cache[1])

        def forward_backward(_):
            out, cache = blocks.conv_forward(A, W, b, hp)
            return out, blocks.conv_backward(dZ, cache)
    else:
        mode = case.mode

        def forward(_=None):
            return blocks.pool_forward(A, hp, mode)

        def backward(out_cache):
            return blocks.pool_backward(dZ, out_cache[1], mode)

        def forward_backward(_):
            out, cache = blocks.pool_forward(A, hp, mode)
            return out, blocks.pool_backward(dZ, cache, mode)

    return {
        "forward": harness.Op(harness.nothing, forward),
        "backward": harness.Op(forward, backward),
        "forward_backward": harness.Op(harness.nothing, forward_backward),
    }


def torch_tensors(torch, case: Case, arrays: dict) -> dict:
    """The arrays as torch leaves, converted once, outside every timed region.

    A_prev and dZ are zero-copy channels_last views of the very NHWC arrays cnnstep gets;
    W is copied once to torch's (n_C, n_C_prev, f_h, f_w) layout.
    """
    tensors = {
        "x": torch.from_numpy(arrays["A"]).permute(0, 3, 1, 2).requires_grad_(True),
        "dz": torch.from_numpy(arrays["dZ"]).permute(0, 3, 1, 2),
    }
    if case.kind == "conv":
        # f_h f_w c k -> k c f_h f_w
        tensors["w"] = torch.from_numpy(np.ascontiguousarray(arrays["W"].transpose(3, 2, 0, 1))).requires_grad_(True)
        tensors["bias"] = torch.from_numpy(arrays["b"].reshape(-1).copy()).requires_grad_(True)
    return tensors


def torch_ops(torch, case: Case, g, tensors: dict) -> dict[str, harness.Op]:
    """The same three operations in PyTorch, through autograd: ``z.backward(dz)``."""
    F = torch.nn.functional
    x, dz = tensors["x"], tensors["dz"]
    if case.kind == "conv":
        w, bias = tensors["w"], tensors["bias"]
        leaves = (x, w, bias)
        p, stride = g.pad, (g.s_h, g.s_w)
        if p.top == p.bottom and p.left == p.right:
            explicit, padding = None, (p.top, p.left)
        else:  # torch pads symmetrically: the odd extra row/column goes in by F.pad
            explicit, padding = (p.left, p.right, p.top, p.bottom), 0

        def forward():
            x_in = x if explicit is None else F.pad(x, explicit)
            return F.conv2d(x_in, w, bias, stride=stride, padding=padding)
    else:
        leaves = (x,)
        window, stride = (g.f_h, g.f_w), (g.s_h, g.s_w)
        pool = F.max_pool2d if case.mode == "max" else F.avg_pool2d

        def forward():
            return pool(x, window, stride)

    def clear():
        for leaf in leaves:
            leaf.grad = None

    def fresh_forward():
        clear()
        return forward()

    def forward_backward(_):
        z = forward()
        z.backward(dz)
        return z

    return {
        "forward": harness.Op(clear, lambda _: forward()),
        "backward": harness.Op(fresh_forward, lambda z: z.backward(dz)),
        "forward_backward": harness.Op(clear, forward_backward),
    }
