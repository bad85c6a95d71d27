"""The explainer page's data: every layer's output on one image, and the page around it.

:func:`layer_views` runs the model layer by layer (each layer's own ``forward``, so the
numbers are the blocks' own: ``conv_forward``, ``pool_forward``, ...) and describes each
output for the page; :func:`payload` adds the model, the image, the class probabilities
and the animations; :func:`render` pours it into ``page.html`` with the page's CSS and
JavaScript inlined. Arrays travel as base64 of little-endian float32, C order
``(n_H, n_W, n_C)``, which the page reads into a ``Float32Array``.
"""

from __future__ import annotations

import base64
import json
from importlib import resources

import numpy as np

import cnnstep
from cnnstep._kernels import checks as _checks
from cnnstep.app.common import optional

GENERATOR = "cnnstep explain"
ASSETS = ("page.html", "page.css", "page.js")


def _b64(array) -> str:
    data = np.ascontiguousarray(np.asarray(array, dtype="<f4"))
    return base64.b64encode(data.tobytes()).decode("ascii")


def _range(array) -> list:
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return [0.0, 0.0]
    return [float(finite.min()), float(finite.max())]


def _spatial(name: str, index: int, config: str, out: np.ndarray) -> dict:
    return {
        "index": index,
        "name": name,
        "config": config,
        "shape": list(out.shape),
        "data": _b64(out),
        "range": _range(out),
    }


def layer_views(model, x: np.ndarray) -> tuple[list, np.ndarray]:
    """Every layer's output on the one image ``x`` (n_H, n_W, n_C), described for the page.

    Returns
    -------
    (views, logits)
        ``views``: the input, then one dict per layer: ``kind`` ("input", "conv", "pool",
        "relu" or "flat"), ``name``, ``config``, ``shape``; for image-shaped outputs the data
        and its range, and what the page needs to show one output's arithmetic (the
        filters and biases, stride, padding resolved to (top, bottom, left, right), window).
    """
    from cnnstep.nn import AvgPool2D, Conv2D, MaxPool2D, ReLU

    batch = np.asarray(x, dtype=model.layers[0].dtype)[np.newaxis]
    views = [{**_spatial("Input", -1, "the image as the model sees it", batch[0]), "kind": "input"}]
    for index, layer in enumerate(model.layers):
        name = type(layer).__name__
        below = batch
        batch = layer.forward(below, training=False)
        if batch.ndim != 4:
            views.append({"index": index, "name": name, "config": layer.describe(), "shape": list(batch.shape[1:])})
            views[-1]["kind"] = "flat"
            continue
        view = _spatial(name, index, layer.describe(), batch[0])
        if isinstance(layer, Conv2D):
            W, b = layer.params["W"], layer.params["b"]
            g = _checks.conv_geometry(below.shape, W.shape, layer.hparameters, f"{name} {index}")
            view.update(
                kind="conv",
                W=_b64(W),
                W_shape=list(W.shape),
                W_range=_range(W),
                b=_b64(b.reshape(-1)),
                stride=[g.s_h, g.s_w],
                f=[g.f_h, g.f_w],
                pad=list(g.pad),
            )
        elif isinstance(layer, (MaxPool2D, AvgPool2D)):
            g = _checks.pool_geometry(below.shape, layer.hparameters, layer.mode, f"{name} {index}")
            view.update(kind="pool", mode=layer.mode, stride=[g.s_h, g.s_w], f=[g.f_h, g.f_w], pad=list(g.pad))
        elif isinstance(layer, ReLU):
            view["kind"] = "relu"
        else:
            view["kind"] = "other"
        views.append(view)
    return views, batch[0]


def payload(model, model_text: str, picture, views: list, logits: np.ndarray, animations: list) -> dict:
    """Everything the page shows, as JSON-able values."""
    from cnnstep.nn import softmax

    probabilities = softmax(np.asarray(logits, dtype=np.float64)[np.newaxis])[0]
    if not np.all(np.isfinite(probabilities)):
        raise ValueError(
            f"explain: the model's class scores on {picture.source!r} are not finite ({np.asarray(logits).tolist()}): "
            f"its weights hold NaN or infinity (a diverged training?)"
        )
    best = int(np.argmax(probabilities))
    return {
        "generator": GENERATOR,
        "version": cnnstep.__version__,
        "model": {
            "text": model_text,
            "summary": model.summary(),
            "input_shape": list(model.input_shape),
            "params": model.count_params(),
        },
        "image": {"source": picture.source, "note": picture.note, "label": picture.label, "file": "input.png"},
        "classes": list(model.classes),
        "probabilities": [float(p) for p in probabilities],
        "predicted": best,
        "layers": views,
        "animations": animations,
    }


def _asset(name: str) -> str:
    return resources.files("cnnstep.app.explain").joinpath(name).read_text(encoding="utf-8")


def render(data: dict) -> str:
    """The page: page.html with the CSS, the JavaScript and the data inlined."""
    html, css, js = (_asset(name) for name in ASSETS)
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    text = text.replace("</", "<\\/")  # nothing in the data can close the script element
    return (
        html.replace("/*PAGE_CSS*/", css)
        .replace("/*PAGE_JS*/", js)
        .replace("/*PAGE_DATA*/", text)
        .replace("PAGE_GENERATOR", f"{GENERATOR} {cnnstep.__version__}")
    )


def input_png(x: np.ndarray, path, side: int = 256) -> None:
    """The input image, nearest-neighbour enlarged to about ``side`` pixels, as a PNG file."""
    Image = optional("PIL.Image", "input_png")

    n_H, n_W, n_C = x.shape
    factor = max(1, side // max(n_H, n_W))
    low, high = float(np.min(x)), float(np.max(x))
    scaled = (x - low) / (high - low) if not (0 <= low and high <= 1) and high > low else np.clip(x, 0, 1)
    pixels = np.rint(scaled * 255).astype(np.uint8)
    pixels = pixels[..., 0] if n_C == 1 else (pixels[..., :3] if n_C >= 3 else pixels[..., 0])
    image = Image.fromarray(pixels).resize((n_W * factor, n_H * factor), Image.Resampling.NEAREST)
    image.save(path, format="PNG")
