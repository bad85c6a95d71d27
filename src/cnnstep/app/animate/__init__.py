"""Animations of the blocks: the exercise's pictures, with every number on screen.

Each function draws one small, seeded example as an animated GIF (Matplotlib renders the
frames, Pillow writes the file) and returns the path it wrote:

    conv_forward_gif      the window moves with the stride over the zero-padded input;
                          each output cell fills in as ``conv_single_step`` computes it
    pool_forward_gif      the window moves over the input; each output is the max (the
                          cells of ``create_mask_from_window`` shown) or the mean
    conv_backward_gif     each ``dZ`` cell sends ``W * dZ[h, w]`` back to its window;
                          overlapping windows add up and the padding is cut off
    pool_backward_gif     max-pooling's mask routes each gradient to the window's maxima,
                          every tied maximum included; overlaps add up

The numbers are small integers drawn from ``np.random.default_rng(seed)``, so that the
arithmetic can be followed by eye, and every value shown that a block computes comes from
the block itself (``cnnstep.conv_single_step``, ``pool_forward``, ``conv_backward``,
``create_mask_from_window``, ``pool_backward``). Each animation's numbers are computed
first, without drawing, by its ``*_walk`` function (:class:`Walk`: the inputs, the block's
result and one step per frame), which the tests check against the blocks.
:func:`write_all` writes the set that ``cnnstep demo`` and ``cnnstep explain`` use.

Needs matplotlib and Pillow (``pip install "cnnstep[app]"``).
"""

from __future__ import annotations

import os
from pathlib import Path

from cnnstep._kernels import checks as _checks
from cnnstep.app.animate.drawing import MAX_SIDE
from cnnstep.app.animate.gifs import conv_backward_gif, conv_forward_gif, pool_backward_gif, pool_forward_gif
from cnnstep.app.animate.walks import (
    Walk,
    conv_backward_walk,
    conv_forward_walk,
    pool_backward_walk,
    pool_forward_walk,
)

__all__ = [
    "conv_forward_gif",
    "pool_forward_gif",
    "conv_backward_gif",
    "pool_backward_gif",
    "write_all",
    "Walk",
    "conv_forward_walk",
    "pool_forward_walk",
    "conv_backward_walk",
    "pool_backward_walk",
    "ANIMATIONS",
    "MAX_SIDE",
]


# --------------------------------------------------------------------------- the set


ANIMATIONS = {
    "conv_forward.gif": "conv_forward: the window moves with stride 2 over the input zero-padded by 1",
    "pool_max.gif": "pool_forward, mode='max': 2x2 windows, stride 2",
    "pool_average.gif": "pool_forward, mode='average': 2x2 windows, stride 2",
    "conv_backward.gif": "conv_backward: each dZ cell sends W·dZ back to its window; overlaps add up",
    "pool_backward_max.gif": "pool_backward, mode='max': the mask routes each gradient, tied maxima included",
}


def write_all(out, seed: int = 0) -> list[str]:
    """The five animations of :data:`ANIMATIONS` into the folder ``out``; their paths."""
    func = "write_all"
    if not isinstance(out, (str, os.PathLike)) or (isinstance(out, str) and not out):
        raise TypeError(f"{func}: out must be a folder path (str or pathlib.Path), got {_checks.show(out)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(ANIMATIONS)
    return [
        conv_forward_gif(out / names[0], n=5, f=3, stride=2, pad=1, seed=seed),
        pool_forward_gif(out / names[1], mode="max", n=4, f=2, stride=2, seed=seed),
        pool_forward_gif(out / names[2], mode="average", n=4, f=2, stride=2, seed=seed),
        conv_backward_gif(out / names[3], n=4, f=2, stride=1, pad=1, seed=seed),
        pool_backward_gif(out / names[4], n=4, f=2, stride=1, seed=seed),
    ]
