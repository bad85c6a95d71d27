"""The exercise, walked through with the library: each block on small seeded inputs.

:func:`run` calls the eight blocks in the exercise's order on inputs drawn from
``np.random.default_rng(1)``, prints what the exercise prints (shapes, a few values,
means of the gradients), and draws three figures into a folder::

    zero_pad.png   an image before and after zero padding
    conv.png       a digit and the feature maps of a vertical- and a horizontal-edge filter
    pooling.png    max versus average pooling of the vertical-edge map (after ReLU)

and the animations of :mod:`cnnstep.app.animate` beside them (:data:`ANIMATIONS`: the
window of conv_forward and pool_forward moving, conv_backward and max-pool backward
sending the gradients back).

``cnnstep demo`` runs it. The figures and animations need matplotlib and Pillow, the digit scikit-learn
(``pip install "cnnstep[app]"``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

import cnnstep

__all__ = ["run", "SEED", "FIGURES", "ANIMATIONS", "DEFAULT_OUT"]

SEED = 1
DEFAULT_OUT = "cnnstep-demo"
FIGURES = ("zero_pad.png", "conv.png", "pooling.png")
ANIMATIONS = (
    "conv_forward.gif",
    "pool_max.gif",
    "pool_average.gif",
    "conv_backward.gif",
    "pool_backward_max.gif",
)  # the names of cnnstep.app.animate.ANIMATIONS
SOBEL_X = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


def _text(value) -> str:
    """An array or number on a few lines, four decimals."""
    return np.array2string(np.asarray(value), precision=4, suppress_small=True, separator=", ")


def _section(log: Callable, title: str) -> None:
    log("")
    log(f"== {title}")


# --------------------------------------------------------------------------- the eight blocks


def zero_pad_step(rng: np.random.Generator, log: Callable) -> tuple[np.ndarray, np.ndarray]:
    """zero_pad on x (4, 3, 3, 2) with pad 3; returns x and x_pad."""
    _section(log, "zero_pad(x, pad=3)")
    x = rng.standard_normal((4, 3, 3, 2))
    x_pad = cnnstep.zero_pad(x, 3)
    log(f"x.shape = {x.shape}")
    log(f"x_pad.shape = {x_pad.shape}")
    log(f"x[1, 1] =\n{_text(x[1, 1])}")
    log(f"x_pad[1, 1] =\n{_text(x_pad[1, 1])}")
    return x, x_pad


def conv_single_step_step(rng: np.random.Generator, log: Callable) -> None:
    _section(log, "conv_single_step(a_slice_prev, W, b)")
    a_slice_prev = rng.standard_normal((4, 4, 3))
    W = rng.standard_normal((4, 4, 3))
    b = rng.standard_normal((1, 1, 1))
    Z = cnnstep.conv_single_step(a_slice_prev, W, b)
    log(f"a_slice_prev (4, 4, 3), W (4, 4, 3), b (1, 1, 1): Z = {float(Z):.6f}")


def conv_steps(rng: np.random.Generator, log: Callable) -> None:
    """conv_forward then conv_backward on the exercise's shapes."""
    _section(log, 'conv_forward(A_prev, W, b, {"pad": 1, "stride": 2})')
    A_prev = rng.standard_normal((2, 5, 7, 4))
    W = rng.standard_normal((3, 3, 4, 8))
    b = rng.standard_normal((1, 1, 1, 8))
    hparameters = {"pad": 1, "stride": 2}
    Z, cache_conv = cnnstep.conv_forward(A_prev, W, b, hparameters)
    log(f"A_prev {A_prev.shape}, W {W.shape}, b {b.shape} -> Z.shape = {Z.shape}")
    log("  n_H = (n_H_prev + 2*pad - f) // stride + 1 = (5 + 2 - 3) // 2 + 1 = 3")
    log(f"Z's mean = {Z.mean():.6f}")
    log(f"Z[0, 2, 1] =\n{_text(Z[0, 2, 1])}")
    log(f"cache_conv[0][1][2][3] =\n{_text(cache_conv[0][1][2][3])}")
    log(
        "cache_conv = (A_prev, W, b, hparameters): the very objects passed in: "
        f"{cache_conv[0] is A_prev and cache_conv[1] is W and cache_conv[2] is b and cache_conv[3] is hparameters}"
    )

    _section(log, "conv_backward(Z, cache_conv)")
    dA, dW, db = cnnstep.conv_backward(Z, cache_conv)
    log(f"dA.shape = {dA.shape}, dW.shape = {dW.shape}, db.shape = {db.shape}")
    log(f"dA_mean = {dA.mean():.6f}")
    log(f"dW_mean = {dW.mean():.6f}")
    log(f"db_mean = {db.mean():.6f}")


def pool_forward_step(rng: np.random.Generator, log: Callable) -> None:
    _section(log, 'pool_forward(A_prev, {"stride": 1, "f": 3}, mode)')
    A_prev = rng.standard_normal((2, 5, 5, 3))
    hparameters = {"stride": 1, "f": 3}
    for mode in ("max", "average"):
        A, _ = cnnstep.pool_forward(A_prev, hparameters, mode=mode)
        log(f"mode = {mode}: A.shape = {A.shape}")
        log(f"A[1, 1] =\n{_text(A[1, 1])}")


def mask_and_distribute_steps(rng: np.random.Generator, log: Callable) -> None:
    _section(log, "create_mask_from_window(x)")
    x = rng.standard_normal((2, 3))
    log(f"x =\n{_text(x)}")
    log(f"mask =\n{cnnstep.create_mask_from_window(x)}")

    _section(log, "distribute_value(2, (2, 2))")
    log(f"distributed value =\n{_text(cnnstep.distribute_value(2, (2, 2)))}")


def pool_backward_step(rng: np.random.Generator, log: Callable) -> None:
    _section(log, 'pool_backward(dA, cache, mode) with {"stride": 1, "f": 2}')
    A_prev = rng.standard_normal((5, 5, 3, 2))
    hparameters = {"stride": 1, "f": 2}
    A, cache = cnnstep.pool_forward(A_prev, hparameters)
    dA = rng.standard_normal((5, 4, 2, 2))
    log(f"A_prev {A_prev.shape} -> A {A.shape}; dA {dA.shape}")
    for mode in ("max", "average"):
        dA_prev = cnnstep.pool_backward(dA, cache, mode=mode)
        log(f"mode = {mode}: mean of dA = {dA.mean():.6f}")
        log(f"dA_prev[1, 1] =\n{_text(dA_prev[1, 1])}")


# --------------------------------------------------------------------------- the figures


def upsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear upsampling of a square image (n, n) to (n*factor, n*factor), pixel centres aligned."""
    n = image.shape[0]
    coords = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0, n - 1)
    low = np.floor(coords).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    t = coords - low
    rows = image[low] * (1 - t)[:, np.newaxis] + image[high] * t[:, np.newaxis]
    return rows[:, low] * (1 - t) + rows[:, high] * t


def digit_image(factor: int = 4) -> np.ndarray:
    """A handwritten zero from scikit-learn's digits, upsampled to (8*factor, 8*factor), in [0, 1]."""
    from cnnstep.app.data import load_digits

    digits = load_digits()
    image = digits.X[int(np.flatnonzero(digits.y == 0)[0]), :, :, 0].astype(np.float64)
    return upsample(image, factor)


def edge_maps(image: np.ndarray) -> np.ndarray:
    """The image convolved with a vertical- and a horizontal-edge filter: (n_H, n_W, 2), 'same' size."""
    W = np.stack([SOBEL_X, SOBEL_X.T], axis=-1)[:, :, np.newaxis, :]  # (3, 3, 1, 2)
    b = np.zeros((1, 1, 1, 2))
    Z, _ = cnnstep.conv_forward(image[np.newaxis, :, :, np.newaxis], W, b, {"stride": 1, "pad": 1})
    return Z[0]


def figures(x: np.ndarray, x_pad: np.ndarray, out: Path, log: Callable) -> list[str]:
    """Draw the three figures and the animations into ``out``; return their paths."""
    from cnnstep.app import animate, plots

    out.mkdir(parents=True, exist_ok=True)
    paths = [
        plots.padding_figure(
            x[0, :, :, 0], x_pad[0, :, :, 0], out / FIGURES[0], titles=("x[0, :, :, 0]", "x_pad[0, :, :, 0]")
        )
    ]
    image = digit_image()
    maps = edge_maps(image)
    paths.append(
        plots.feature_maps(
            image,
            maps,
            out / FIGURES[1],
            image_title="input (a digit)",
            titles=["vertical edges (Sobel x)", "horizontal edges (Sobel y)"],
        )
    )
    relu = np.maximum(maps[np.newaxis, :, :, :1], 0)
    hparameters = {"f": 4, "stride": 4}
    pooled = {mode: cnnstep.pool_forward(relu, hparameters, mode=mode)[0][0, :, :, 0] for mode in ("max", "average")}
    paths.append(
        plots.pooling_figure(
            relu[0, :, :, 0], pooled["max"], pooled["average"], out / FIGURES[2], image_title="ReLU(vertical edges)"
        )
    )
    paths += animate.write_all(out, seed=SEED)
    _section(log, "figures and animations")
    for path in paths:
        log(f"wrote {path}")
    return paths


def run(out=DEFAULT_OUT, log: Callable = print, draw: bool = True) -> list[str]:
    """Walk through the eight blocks, printing as the exercise does; draw the figures and animations.

    Parameters
    ----------
    out : str or pathlib.Path
        The folder the figures go into (created when missing).
    log : callable
        Receives each line printed.
    draw : bool
        False skips the figures and animations (no matplotlib needed).

    Returns
    -------
    list of str
        The paths written: the figures (:data:`FIGURES`), then the animations (:data:`ANIMATIONS`).
    """
    if not isinstance(out, (str, os.PathLike)) or (isinstance(out, str) and not out):
        raise TypeError(f"demo.run: out must be a folder path (str or pathlib.Path), got {out!r}")
    if draw:  # a folder that cannot be made fails now, not after the walkthrough
        try:
            Path(out).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"demo.run: cannot create the figures' folder {str(out)!r}: {exc.strerror or exc}") from None
    rng = np.random.default_rng(SEED)
    log(f"cnnstep {cnnstep.__version__}: the eight blocks on inputs from np.random.default_rng({SEED})")
    x, x_pad = zero_pad_step(rng, log)
    conv_single_step_step(rng, log)
    conv_steps(rng, log)
    pool_forward_step(rng, log)
    mask_and_distribute_steps(rng, log)
    pool_backward_step(rng, log)
    return figures(x, x_pad, Path(out), log) if draw else []
