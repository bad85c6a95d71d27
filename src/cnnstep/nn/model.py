"""A sequential model: layers in a row, trained with softmax cross-entropy.

``Sequential(layers, input_shape)`` builds each layer for the output shape of the one
before it. Images are channels-last, ``X (m, n_H, n_W, n_C)``; labels are integer class
indices ``y (m,)``; the last layer gives the logits ``(m, k)`` and the softmax lives in the
loss. ``save`` writes one ``.npz`` that :func:`cnnstep.nn.io.load_model` rebuilds (the file
format lives in :mod:`cnnstep.nn.io`).
"""

from __future__ import annotations

import math
import time

import numpy as np

from cnnstep._kernels import checks as _checks
from cnnstep.nn import args
from cnnstep.nn.layers import Layer
from cnnstep.nn.losses import (
    class_labels,
    cross_entropy_sum,
    softmax,
    softmax_cross_entropy,
)
from cnnstep.nn.optim import Adam

__all__ = ["Sequential", "TrainingDiverged"]

FORMAT = "cnnstep.nn.Sequential"  # the "format" of config(), which cnnstep.nn.io checks when loading
FORMAT_VERSION = 1
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")


class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite; ``epoch`` and ``batch`` count from 1."""

    def __init__(self, message: str, epoch: int, batch: int):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch


def _class_names(classes, k: int) -> list[str]:
    func = "Sequential"
    if classes is None:
        return [str(c) for c in range(k)]
    if isinstance(classes, str) or not isinstance(classes, (list, tuple)):
        raise TypeError(f"{func}: classes must be a list of {k} class-name strings, got {_checks.show(classes)}")
    if not all(isinstance(c, str) for c in classes):
        raise TypeError(f"{func}: classes must be a list of strings, got {list(classes)!r}")
    if len(classes) != k:
        raise ValueError(f"{func}: classes names {len(classes)} classes but the last layer outputs {k} scores")
    if len(set(classes)) != len(classes):
        raise ValueError(f"{func}: classes must be distinct, got {list(classes)!r}")
    return list(classes)


def _cosine(epoch: int, epochs: int) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def _schedule(lr_schedule, optimizer, func: str):
    """The schedule as a callable (or None), checked against the optimizer."""
    if lr_schedule is None:
        return None
    if lr_schedule == "cosine":
        schedule = _cosine
    elif callable(lr_schedule):
        schedule = lr_schedule
    else:
        raise ValueError(
            f'{func}: lr_schedule must be None, "cosine" or a callable (epoch, epochs) -> factor, '
            f"got {_checks.show(lr_schedule)}"
        )
    lr = getattr(optimizer, "lr", None)
    if not isinstance(lr, (int, float)) or isinstance(lr, bool):
        raise TypeError(
            f"{func}: lr_schedule needs an optimizer with a numeric lr attribute, got {_checks.show(optimizer)}"
        )
    return schedule


def _callback(value, func: str, name: str):
    if value is not None and not callable(value):
        raise TypeError(f"{func}: {name} must be callable or None, got {_checks.show(value)}")
    return value


class Sequential:
    """Layers applied in order to images ``(m, *input_shape)``, ending in class logits.

    Parameters
    ----------
    layers : list of Layer
        New (unbuilt) layers; the last must output a flat vector of k class scores, e.g.
        ``Flatten()`` then ``Dense(k)``. A final ``Dense`` without an explicit ``init`` gets
        Glorot uniform initialisation (softmax follows it), the others He normal.
    input_shape : (n_H, n_W, n_C)
        One example's shape.
    classes : list of str, optional
        The name of each class; default ``"0", ..., "k-1"``.
    seed : int
        Seeds the initial weights.
    dtype : float32 or float64
        Of the parameters and the computation; inputs are cast to it batch by batch.

    Attributes
    ----------
    layers, input_shape, classes, dtype, seed
    output_shapes : list of tuple
        One example's output shape after each layer.
    plan : list of (tuple of int, step)
        The run: each step a layer, or two neighbouring layers run as one (a ReLU after the
        max-pooling that follows it, a ReLU in place on a convolution's output), with the
        layers' indices; :meth:`forward` and :meth:`backward` go through it.
    history : dict or None
        What the last :meth:`fit` returned.
    """

    def __init__(self, layers, input_shape, classes=None, seed=0, dtype=np.float32):
        func = "Sequential"
        self.layers = self._layer_list(layers)
        self.input_shape = args.example_shape(input_shape, func, "input_shape", ndim=3)
        self.dtype = args.float_dtype(dtype, func)
        if not _checks.is_int(seed):
            raise TypeError(f"{func}: seed must be an integer, got {_checks.show(seed)}")
        self.seed = int(seed)
        self.layers[-1].place_last()  # softmax follows the last layer
        try:
            self.output_shapes = self._build(np.random.default_rng(self.seed))
            if len(self.output_shapes[-1]) != 1:
                raise ValueError(
                    f"{func}: the last layer must output a flat vector of class scores (k,), "
                    f"got {self.output_shapes[-1]}: end the model with Flatten() and Dense(k)"
                )
            self.classes = _class_names(classes, self.output_shapes[-1][0])
            self.plan = self._plan()
        except Exception:
            for layer in self.layers:  # the layers stay usable in a corrected model
                layer.unbuild()
            raise
        self.history: dict | None = None

    @staticmethod
    def _layer_list(layers) -> list:
        func = "Sequential"
        if not isinstance(layers, (list, tuple)) or not layers:
            raise TypeError(f"{func}: layers must be a non-empty list of layers, got {_checks.show(layers)}")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"{func}: layers[{i}] must be a layer (Conv2D, ReLU, ...), got {_checks.show(layer)}")
            if any(layer is other for other in layers[:i]):
                raise ValueError(f"{func}: layers[{i}] is the same object as an earlier layer; create a new one")
            if layer.built:
                raise ValueError(
                    f"{func}: layers[{i}] {layer!r} is already built (part of another model?); create a new one"
                )
        return list(layers)

    def _build(self, rng: np.random.Generator) -> list:
        shapes, shape = [], self.input_shape
        for i, layer in enumerate(self.layers):
            try:
                layer.output_shape(shape)
            except ValueError as exc:
                raise ValueError(
                    f"Sequential: layer {i} {layer!r} cannot take its input of shape {shape}: {exc}"
                ) from None
            layer.build(shape, rng, self.dtype)
            shape = layer.output_shape(shape)
            shapes.append(shape)
        return shapes

    def _plan(self) -> list:
        """The run: ``(layer indices, step)`` pairs, each step a layer or two run as one.

        Every pair of neighbours is asked once (``layer.fuse(next_layer)``), from the last
        pair back, so that a ReLU joins the max-pooling after it (and runs on the pooled
        output) before the convolution in front of it could take it (to run in place). The
        fused steps compute what the layers compute one by one; each layer keeps its own
        parameters and gradients.
        """
        plan, i = [], len(self.layers) - 1
        while i >= 0:
            step = self.layers[i - 1].fuse(self.layers[i]) if i > 0 else None
            if step is None:
                plan.append(((i,), self.layers[i]))
                i -= 1
            else:
                plan.append(((i - 1, i), step))
                i -= 2
        return plan[::-1]

    # ----------------------------------------------------------------------- description

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    def summary(self) -> str:
        """A table of the layers: configuration, output shape, parameter count; then the total."""
        rows = [("#", "Layer", "Configuration", "Output shape", "Params")]
        rows.append(("", "Input", "", str((None,) + self.input_shape), ""))
        for i, (layer, shape) in enumerate(zip(self.layers, self.output_shapes, strict=False)):
            rows.append(
                (str(i), type(layer).__name__, layer.describe(), str((None,) + shape), f"{layer.count_params():,}")
            )
        widths = [max(len(row[c]) for row in rows) for c in range(5)]

        def line(row):
            cells = [row[c].rjust(widths[c]) if c in (0, 4) else row[c].ljust(widths[c]) for c in range(5)]
            return "  ".join(cells).rstrip()

        rule = "  ".join("-" * w for w in widths)
        total = self.count_params()
        out = [
            f"Sequential: input {self.input_shape}, {self.n_classes} classes, {self.dtype}",
            line(rows[0]),
            rule,
            *(line(r) for r in rows[1:]),
            rule,
            f"Total params: {total:,}",
        ]
        return "\n".join(out)

    def config(self) -> dict:
        """The architecture as a JSON-able dict (what :meth:`save` stores besides the arrays)."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "input_shape": list(self.input_shape),
            "classes": list(self.classes),
            "dtype": self.dtype.name,
            "seed": self.seed,
            "layers": [layer.config() for layer in self.layers],
        }

    def __repr__(self) -> str:
        return (
            f"Sequential({len(self.layers)} layers, input_shape={self.input_shape}, "
            f"classes={self.n_classes}, params={self.count_params():,})"
        )

    # ----------------------------------------------------------------------- checks

    def _images(self, X, func: str, name: str = "X") -> np.ndarray:
        X = _checks.real_array(X, func, name)
        if X.shape[1:] != self.input_shape or X.ndim != 4:
            n_H, n_W, n_C = self.input_shape
            hint = ""
            if X.shape == self.input_shape:
                hint = f" -- one image? pass {name}[None]"
            elif X.ndim == 4 and X.shape[1:] == (n_C, n_H, n_W):
                hint = " -- channels first? cnnstep is channels-last: transpose to (m, n_H, n_W, n_C)"
            raise ValueError(
                f"{func}: {name} must have shape (m, {', '.join(map(str, self.input_shape))}) "
                f"(m examples of the model's input_shape {self.input_shape}), got shape {X.shape}{hint}"
            )
        return X

    def _data(self, X, y, func: str, names=("X", "y")):
        X = self._images(X, func, names[0])
        if len(X) == 0:
            raise ValueError(f"{func}: {names[0]} holds no examples (shape {X.shape})")
        y = class_labels(y, len(X), self.n_classes, func, names[1])
        return X, y

    # ----------------------------------------------------------------------- passes

    def forward(self, X, training=True) -> np.ndarray:
        """Logits ``(m, k)`` for images ``X (m, n_H, n_W, n_C)``; ``training`` keeps the caches."""
        x = self._images(X, "Sequential.forward").astype(self.dtype, copy=False)
        for _, step in self.plan:
            x = step.forward(x, training=training)
        return x

    def backward(self, dlogits, input_gradient=True):
        """Backward through every layer after a training forward; fills every layer's grads.

        Returns the gradient with respect to X, or None with ``input_gradient=False``: then
        the layers before the first one with parameters are not called at all, and that
        layer skips its own input gradient (a large part of a first convolution's work).
        """
        with_params = [any(self.layers[i].params for i in indices) for indices, _ in self.plan]
        first = 0 if input_gradient else next((k for k, has in enumerate(with_params) if has), len(self.plan))
        grad = dlogits
        for k in range(len(self.plan) - 1, first - 1, -1):
            grad = self.plan[k][1].backward(grad, input_gradient=input_gradient or k > first)
        return grad if input_gradient else None

    def params_and_grads(self) -> list:
        """``(key, param, grad)`` for every parameter, keys ``"<layer index>.<name>"``."""
        return [
            (f"{i}.{name}", param, layer.grads[name])
            for i, layer in enumerate(self.layers)
            for name, param in layer.params.items()
        ]

    # ----------------------------------------------------------------------- training

    def fit(
        self,
        X,
        y,
        epochs=10,
        batch_size=32,
        optimizer=None,
        shuffle=True,
        seed=0,
        validation_data=None,
        on_batch_end=None,
        on_epoch_end=None,
        lr_schedule=None,
        augment=None,
    ) -> dict:
        """Train on mini-batches with softmax cross-entropy.

        Parameters
        ----------
        X : ndarray, shape (m, n_H, n_W, n_C)
        y : ndarray of int, shape (m,)
            Class indices ``0..k-1``.
        epochs, batch_size : int
            The last batch of an epoch may be smaller.
        optimizer : SGD, Adam or None
            Default: a new ``Adam()``. An optimizer passed in keeps its state across calls.
        shuffle : bool
            Draw each epoch's order with ``np.random.default_rng(seed)``.
        validation_data : (X_val, y_val), optional
            Evaluated after each epoch.
        on_batch_end : callable, optional
            ``on_batch_end(batch_index, n_batches, loss)`` after each step, batch_index from 0.
        on_epoch_end : callable, optional
            ``on_epoch_end(epoch, logs)`` after each epoch, epoch from 0, logs holding this
            epoch's entries of the history.
        lr_schedule : None, "cosine" or callable, optional
            The learning rate of each epoch, as a factor of the optimizer's ``lr`` when fit
            starts: ``"cosine"`` decays it along half a cosine, ``0.5 * (1 + cos(pi * epoch /
            epochs))``; a callable ``lr_schedule(epoch, epochs) -> factor`` (epoch from 0)
            gives any other. The optimizer's ``lr`` is restored when fit returns.
        augment : callable, optional
            ``augment(X_batch, rng) -> X_batch``: a new, altered copy of each training batch
            (e.g. :func:`cnnstep.app.data.random_shift`), drawn from the fit's seeded generator.

        Returns
        -------
        history : dict of str -> list
            Per epoch: ``loss`` and ``accuracy`` (means over the epoch's batches, weighted by
            batch size), ``val_loss`` and ``val_accuracy`` (empty without validation data),
            ``seconds``.

        Raises
        ------
        TrainingDiverged
            When a batch's loss is NaN or infinite; the message names the epoch and batch.
        """
        func = "Sequential.fit"
        X, y = self._data(X, y, func)
        epochs = args.positive_int(epochs, func, "epochs")
        batch_size = args.positive_int(batch_size, func, "batch_size")
        optimizer = Adam() if optimizer is None else optimizer
        if not callable(getattr(optimizer, "step", None)):
            raise TypeError(
                f"{func}: optimizer must have a step(params_and_grads) method (SGD, Adam), "
                f"got {_checks.show(optimizer)}"
            )
        if not _checks.is_int(seed):
            raise TypeError(f"{func}: seed must be an integer, got {_checks.show(seed)}")
        validation = self._validation(validation_data, func)
        _callback(on_batch_end, func, "on_batch_end")
        _callback(on_epoch_end, func, "on_epoch_end")
        _callback(augment, func, "augment")
        schedule = _schedule(lr_schedule, optimizer, func)
        base_lr = getattr(optimizer, "lr", None)
        try:
            return self._fit(
                X,
                y,
                epochs,
                batch_size,
                optimizer,
                shuffle,
                seed,
                validation,
                on_batch_end,
                on_epoch_end,
                schedule,
                base_lr,
                augment,
            )
        finally:
            if schedule is not None:
                optimizer.lr = base_lr

    def _fit(
        self,
        X,
        y,
        epochs,
        batch_size,
        optimizer,
        shuffle,
        seed,
        validation,
        on_batch_end,
        on_epoch_end,
        schedule,
        base_lr,
        augment,
    ) -> dict:
        rng = np.random.default_rng(int(seed))
        history = {key: [] for key in HISTORY_KEYS}
        m = len(X)
        n_batches = math.ceil(m / batch_size)
        for epoch in range(epochs):
            start = time.perf_counter()
            if schedule is not None:
                optimizer.lr = base_lr * float(schedule(epoch, epochs))
            order = rng.permutation(m) if shuffle else None
            total_loss, correct = 0.0, 0
            for b in range(n_batches):
                rows = slice(b * batch_size, (b + 1) * batch_size)
                index = rows if order is None else order[rows]
                Xb = X[index].astype(self.dtype, copy=False)
                if augment is not None:
                    Xb = self._images(augment(Xb, rng), func="Sequential.fit (augment)").astype(self.dtype, copy=False)
                yb = y[index]
                loss, hits = self._train_step(Xb, yb, optimizer, epoch, epochs, b, n_batches)
                total_loss += loss * len(yb)
                correct += hits
                if on_batch_end is not None:
                    on_batch_end(b, n_batches, loss)
            history["loss"].append(total_loss / m)
            history["accuracy"].append(correct / m)
            if validation is not None:
                scores = self.evaluate(*validation)
                history["val_loss"].append(scores["loss"])
                history["val_accuracy"].append(scores["accuracy"])
            history["seconds"].append(time.perf_counter() - start)
            if on_epoch_end is not None:
                on_epoch_end(epoch, {key: values[-1] for key, values in history.items() if values})
        self.history = history
        return history

    def _validation(self, validation_data, func: str):
        if validation_data is None:
            return None
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError(
                f"{func}: validation_data must be a pair (X_val, y_val), got {_checks.show(validation_data)}"
            )
        return self._data(*validation_data, func, names=("validation_data[0]", "validation_data[1]"))

    def _train_step(self, Xb, yb, optimizer, epoch, epochs, b, n_batches):
        """One forward, backward and update; returns the batch's loss and correct count."""
        logits = self.forward(Xb, training=True)
        loss, dlogits = softmax_cross_entropy(logits, yb)
        if not math.isfinite(loss):
            raise self._diverged(loss, Xb, optimizer, epoch, epochs, b, n_batches)
        self.backward(dlogits, input_gradient=False)
        optimizer.step(self.params_and_grads())
        return loss, int(np.count_nonzero(logits.argmax(axis=1) == yb))

    @staticmethod
    def _diverged(loss, Xb, optimizer, epoch, epochs, b, n_batches) -> TrainingDiverged:
        where = f"epoch {epoch + 1}/{epochs}, batch {b + 1}/{n_batches}"
        if not np.isfinite(Xb).all():
            hint = "the batch's images hold NaN or inf values: clean the data"
        else:
            lr = getattr(optimizer, "lr", None)
            now = f" (now {lr:g})" if isinstance(lr, float) else ""
            hint = (
                f"lower the learning rate{now}, e.g. by a factor of 10, and train a fresh model; "
                f"these weights are no longer usable"
            )
        return TrainingDiverged(f"Sequential.fit: the training loss became {loss} in {where}: {hint}", epoch + 1, b + 1)

    # ----------------------------------------------------------------------- inference

    def predict_proba(self, X, batch_size=256) -> np.ndarray:
        """Class probabilities ``(m, k)`` (softmax of the logits), in the model's dtype."""
        func = "Sequential.predict_proba"
        X = self._images(X, func)
        batch_size = args.positive_int(batch_size, func, "batch_size")
        out = np.empty((len(X), self.n_classes), dtype=self.dtype)
        for start in range(0, len(X), batch_size):
            rows = slice(start, start + batch_size)
            out[rows] = softmax(self.forward(X[rows], training=False))
        return out

    def predict(self, X, batch_size=256) -> np.ndarray:
        """The most probable class index of each image, shape (m,); names: ``classes[i]``."""
        return self.predict_proba(X, batch_size=batch_size).argmax(axis=1)

    def evaluate(self, X, y, batch_size=256) -> dict:
        """Mean softmax cross-entropy and accuracy on ``(X, y)``: ``{"loss": ..., "accuracy": ...}``."""
        func = "Sequential.evaluate"
        X, y = self._data(X, y, func)
        batch_size = args.positive_int(batch_size, func, "batch_size")
        total, correct = 0.0, 0
        for start in range(0, len(X), batch_size):
            rows = slice(start, start + batch_size)
            logits = self.forward(X[rows], training=False)
            total += cross_entropy_sum(logits, y[rows])
            correct += int(np.count_nonzero(logits.argmax(axis=1) == y[rows]))
        return {"loss": total / len(X), "accuracy": correct / len(X)}

    # ----------------------------------------------------------------------- files

    def save(self, path) -> str:
        """Write the model to one ``.npz`` file at ``path`` (exactly; no suffix is added).

        The file holds every parameter array (``param.<layer index>.<name>``) and, under
        ``architecture``, the JSON of :meth:`config` as a NumPy unicode array, so
        ``np.load(path, allow_pickle=False)`` reads it. The file is written whole or not at
        all (through a temporary file in the same folder). Returns the path.
        """
        from cnnstep.nn import io

        return io.save_model(self, path)
