"""PyTorch as a parity oracle: the blocks' NHWC arrays through NCHW torch functions."""

import numpy as np

from cnnstep._kernels import checks as _checks

torch = None


def load():
    global torch
    import torch as _torch

    torch = _torch
    return _torch


def nchw(x, requires_grad=False):
    t = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).contiguous()
    return t.requires_grad_(requires_grad)


def nhwc(t):
    return t.detach().permute(0, 2, 3, 1).numpy()


def conv(A_prev, W, b, hp, dZ):
    """Z, dA_prev, dW, db from torch's conv2d and autograd, in the dtype of A_prev.

    Torch computes in float64 whatever the inputs: its float32 CPU convolution returns wrong
    numbers for some tiny geometries (A_prev (2, 4, 3, 1), W (3, 3, 1, 1), stride (1, 2),
    pad 0 gave 0.2263 where the exact value is -0.0726, and once 1e19 on a first call).
    """
    dtype = A_prev.dtype
    A_prev, W, b, dZ = (np.asarray(x, dtype=np.float64) for x in (A_prev, W, b, dZ))
    F = torch.nn.functional
    _, n_H_prev, n_W_prev, _ = A_prev.shape
    f_h, f_w = W.shape[:2]
    s = _checks.positive_pair(hp["stride"], "torch", "stride")
    p = _checks.resolve_padding(_checks.explicit_padding(hp["pad"], "torch", "pad"), n_H_prev, n_W_prev, f_h, f_w, *s)
    x = nchw(A_prev, requires_grad=True)
    w = torch.from_numpy(np.ascontiguousarray(W.transpose(3, 2, 0, 1))).requires_grad_(True)
    bias = torch.from_numpy(b.reshape(-1).copy()).requires_grad_(True)
    z = F.conv2d(F.pad(x, (p.left, p.right, p.top, p.bottom)), w, bias, stride=s)
    z.backward(nchw(dZ))
    grads = (nhwc(z), nhwc(x.grad), w.grad.numpy().transpose(2, 3, 1, 0), bias.grad.numpy().reshape(1, 1, 1, -1))
    return tuple(g.astype(dtype) for g in grads)


def pool(A_prev, hp, mode, dA=None):
    """A (and dA_prev when dA is given) from torch's max_pool2d / avg_pool2d with symmetric padding."""
    F = torch.nn.functional
    f = _checks.positive_pair(hp["f"], "torch", "f")
    s = _checks.positive_pair(hp["stride"], "torch", "stride")
    p = _checks.explicit_padding(hp.get("pad", 0), "torch", "pad")
    assert p.top == p.bottom and p.left == p.right, "torch pools pad symmetrically"
    x = nchw(A_prev, requires_grad=True)
    if mode == "max":
        a = F.max_pool2d(x, f, s, padding=(p.top, p.left))
    else:
        a = F.avg_pool2d(x, f, s, padding=(p.top, p.left), count_include_pad=False)
    if dA is None:
        return nhwc(a)
    a.backward(nchw(dA))
    return nhwc(a), nhwc(x.grad)
