"""Hypothesis strategies for convolution and pooling configurations."""

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from cnnstep._kernels import checks as _checks

small = st.integers(min_value=1, max_value=4)
stride_values = st.one_of(st.integers(1, 5), st.tuples(st.integers(1, 5), st.integers(1, 5)))
pad_amount = st.integers(0, 3)
pad_values = st.one_of(
    pad_amount,
    st.tuples(pad_amount, pad_amount),
    st.tuples(st.tuples(pad_amount, pad_amount), st.tuples(pad_amount, pad_amount)),
    st.sampled_from(["same", "valid"]),
)
dtypes = st.sampled_from([np.float64, np.float32])


@st.composite
def conv_configs(draw):
    """(A_prev, W, b, hparameters) with strides up to 5 (beyond f), every pad form, rectangular W."""
    dtype = draw(dtypes)
    m, n_C_prev, n_C = draw(st.integers(1, 3)), draw(small), draw(small)
    f_h, f_w = draw(small), draw(small)
    n_H_prev, n_W_prev = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    hp = {"stride": draw(stride_values), "pad": draw(pad_values)}
    s_h, s_w = _checks.positive_pair(hp["stride"], "test", "stride")
    pad = _checks.resolve_padding(
        _checks.explicit_padding(hp["pad"], "test", "pad"), n_H_prev, n_W_prev, f_h, f_w, s_h, s_w
    )
    assume(f_h <= n_H_prev + pad.top + pad.bottom and f_w <= n_W_prev + pad.left + pad.right)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    A_prev = rng.normal(size=(m, n_H_prev, n_W_prev, n_C_prev)).astype(dtype)
    W = rng.normal(size=(f_h, f_w, n_C_prev, n_C)).astype(dtype)
    b = rng.normal(size=(1, 1, 1, n_C)).astype(dtype)
    return A_prev, W, b, hp


@st.composite
def pool_configs(draw, with_pad=True):
    """(A_prev, hparameters) with overlapping and gapped windows, rectangular f, optional pad."""
    dtype = draw(dtypes)
    m, n_C = draw(st.integers(1, 3)), draw(small)
    f_h, f_w = draw(small), draw(small)
    f = draw(st.sampled_from([(f_h, f_w), f_h]))
    f_h, f_w = _checks.positive_pair(f, "test", "f")
    n_H_prev, n_W_prev = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    hp = {"f": f, "stride": draw(stride_values)}
    if with_pad and draw(st.booleans()):
        hp["pad"] = draw(
            st.one_of(
                st.sampled_from(["same", "valid"]),
                st.tuples(st.integers(0, f_h - 1), st.integers(0, f_w - 1)),
                st.tuples(
                    st.tuples(st.integers(0, f_h - 1), st.integers(0, f_h - 1)),
                    st.tuples(st.integers(0, f_w - 1), st.integers(0, f_w - 1)),
                ),
            )
        )
    s_h, s_w = _checks.positive_pair(hp["stride"], "test", "stride")
    pad = _checks.resolve_padding(
        _checks.explicit_padding(hp.get("pad", 0), "test", "pad"), n_H_prev, n_W_prev, f_h, f_w, s_h, s_w
    )
    assume(max(pad.top, pad.bottom) < f_h and max(pad.left, pad.right) < f_w)
    assume(f_h <= n_H_prev + pad.top + pad.bottom and f_w <= n_W_prev + pad.left + pad.right)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        # ReLU-like data: many exact ties at zero, the case the tie rule is about
        A_prev = np.maximum(rng.normal(size=(m, n_H_prev, n_W_prev, n_C)), 0).astype(dtype)
    else:
        A_prev = rng.normal(size=(m, n_H_prev, n_W_prev, n_C)).astype(dtype)
    return A_prev, hp
