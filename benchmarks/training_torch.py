"""The PyTorch twin of a cnnstep model for the training benchmark, and its timed epochs.

The same layers with the same shapes; TensorFlow-'same' padding written out (the
convolution's own symmetric padding where both sides agree, a ``ZeroPad2d`` in front where
they do not, -inf padding for a padded max-pool); a dense layer on the channels-last
flattening; channels_last memory; ``torch.optim.Adam``.
"""

from __future__ import annotations

import time

import numpy as np

import harness
from cnnstep._kernels import checks as _checks
from cnnstep.nn import layers


def _pads(layer):
    """A built layer's padding as ((top, bottom), (left, right)) for the input it was built for."""
    n_H, n_W = layer.input_shape[:2]
    f_h, f_w = layer.kernel_size if isinstance(layer, layers.Conv2D) else layer.f
    s_h, s_w = layer.stride
    pad = _checks.explicit_padding(layer.pad, "bench_training", "pad")
    return _checks.resolve_padding(pad, n_H, n_W, f_h, f_w, s_h, s_w).as_pairs()


def _channels_last_flatten(torch):
    """A module flattening in (h, w, c) order, as cnnstep's Flatten does."""

    class Flatten(torch.nn.Module):
        def forward(self, x):
            return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)

    return Flatten()


def _torch_modules(torch, layer) -> list:
    """The PyTorch modules computing what one built cnnstep layer computes."""
    nn = torch.nn
    if isinstance(layer, layers.Conv2D):
        (top, bottom), (left, right) = _pads(layer)
        c_in = layer.params["W"].shape[2]
        if top == bottom and left == right:  # the convolution pads symmetric sides itself
            return [nn.Conv2d(c_in, layer.filters, layer.kernel_size, stride=layer.stride, padding=(top, left))]
        return [
            nn.ZeroPad2d((left, right, top, bottom)),
            nn.Conv2d(c_in, layer.filters, layer.kernel_size, stride=layer.stride),
        ]
    if isinstance(layer, layers.ReLU):
        return [nn.ReLU()]
    if isinstance(layer, layers.MaxPool2D):
        (top, bottom), (left, right) = _pads(layer)
        padding = []
        if top or bottom or left or right:
            padding.append(nn.ConstantPad2d((left, right, top, bottom), float("-inf")))
        return padding + [nn.MaxPool2d(layer.f, layer.stride)]
    if isinstance(layer, layers.Flatten):
        return [_channels_last_flatten(torch)]
    if isinstance(layer, layers.Dense):
        return [nn.Linear(layer.params["W"].shape[0], layer.units)]
    raise ValueError(f"bench_training: no PyTorch twin for {type(layer).__name__}")


def _torch_model(torch, model):
    """The same layers in PyTorch, one ``nn.Sequential`` group per step of cnnstep's run.

    NCHW tensors in channels_last memory, as the NHWC arrays cnnstep works on.
    """
    nn = torch.nn
    groups = [
        nn.Sequential(*[m for i in indices for m in _torch_modules(torch, model.layers[i])])
        for indices, _ in model.plan
    ]
    return nn.Sequential(*groups).to(memory_format=torch.channels_last)


def _torch_epoch(torch, net, X, y, batch_size, clock: harness.Clock | None = None):
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    X_t = torch.from_numpy(X).permute(0, 3, 1, 2)  # channels_last views of the same data
    y_t = torch.from_numpy(y.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        for start in range(0, len(X), batch_size):
            optimizer.zero_grad(set_to_none=True)
            logits = net(X_t[start : start + batch_size])
            t0 = time.perf_counter()
            loss = loss_fn(logits, y_t[start : start + batch_size])
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            optimizer.step()
            if clock is not None:
                clock.add("loss", t1 - t0)
                clock.backward_window(t1, t2)
                clock.add("optimizer", time.perf_counter() - t2)

    return epoch


def _torch_breakdown(torch, net, keys, X, y, batch_size) -> tuple[dict, float]:
    """One epoch with hooks: each group's forward time, and its backward time from the moments
    the gradients of its output and of the previous group's output become ready."""
    clock = harness.Clock()
    ready = {}  # group index -> time its output's gradient was ready, this batch
    starts = {}
    handles = []

    def pre_hook(k):
        def hook(module, args):
            starts[k] = time.perf_counter()

        return hook

    def post_hook(k):
        def hook(module, args, output):
            clock.add((keys[k], "forward"), time.perf_counter() - starts[k])
            if output.requires_grad:
                output.register_hook(lambda grad: ready.__setitem__(k, time.perf_counter()))

        return hook

    for k, group in enumerate(net):
        handles.append(group.register_forward_pre_hook(pre_hook(k)))
        handles.append(group.register_forward_hook(post_hook(k)))

    def backward_window(start, end):
        # group k's backward runs from its output's gradient to its input's (the previous
        # group's output); the first group's ends with the backward call
        for k in ready:
            clock.add((keys[k], "backward"), (ready.get(k - 1, end) if k > 0 else end) - ready[k])
        if ready:
            clock.add("loss", ready[max(ready)] - start)  # the loss's own backward
        ready.clear()

    clock.backward_window = backward_window
    try:
        start = time.perf_counter()
        _torch_epoch(torch, net, X, y, batch_size, clock)()
        total = time.perf_counter() - start
    finally:
        for handle in handles:
            handle.remove()
    return clock.seconds, total
