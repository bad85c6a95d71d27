"""Training runs, and what the command line does with a trained model.

:class:`Trainer` is ``cnnstep train`` as a Python object: it loads the data, splits it,
builds a model, trains it with Adam while printing one line per epoch, and writes the
run's folder::

    model.npz      the trained model (cnnstep.nn.load_model reads it)
    metrics.json   final accuracies, per-epoch history, data and model summaries, settings
    curves.png     loss and accuracy per epoch, train and test
    confusion.png  the confusion matrix on the test set

The model and metrics.json are rewritten at the end of every epoch, so a run stopped by
Ctrl-C (KeyboardInterrupt) or by a diverging loss keeps the last completed epoch.

:func:`evaluate` and :func:`predict_files` are ``cnnstep evaluate`` and ``cnnstep predict``;
:func:`check_layers` checks every layer's backward against finite differences, as
:func:`cnnstep.gradcheck.check_blocks` does for the blocks.

Example
-------
>>> from cnnstep.app.train import Trainer
>>> metrics = Trainer(data="digits", epochs=3, out="digits-run").run()   # doctest: +SKIP
>>> metrics["test_accuracy"]                                             # doctest: +SKIP
0.96...
"""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from cnnstep._kernels import checks as _checks

__all__ = ["DEFAULTS", "FILES", "Trainer", "train", "evaluate", "predict_files", "check_layers", "is_image_folder"]

# Every default of a training run, in one place (the command line's defaults too).
DEFAULTS = {
    "data": "digits",
    "model": "default",
    "image_size": None,  # None: native size for digits and .h5 files, FOLDER_IMAGE_SIZE for image folders
    "folder_image_size": 64,
    "epochs": 30,
    "batch_size": 32,
    "lr": 2e-3,
    "schedule": "cosine",  # the learning rate decays along half a cosine over the run
    "augment": "shift",  # each training batch moved by up to a tenth of the image size
    "seed": 0,
    "test_fraction": 0.2,
    "out": "cnnstep-run",
}

SCHEDULES = {"cosine": "cosine", "constant": None}  # --schedule -> Sequential.fit's lr_schedule
AUGMENTATIONS = ("shift", "none")
INSTALL = 'pip install "cnnstep[app]"'
FILES = {"model": "model.npz", "metrics": "metrics.json", "curves": "curves.png", "confusion": "confusion.png"}


def _augmentation(name: str, shape):
    """Sequential.fit's augment for ``--augment``: random shifts of up to a tenth of the image.

    A tenth, rounded down: small images (under 10 pixels a side, such as the 8x8 digits)
    are not shifted at all -- one pixel would already move them too far.
    """
    max_shift = int(0.1 * min(shape[1], shape[2]))
    if name == "none" or max_shift == 0:
        return None
    from cnnstep.app.data import random_shift

    return lambda X, rng: random_shift(X, max_shift, rng)


# --------------------------------------------------------------------------- argument checks


_positive_int = _checks.positive_int


def _positive_float(value, func: str, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{func}: {name} must be a positive number, got {_checks.show(value)}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{func}: {name} must be a positive, finite number, got {value!r}")
    return float(value)


_fraction = _checks.fraction
_seed = _checks.seed


def _path(value, func: str, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)) or (isinstance(value, str) and not value):
        raise TypeError(f"{func}: {name} must be a path (str or pathlib.Path), got {_checks.show(value)}")
    return Path(value)


def _architecture(name, func: str) -> str:
    from cnnstep.nn import ARCHITECTURES

    if not isinstance(name, str) or name not in ARCHITECTURES:
        raise ValueError(f"{func}: model must be one of {sorted(ARCHITECTURES)}, got {_checks.show(name)}")
    return name


# --------------------------------------------------------------------------- data


def is_image_folder(data) -> bool:
    """Whether ``data`` (a ``--data`` value) names a folder of class subfolders.

    True for a folder that holds no ``train_<name>.h5`` file with its ``test_<name>.h5``
    sibling -- the folders :func:`cnnstep.app.data.load` reads as image folders.
    """
    if isinstance(data, str) and data == "digits":
        return False
    if not isinstance(data, (str, os.PathLike)):
        return False
    path = Path(data)
    if not path.is_dir():
        return False
    for entry in path.iterdir():
        if entry.name.startswith("train_") and entry.name.endswith(".h5") and entry.is_file():
            if (path / ("test_" + entry.name[len("train_") :])).is_file():
                return False
    return True


def _load_split(data, image_size: int | None, test_fraction: float, seed: int):
    """The train and test sets of ``data``, and a sentence on where the test set came from."""
    from cnnstep.app import data as _data

    whole, test = _data.load(data, image_size=image_size)
    if test is not None:
        return whole, test, "the source's own test set"
    train, test = _data.train_test_split(whole, test_fraction=test_fraction, seed=seed)
    return train, test, f"stratified split, test_fraction {test_fraction:g}, seed {seed}"


def _shape_text(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


# --------------------------------------------------------------------------- files


def _jsonable(value):
    """Floats that JSON can hold (NaN and inf become None), NumPy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _write_json(path: Path, payload: dict) -> None:
    """Write ``payload`` as JSON at ``path``, whole or not at all."""
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as file:
            json.dump(_jsonable(payload), file, indent=2, allow_nan=False)
            file.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


# --------------------------------------------------------------------------- progress


class _Progress:
    """A tqdm bar over each epoch's batches, shown only when stderr is a terminal."""

    def __init__(self, enabled: bool | None, epochs: int, n_batches: int):
        self.enabled = sys.stderr.isatty() if enabled is None else bool(enabled)
        self.epochs = epochs
        self.n_batches = n_batches
        self.bar = None

    def start(self, epoch: int) -> None:
        """Open the bar of ``epoch`` (counted from 1)."""
        self.close()
        if self.enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=self.n_batches,
                desc=f"epoch {epoch}/{self.epochs}",
                unit="batch",
                leave=False,
                file=sys.stderr,
                dynamic_ncols=True,
            )

    def batch_end(self, b: int, n_batches: int, loss: float) -> None:
        if self.bar is None:
            return
        self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        self.bar.update(1)
        if b + 1 == n_batches:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# --------------------------------------------------------------------------- a training run


class Trainer:
    """One training run: data, model, Adam, and the run's folder.

    Parameters
    ----------
    data : str or pathlib.Path
        What :func:`cnnstep.app.data.load` reads: ``"digits"``, an image folder (one subfolder
        per class) or the course's .h5 pair.
    model : {"default", "application"}
        The architecture (:func:`cnnstep.nn.build`).
    image_size : int or None
        Image folders: the side every image is resized to; None uses
        ``DEFAULTS["folder_image_size"]`` (64). Digits and .h5 files keep their native
        size, and an image_size for them is an error.
    epochs, batch_size : int
    lr : float
        Adam's learning rate.
    seed : int
        Seeds the split, the initial weights and the batch order.
    test_fraction : float
        The share of each class held out for testing, when the data has no test set of
        its own (digits, image folders).
    out : str or pathlib.Path
        The run's folder, created when missing; the files of an earlier run there
        (:data:`FILES`) are replaced.
    log : callable
        Receives each line of the run's account (data, model, one line per epoch).
    progress : bool or None
        A progress bar over each epoch's batches on stderr; None: when stderr is a terminal.

    Attributes
    ----------
    out : pathlib.Path
    epochs_completed : int
        Epochs finished so far; their model and metrics are in ``out``.
    metrics : dict or None
        What metrics.json holds now.
    model : cnnstep.nn.Sequential or None
        The model, once built.
    """

    def __init__(
        self,
        data=DEFAULTS["data"],
        model=DEFAULTS["model"],
        image_size=DEFAULTS["image_size"],
        epochs=DEFAULTS["epochs"],
        batch_size=DEFAULTS["batch_size"],
        lr=DEFAULTS["lr"],
        schedule=DEFAULTS["schedule"],
        augment=DEFAULTS["augment"],
        seed=DEFAULTS["seed"],
        test_fraction=DEFAULTS["test_fraction"],
        out=DEFAULTS["out"],
        log: Callable = print,
        progress: bool | None = None,
    ):
        func = "Trainer"
        if not (isinstance(data, (str, os.PathLike)) and str(data)):
            raise TypeError(f"{func}: data must be 'digits' or a path, got {_checks.show(data)}")
        self.data = data
        self.model_name = _architecture(model, func)
        self.image_size = None if image_size is None else _positive_int(image_size, func, "image_size")
        self.epochs = _positive_int(epochs, func, "epochs")
        self.batch_size = _positive_int(batch_size, func, "batch_size")
        self.lr = _positive_float(lr, func, "lr")
        if not isinstance(schedule, str) or schedule not in SCHEDULES:
            raise ValueError(f"{func}: schedule must be one of {list(SCHEDULES)}, got {_checks.show(schedule)}")
        self.schedule = schedule
        if not isinstance(augment, str) or augment not in AUGMENTATIONS:
            raise ValueError(f"{func}: augment must be one of {list(AUGMENTATIONS)}, got {_checks.show(augment)}")
        self.augment = augment
        self.seed = _seed(seed, func)
        self.test_fraction = _fraction(test_fraction, func, "test_fraction")
        self.out = _path(out, func, "out")
        if not callable(log):
            raise TypeError(f"{func}: log must be callable (e.g. print), got {_checks.show(log)}")
        self.log = log
        self.progress = progress
        self.epochs_completed = 0
        self.metrics: dict | None = None
        self.model = None
        self.history: dict = {}
        self._data_summary: dict = {}
        self._started = 0.0

    # ----------------------------------------------------------------------- settings

    def settings(self) -> dict:
        """The run's settings, as metrics.json records them under ``args``."""
        return {
            "data": os.fspath(self.data),
            "model": self.model_name,
            "image_size": self.image_size,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "schedule": self.schedule,
            "augment": self.augment,
            "seed": self.seed,
            "test_fraction": self.test_fraction,
            "out": os.fspath(self.out),
        }

    def _effective_image_size(self) -> int | None:
        if self.image_size is None and is_image_folder(self.data):
            return DEFAULTS["folder_image_size"]
        return self.image_size

    # ----------------------------------------------------------------------- the run

    def run(self) -> dict:
        """Load, build, train, write the run's folder; return the final metrics.

        Raises
        ------
        cnnstep.nn.TrainingDiverged
            The loss became NaN or infinite; metrics.json (status "diverged") and the model
            of the last completed epoch are written first.
        KeyboardInterrupt
            Passed on after metrics.json is marked "interrupted"; the model and metrics of
            the last completed epoch stay in ``out``.
        """
        from cnnstep.nn import Adam, TrainingDiverged, build

        image_size = self._effective_image_size()
        train, test, split = _load_split(self.data, image_size, self.test_fraction, self.seed)
        self._data_summary = self._summarise_data(train, test, split, image_size)
        self.model = build(
            self.model_name, train.X.shape[1:], len(train.classes), seed=self.seed, classes=train.classes
        )
        self._prepare_out()
        self.log(self._data_line())
        self.log(self.model.summary())

        progress = _Progress(self.progress, self.epochs, math.ceil(len(train) / self.batch_size))
        self.history = {}
        self._started = time.perf_counter()
        try:
            progress.start(1)
            self.model.fit(
                train.X,
                train.y,
                epochs=self.epochs,
                batch_size=self.batch_size,
                optimizer=Adam(lr=self.lr),
                seed=self.seed,
                validation_data=(test.X, test.y),
                lr_schedule=SCHEDULES[self.schedule],
                augment=_augmentation(self.augment, train.X.shape),
                on_batch_end=progress.batch_end,
                on_epoch_end=lambda epoch, logs: self._epoch_end(epoch, logs, progress),
            )
        except TrainingDiverged as exc:
            progress.close()
            self._stop("diverged", {"epoch": exc.epoch, "batch": exc.batch, "reason": str(exc)})
            raise
        except KeyboardInterrupt:
            progress.close()
            self._stop("interrupted", {"epoch": self.epochs_completed + 1})
            raise
        seconds = time.perf_counter() - self._started
        return self._finish(train, test, seconds)

    def _summarise_data(self, train, test, split: str, image_size) -> dict:
        return {
            "source": os.fspath(self.data),
            "examples": len(train) + len(test),
            "image_shape": [int(d) for d in train.X.shape[1:]],
            "image_size": image_size,
            "classes": list(train.classes),
            "train_examples": len(train),
            "test_examples": len(test),
            "test_set": split,
        }

    def _data_line(self) -> str:
        d = self._data_summary
        return (
            f"data {d['source']}: {d['examples']} examples of {_shape_text(d['image_shape'])}, "
            f"{len(d['classes'])} classes; train {d['train_examples']}, test {d['test_examples']} "
            f"({d['test_set']})"
        )

    def _prepare_out(self) -> None:
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"Trainer: out {str(self.out)!r} is a file; expected a folder for the run's files")
        self.out.mkdir(parents=True, exist_ok=True)
        for name in FILES.values():
            stale = self.out / name
            if stale.is_file():
                stale.unlink()

    def _epoch_end(self, epoch: int, logs: dict, progress: _Progress) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self.model.save(self.out / FILES["model"])
        self.epochs_completed = epoch + 1
        self._write_metrics("running")
        self.log(
            f"epoch {epoch + 1}/{self.epochs}  loss {logs['loss']:.4f}  train acc {logs['accuracy']:.4f}  "
            f"test acc {logs['val_accuracy']:.4f}  {logs['seconds']:.1f} s"
        )
        if epoch + 1 < self.epochs:
            progress.start(epoch + 2)

    def _history(self) -> dict:
        names = {
            "loss": "train_loss",
            "accuracy": "train_accuracy",
            "val_loss": "test_loss",
            "val_accuracy": "test_accuracy",
            "seconds": "seconds",
        }
        return {new: list(self.history.get(old, [])) for old, new in names.items()}

    def _write_metrics(self, status: str, final: dict | None = None, stopped: dict | None = None) -> dict:
        history = self._history()
        last_test = history["test_accuracy"][-1] if history["test_accuracy"] else None
        last_loss = history["test_loss"][-1] if history["test_loss"] else None
        metrics = {
            "status": status,
            "epochs_completed": self.epochs_completed,
            "train_accuracy": None,
            "train_loss": None,
            "test_accuracy": last_test,
            "test_loss": last_loss,
            "seconds": time.perf_counter() - self._started,
            "history": history,
            "data": self._data_summary,
            "model": {
                "name": self.model_name,
                "params": self.model.count_params(),
                "input_shape": list(self.model.input_shape),
                "classes": list(self.model.classes),
            },
            "args": self.settings(),
        }
        metrics.update(final or {})
        if stopped is not None:
            metrics["stopped"] = stopped
        _write_json(self.out / FILES["metrics"], metrics)
        self.metrics = _jsonable(metrics)
        return self.metrics

    def _stop(self, status: str, stopped: dict) -> None:
        """Mark metrics.json; draw the curves of the completed epochs."""
        self._write_metrics(status, stopped=stopped)
        if self.epochs_completed:
            from cnnstep.app import plots

            plots.learning_curves(self.history, self.out / FILES["curves"])

    def _finish(self, train, test, seconds: float) -> dict:
        from cnnstep.app import plots

        scores = self.model.evaluate(train.X, train.y)
        predicted = self.model.predict(test.X)
        matrix = plots.confusion_matrix(test.y, predicted, self.model.classes, self.out / FILES["confusion"])
        plots.learning_curves(self.history, self.out / FILES["curves"])
        final = {
            "train_accuracy": scores["accuracy"],
            "train_loss": scores["loss"],
            "seconds": seconds,
            "test_confusion": matrix.tolist(),
            "files": dict(FILES),
        }
        return self._write_metrics("completed", final)


def train(**settings) -> dict:
    """``Trainer(**settings).run()``: train, write the run's folder, return the metrics."""
    return Trainer(**settings).run()


# --------------------------------------------------------------------------- a trained model's data


def _resize(X: np.ndarray, n_H: int, n_W: int) -> np.ndarray:
    """Images in [0, 1] (m, h, w, n_C) resized to (m, n_H, n_W, n_C) with Pillow's Lanczos filter.

    The images come from 8-bit files, so ``round(X * 255)`` recovers their pixels exactly.
    """
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(
            f"resizing images needs Pillow, which is not installed ({exc}); "
            f"install the training tool's extras with: {INSTALL}"
        ) from exc
    out = np.empty((X.shape[0], n_H, n_W, X.shape[3]), dtype=np.float32)
    for i, image in enumerate(X):
        pixels = np.rint(image * 255).astype(np.uint8)
        pil = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
        resized = np.asarray(pil.resize((n_W, n_H), Image.Resampling.LANCZOS, reducing_gap=3.0))
        out[i] = resized.reshape(n_H, n_W, X.shape[3]).astype(np.float32) / np.float32(255)
    return out


def _model_data(data, model, func: str):
    """The data ``data`` names, as the model takes it; the split evaluated ("test" or "all")."""
    from cnnstep.app import data as _data

    n_H, n_W, n_C = model.input_shape
    if is_image_folder(data):
        dataset = _data.load_image_folder(data, image_size=n_H if n_H == n_W else None, channels=n_C)
        if dataset.X.shape[1:3] != (n_H, n_W):
            dataset = _data.Dataset(_resize(dataset.X, n_H, n_W), dataset.y, dataset.classes, dataset.source)
        return dataset, "all"
    whole, test = _data.load(data)
    dataset, split = (whole, "all") if test is None else (test, "test")
    if dataset.X.shape[1:] != model.input_shape:
        raise ValueError(
            f"{func}: the model takes images of shape {model.input_shape} (n_H, n_W, n_C) but "
            f"{dataset.source!r} holds images of shape {tuple(dataset.X.shape[1:])}"
        )
    return dataset, split


def _model_labels(dataset, model, func: str) -> np.ndarray:
    """The data's labels as indices into the model's classes, matched by class name."""
    unknown = [name for name in dataset.classes if name not in model.classes]
    if unknown:
        raise ValueError(
            f"{func}: the data's classes {unknown} are not among the model's classes "
            f"{model.classes}; evaluate on data of the classes the model was trained on"
        )
    index = np.array([model.classes.index(name) for name in dataset.classes], dtype=np.int64)
    return index[dataset.y]


def evaluate(model, data) -> dict:
    """Accuracy of a trained model on the data ``data`` names, overall and per class.

    Parameters
    ----------
    model : cnnstep.nn.Sequential
    data : str or pathlib.Path
        As ``--data`` takes it. Image folders are read at the model's input size and
        channels; their class names must be among the model's (labels are matched by
        name). A source with a test set of its own (the .h5 pair) is evaluated on that
        test set; other sources (digits, image folders) on every example they hold.

    Returns
    -------
    dict
        ``data`` (source), ``split`` ("test" or "all"), ``examples``, ``accuracy``,
        ``per_class`` (one dict per model class: ``class``, ``examples``, ``correct``,
        ``accuracy`` -- None for a class without examples) and ``confusion`` (rows: true
        class, columns: predicted, in the model's class order).
    """
    from cnnstep.app import plots

    func = "evaluate"
    dataset, split = _model_data(data, model, func)
    y = _model_labels(dataset, model, func)
    predicted = model.predict(dataset.X)
    matrix = plots.confusion_counts(y, predicted, model.n_classes)
    per_class = []
    for k, name in enumerate(model.classes):
        examples, correct = int(matrix[k].sum()), int(matrix[k, k])
        per_class.append(
            {
                "class": name,
                "examples": examples,
                "correct": correct,
                "accuracy": correct / examples if examples else None,
            }
        )
    return {
        "data": dataset.source,
        "split": split,
        "examples": len(y),
        "accuracy": float(np.trace(matrix)) / len(y),
        "per_class": per_class,
        "confusion": matrix.tolist(),
    }


def predict_files(model, paths: Sequence) -> list[dict]:
    """The class of each image file, by a trained model.

    Parameters
    ----------
    model : cnnstep.nn.Sequential
    paths : list of str or pathlib.Path
        Image files; each is read with :func:`cnnstep.app.data.load_image` at the model's
        channels and resized to its input size (Lanczos).

    Returns
    -------
    list of dict
        One per path, in order: ``path``, ``class`` (the most probable class's name),
        ``probability`` (its probability) and ``probabilities`` (class name -> probability).
    """
    from cnnstep.app.data import load_image

    func = "predict_files"
    if isinstance(paths, (str, os.PathLike)) or not isinstance(paths, Sequence) or not paths:
        raise TypeError(f"{func}: paths must be a non-empty list of image paths, got {_checks.show(paths)}")
    n_H, n_W, n_C = model.input_shape
    images = []
    for path in paths:
        image = load_image(path, image_size=n_H if n_H == n_W else None, channels=n_C)
        if image.shape[:2] != (n_H, n_W):
            image = _resize(image[np.newaxis], n_H, n_W)[0]
        images.append(image)
    probabilities = model.predict_proba(np.stack(images))
    results = []
    for path, row in zip(paths, probabilities, strict=False):
        best = int(row.argmax())
        results.append(
            {
                "path": os.fspath(path),
                "class": model.classes[best],
                "probability": float(row[best]),
                "probabilities": {name: float(p) for name, p in zip(model.classes, row, strict=False)},
            }
        )
    return results


# --------------------------------------------------------------------------- gradient checks of the layers


def _away_from_zero(rng: np.random.Generator, shape: tuple, margin: float = 0.1) -> np.ndarray:
    """Normal values with no entry within ``margin`` of 0 (no ReLU kink under a finite difference)."""
    x = rng.normal(size=shape)
    return np.where(x >= 0, x + margin, x - margin)


def _distinct(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Values 0.0, 0.1, 0.2, ... in random order: no ties for max-pooling."""
    return rng.permutation(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape) / 10.0


def _check_layer(layer, x: np.ndarray, rng: np.random.Generator, tol: float):
    """Build ``layer`` in float64 for ``x``; check dx and every parameter's gradient."""
    from cnnstep.gradcheck import check_gradients

    layer.build(x.shape[1:], rng, np.float64)
    if "b" in layer.params:  # non-zero biases, as after some training
        layer.params["b"] = layer.params["b"] + rng.normal(scale=0.1, size=layer.params["b"].shape)
    out = layer.forward(x, training=True)
    dout = rng.normal(size=out.shape)
    analytic = {"x": layer.backward(dout), **{name: layer.grads[name] for name in layer.params}}
    inputs = {"x": x, **{name: param.copy() for name, param in layer.params.items()}}

    def forward(x, **params):
        layer.params.update(params)
        return layer.forward(x, training=False)

    return check_gradients(forward, inputs, analytic, dout, tol=tol)


def _check_loss(rng: np.random.Generator, tol: float):
    from cnnstep.gradcheck import check_gradients
    from cnnstep.nn import softmax_cross_entropy

    logits, y = rng.normal(size=(4, 5)), rng.integers(0, 5, size=4)
    _, dlogits = softmax_cross_entropy(logits, y)
    return check_gradients(
        lambda logits: np.array(softmax_cross_entropy(logits, y)[0]),
        {"logits": logits},
        {"logits": dlogits},
        np.array(1.0),
        tol=tol,
    )


def _check_model(rng: np.random.Generator, tol: float):
    """The loss of a small Sequential against its input and every parameter."""
    from cnnstep.gradcheck import check_gradients
    from cnnstep.nn import (
        Conv2D,
        Dense,
        Flatten,
        MaxPool2D,
        ReLU,
        Sequential,
        softmax_cross_entropy,
    )

    model = Sequential(
        [Conv2D(3, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(3)],
        (4, 4, 2),
        seed=int(rng.integers(2**31)),
        dtype=np.float64,
    )
    for layer in model.layers:
        if "b" in layer.params:
            layer.params["b"] = layer.params["b"] + rng.normal(scale=0.1, size=layer.params["b"].shape)
    x, y = rng.normal(size=(3, 4, 4, 2)), rng.integers(0, 3, size=3)
    _, dlogits = softmax_cross_entropy(model.forward(x, training=True), y)
    analytic = {"x": model.backward(dlogits)}
    inputs = {"x": x}
    for i, layer in enumerate(model.layers):
        for name, param in layer.params.items():
            analytic[f"{i}_{name}"] = layer.grads[name]
            inputs[f"{i}_{name}"] = param.copy()

    def loss(x, **params):
        for key, value in params.items():
            i, name = key.split("_", 1)
            model.layers[int(i)].params[name] = value
        return np.array(softmax_cross_entropy(model.forward(x, training=False), y)[0])

    return check_gradients(loss, inputs, analytic, np.array(1.0), tol=tol)


def check_layers(seed: int = 0, tol: float = 1e-7) -> list:
    """Check every layer's backward, the loss and a whole model against finite differences.

    Conv2D (stride 1 'same'; 4x4, stride 2, pad 1), MaxPool2D and AvgPool2D (tiling and
    'same'), ReLU, Flatten, Dense, the softmax cross-entropy, and a small Sequential
    (conv, ReLU, max-pool, flatten, dense, loss), all in float64. Each layer is checked
    with respect to its input ``x`` and each parameter.

    Returns
    -------
    list of (str, cnnstep.gradcheck.GradcheckResult)
        One per case, as :func:`cnnstep.gradcheck.check_blocks` returns them.
    """
    from cnnstep.nn import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU

    rng = np.random.default_rng(seed)
    cases = [
        ("Conv2D 3x3, stride 1, 'same'", Conv2D(3, 3), rng.normal(size=(2, 5, 5, 2))),
        ("Conv2D 4x4, stride 2, pad 1", Conv2D(2, 4, stride=2, pad=1), rng.normal(size=(2, 7, 6, 2))),
        ("MaxPool2D 2x2/2", MaxPool2D(2), _distinct(rng, (2, 4, 4, 2))),
        ("MaxPool2D 3x3/2 'same'", MaxPool2D(3, stride=2, pad="same"), _distinct(rng, (2, 5, 6, 2))),
        ("AvgPool2D 2x2/2", AvgPool2D(2), rng.normal(size=(2, 4, 4, 2))),
        ("AvgPool2D 3x3/2 'same'", AvgPool2D(3, stride=2, pad="same"), rng.normal(size=(2, 5, 6, 2))),
        ("ReLU", ReLU(), _away_from_zero(rng, (2, 3, 4, 2))),
        ("Flatten", Flatten(), rng.normal(size=(2, 3, 3, 2))),
        ("Dense", Dense(4, init="he"), rng.normal(size=(3, 6))),
    ]
    results = [(name, _check_layer(layer, x, rng, tol)) for name, layer, x in cases]
    results.append(("softmax cross-entropy", _check_loss(rng, tol)))
    results.append(("Sequential + loss", _check_model(rng, tol)))
    return results
