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

Its settings are a :class:`~cnnstep.app.settings.TrainingSettings`, checked once.

Example
-------
>>> from cnnstep.app.train import Trainer
>>> metrics = Trainer(data="digits", epochs=3, out="digits-run").run()   # doctest: +SKIP
>>> metrics["test_accuracy"]                                             # doctest: +SKIP
0.96...
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable

from cnnstep._kernels import checks as _checks
from cnnstep.app.common import write_json
from cnnstep.app.settings import SCHEDULES, TrainingSettings
from cnnstep.nn.args import jsonable

__all__ = ["FILES", "Trainer", "train"]

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
    settings : TrainingSettings, optional
        The run's settings (data, model, image_size, epochs, batch_size, lr, schedule,
        augment, seed, test_fraction, out); or give them as keywords instead, checked by
        :class:`~cnnstep.app.settings.TrainingSettings` (defaults: the command line's). The
        files of an earlier run in ``out`` (:data:`FILES`) are replaced.
    log : callable
        Receives each line of the run's account (data, model, one line per epoch).
    progress : bool or None
        A progress bar over each epoch's batches on stderr; None: when stderr is a terminal.

    Attributes
    ----------
    settings : TrainingSettings
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
        settings: TrainingSettings | None = None,
        *,
        log: Callable = print,
        progress: bool | None = None,
        **values,
    ):
        func = "Trainer"
        if settings is None:
            settings = TrainingSettings(**values, where=func)
        elif values or not isinstance(settings, TrainingSettings):
            raise TypeError(
                f"{func}: give either a TrainingSettings or the settings as keywords, "
                f"got {_checks.show(settings)} and {sorted(values)}"
            )
        if not callable(log):
            raise TypeError(f"{func}: log must be callable (e.g. print), got {_checks.show(log)}")
        self.settings = settings
        self.out = settings.out
        self.log = log
        self.progress = progress
        self.epochs_completed = 0
        self.metrics: dict | None = None
        self.model = None
        self.history: dict = {}
        self._data_summary: dict = {}
        self._started = 0.0

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
        from cnnstep.app.data import is_image_folder
        from cnnstep.nn import Adam, TrainingDiverged, build

        s = self.settings
        image_size = s.effective_image_size(is_image_folder(s.data))
        train, test, split = _load_split(s.data, image_size, s.test_fraction, s.seed)
        self._data_summary = self._summarise_data(train, test, split, image_size)
        self.model = build(s.model, train.X.shape[1:], len(train.classes), seed=s.seed, classes=train.classes)
        self._prepare_out()
        self.log(self._data_line())
        self.log(self.model.summary())

        progress = _Progress(self.progress, s.epochs, math.ceil(len(train) / s.batch_size))
        self.history = {}
        self._started = time.perf_counter()
        try:
            progress.start(1)
            self.model.fit(
                train.X,
                train.y,
                epochs=s.epochs,
                batch_size=s.batch_size,
                optimizer=Adam(lr=s.lr),
                seed=s.seed,
                validation_data=(test.X, test.y),
                lr_schedule=SCHEDULES[s.schedule],
                augment=_augmentation(s.augment, train.X.shape),
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
            "source": os.fspath(self.settings.data),
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
            f"epoch {epoch + 1}/{self.settings.epochs}  loss {logs['loss']:.4f}  train acc {logs['accuracy']:.4f}  "
            f"test acc {logs['val_accuracy']:.4f}  {logs['seconds']:.1f} s"
        )
        if epoch + 1 < self.settings.epochs:
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
                "name": self.settings.model,
                "params": self.model.count_params(),
                "input_shape": list(self.model.input_shape),
                "classes": list(self.model.classes),
            },
            "args": self.settings.as_dict(),
        }
        metrics.update(final or {})
        if stopped is not None:
            metrics["stopped"] = stopped
        write_json(self.out / FILES["metrics"], metrics)
        self.metrics = jsonable(metrics)
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


def train(settings: TrainingSettings | None = None, **values) -> dict:
    """``Trainer(settings, **values).run()``: train, write the run's folder, return the metrics."""
    return Trainer(settings, **values).run()
