"""cnnstep: convolutional networks built step by step in NumPy.

The eight building blocks of the "convolutional model, step by step" exercise, exact to
the letter of its API and vectorized::

    zero_pad, conv_single_step, conv_forward, conv_backward,
    pool_forward, create_mask_from_window, distribute_value, pool_backward

Arrays are channels-last, (m, n_H, n_W, n_C). :mod:`cnnstep.reference` holds the same
eight functions as plain loops (the teaching version and test oracle);
:mod:`cnnstep.gradcheck` checks any backward against finite differences;
:mod:`cnnstep.nn` builds networks from the blocks, and :func:`load_model` reads one back.
``cnnstep.check(globals())`` checks a learner's own eight functions and diagnoses them
(:mod:`cnnstep.app.checker`, imported on first use).
"""

from cnnstep._kernels.config import set_workspace_limit, workspace_limit
from cnnstep._kernels.parallel import num_threads, set_num_threads
from cnnstep.conv import conv_backward, conv_forward, conv_single_step, zero_pad
from cnnstep.nn.io import load_model
from cnnstep.pool import (
    create_mask_from_window,
    distribute_value,
    pool_backward,
    pool_forward,
)

__version__ = "0.1.0"

__all__ = [
    "zero_pad",
    "conv_single_step",
    "conv_forward",
    "conv_backward",
    "pool_forward",
    "create_mask_from_window",
    "distribute_value",
    "pool_backward",
    "set_workspace_limit",
    "workspace_limit",
    "set_num_threads",
    "num_threads",
    "load_model",
    "check",
]


def __getattr__(name):
    # The learner's checker lives in the app; ``import cnnstep`` stays NumPy-only until it is used.
    if name == "check":
        from cnnstep.app.checker import check

        return check
    raise AttributeError(f"module 'cnnstep' has no attribute {name!r}")
