"""The ``cnnstep`` command line: argparse subcommands, thin over the library.

Each subcommand parses its arguments, calls the library, formats the result and returns
an exit code. A user mistake (a bad path, a bad value) is one clear line on stderr and
exit code 2, never a traceback; Ctrl-C is exit code 130.

    cnnstep train      train a model on digits, an image folder or the course's .h5 files
    cnnstep evaluate   accuracy of a saved model, overall and per class
    cnnstep predict    the class of image files
    cnnstep export     a saved model as an ONNX file
    cnnstep demo       the exercise's eight blocks walked through, with figures
    cnnstep explain    a page that shows a model reading one image, layer by layer
    cnnstep gradcheck  every backward (blocks and layers) against finite differences
    cnnstep bench      from a clone: benchmarks/bench_kernels.py with the options given
    cnnstep check      a learner's own eight functions (a .py, an .ipynb or a folder), diagnosed
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from cnnstep._kernels.checks import positive_number
from cnnstep.app.settings import FOLDER_IMAGE_SIZE, TrainingSettings

EXIT_USER_ERROR = 2
MODEL_OR_ONNX = "a model.npz written by cnnstep train, or an .onnx written by cnnstep export (run by onnxruntime)"
EXIT_INTERRUPTED = 130


def _print_json(payload) -> None:
    print(json.dumps(payload, indent=2, allow_nan=False))


# --------------------------------------------------------------------------- train


def _cmd_train(args) -> int:
    from cnnstep.app.data import is_image_folder
    from cnnstep.app.train import Trainer
    from cnnstep.nn import TrainingDiverged

    settings = TrainingSettings(**{name: getattr(args, name) for name in TrainingSettings.names()}, where="--")
    exists = args.data == "digits" or os.path.exists(args.data)
    if args.image_size is not None and exists and not is_image_folder(args.data):
        raise ValueError(
            f"--image-size resizes image folders only; {args.data!r} keeps its native size (drop --image-size)"
        )
    trainer = Trainer(settings, log=print)
    try:
        metrics = trainer.run()
    except TrainingDiverged as exc:
        print(
            f"cnnstep train: error: the training loss became NaN or infinite in epoch {exc.epoch} "
            f"(batch {exc.batch}): lower --lr (now {args.lr:g}), e.g. to {args.lr / 10:g}; "
            f"{_kept(trainer)}",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        if trainer.metrics is None:
            print("cnnstep train: interrupted before training began; nothing written", file=sys.stderr)
        else:
            print(
                f"cnnstep train: interrupted in epoch {trainer.epochs_completed + 1}; {_kept(trainer)}", file=sys.stderr
            )
        return EXIT_INTERRUPTED
    print(
        f"test accuracy {metrics['test_accuracy']:.4f} (train {metrics['train_accuracy']:.4f}) "
        f"in {metrics['seconds']:.1f} s -> {_folder(trainer.out)}"
    )
    return 0


def _folder(path) -> str:
    return os.fspath(path).rstrip("/\\") + "/"


def _kept(trainer) -> str:
    """What a stopped run left in its folder."""
    done = trainer.epochs_completed
    if not done:
        return f"no epoch completed; metrics.json in {_folder(trainer.out)}"
    return f"kept the model and metrics of epoch {done} in {_folder(trainer.out)}"


# --------------------------------------------------------------------------- evaluate and predict


def _cmd_evaluate(args) -> int:
    from cnnstep.app.inference import evaluate
    from cnnstep.nn import load_predictor

    model = load_predictor(args.model)
    result = {"model": args.model, **evaluate(model, args.data)}
    if args.json:
        _print_json(result)
        return 0
    where = (
        "its test set"
        if result["split"] == "test"
        else "all of it (the data has no test split of its own; it may include training examples)"
    )
    print(f"model {args.model}: input {model.input_shape}, {model.n_classes} classes")
    print(f"data {result['data']}: {result['examples']} examples, evaluated on {where}")
    print(_per_class_table(result["per_class"]))
    correct = sum(row["correct"] for row in result["per_class"])
    print(f"accuracy {result['accuracy']:.4f} ({correct}/{result['examples']})")
    return 0


def _per_class_table(rows: list) -> str:
    width = max([len("class")] + [len(row["class"]) for row in rows])
    lines = [f"{'class':<{width}}  {'examples':>8}  {'correct':>7}  {'accuracy':>8}"]
    for row in rows:
        accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.4f}"
        lines.append(f"{row['class']:<{width}}  {row['examples']:>8}  {row['correct']:>7}  {accuracy:>8}")
    return "\n".join(lines)


def _cmd_predict(args) -> int:
    from cnnstep.app.inference import predict_files
    from cnnstep.nn import load_predictor

    model = load_predictor(args.model)
    results = predict_files(model, args.images)
    if args.json:
        _print_json({"model": args.model, "predictions": results})
        return 0
    for row in results:
        print(f"{row['path']}: {row['class']} (probability {row['probability']:.3f})")
    return 0


# --------------------------------------------------------------------------- export


def _cmd_export(args) -> int:
    from cnnstep.nn import load_model, to_onnx

    if not args.out.lower().endswith(".onnx"):
        raise ValueError(
            f"OUT must end in .onnx (evaluate and predict pick the reader by the suffix), got {args.out!r}"
        )
    model = load_model(args.model)
    path = to_onnx(model, args.out)
    n_H, n_W, n_C = model.input_shape
    print(
        f"{path}: ONNX, input images float32 (batch, {n_H}, {n_W}, {n_C}) channels-last, "
        f"output probabilities (batch, {model.n_classes})"
    )
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write a saved model as an ONNX file",
        description="Write a model.npz as an ONNX graph for onnxruntime: input 'images' float32 "
        "(batch, n_H, n_W, n_C) channels-last, output 'probabilities' (batch, n_classes), softmax "
        "included; the class names and input shape in its metadata. Needs onnx "
        '(pip install "cnnstep[export]"). cnnstep evaluate and predict take the .onnx file too.',
    )
    p.add_argument("model", metavar="MODEL", help="a model.npz written by cnnstep train")
    p.add_argument("out", metavar="OUT", help="the .onnx file to write (replaced if it exists)")
    p.set_defaults(run=_cmd_export)


# --------------------------------------------------------------------------- demo and gradcheck


def _cmd_demo(args) -> int:
    from cnnstep.app.demo import run

    if args.exercise:
        from cnnstep.app.exercise import walkthrough

        return 1 if walkthrough(print) else 0
    if not args.out:
        raise ValueError("--out must name a folder, got the empty string")
    run(out=args.out, log=print)
    return 0


def _report_checks(title: str, results: list, tol: float) -> int:
    """Print one line per case and a summary; return the number of failures."""
    print(title)
    width = max(len(name) for name, _ in results)
    failed = 0
    for name, result in results:
        errors = "  ".join(f"{key}={err:.1e}" for key, err in result.errors.items())
        status = "ok" if result.passed else "FAILED"
        failed += not result.passed
        print(f"  {name:<{width}}  {status:<6}  {errors}")
    print(f"{title}: {len(results) - failed}/{len(results)} gradient checks passed (relative error <= {tol:.0e})")
    return failed


def _cmd_gradcheck(args) -> int:
    from cnnstep.app.layer_checks import check_layers
    from cnnstep.gradcheck import check_blocks

    positive_number(args.tol, "", "--tol")  # the seed is check_blocks's to check
    failed = _report_checks("blocks", check_blocks(seed=args.seed, tol=args.tol), args.tol)
    failed += _report_checks("layers", check_layers(seed=args.seed, tol=args.tol), args.tol)
    return 1 if failed else 0


# --------------------------------------------------------------------------- the parser


def _add_train(sub) -> None:
    from cnnstep.nn import ARCHITECTURES

    d = TrainingSettings()  # the defaults, checked like any settings
    p = sub.add_parser(
        "train",
        help="train a model and write its folder",
        description="Train a convolutional network with Adam and write model.npz, metrics.json, "
        "curves.png and confusion.png into --out. The model and metrics are saved "
        "after every epoch: Ctrl-C keeps the last completed epoch.",
    )
    p.add_argument(
        "--data",
        default=d.data,
        help="'digits' (scikit-learn's 8x8 digits), a folder with one subfolder of images per class, "
        "or the course's train_*.h5/test_*.h5 pair (default %(default)s)",
    )
    p.add_argument(
        "--model",
        default=d.model,
        choices=sorted(ARCHITECTURES),
        help="the architecture: 'default' (three conv blocks) or 'application' (the exercise's "
        "model) (default %(default)r)",
    )
    p.add_argument(
        "--image-size",
        type=int,
        default=d.image_size,
        metavar="N",
        help=f"image folders: resize every image to NxN (default {FOLDER_IMAGE_SIZE}); digits "
        f"and .h5 files keep their native size",
    )
    p.add_argument("--epochs", type=int, default=d.epochs, metavar="N", help="default %(default)s")
    p.add_argument("--batch-size", type=int, default=d.batch_size, metavar="N", help="default %(default)s")
    p.add_argument("--lr", type=float, default=d.lr, metavar="X", help="Adam's learning rate (default %(default)g)")
    p.add_argument(
        "--schedule",
        default=d.schedule,
        choices=["cosine", "constant"],
        help="the learning rate over the run: 'cosine' decays it from --lr towards 0 along half a "
        "cosine, 'constant' keeps it (default %(default)r)",
    )
    p.add_argument(
        "--augment",
        default=d.augment,
        choices=["shift", "none"],
        help="'shift' moves each training image by up to a tenth of its size (edge pixels fill "
        "the gap), a new draw every batch; 'none' trains on the images as they are "
        "(default %(default)r)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=d.seed,
        metavar="N",
        help="seeds the split, the initial weights and the batch order (default %(default)s)",
    )
    p.add_argument(
        "--test-fraction",
        type=float,
        default=d.test_fraction,
        metavar="F",
        help="share of each class held out for testing when the data has no test set of its own (default %(default)g)",
    )
    p.add_argument(
        "--out",
        default=os.fspath(d.out),
        metavar="DIR",
        help="the run's folder, created if missing; an earlier run's files there are replaced (default %(default)s)",
    )
    p.set_defaults(run=_cmd_train)


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="accuracy of a saved model, overall and per class",
        description="Evaluate a saved model. Image folders are read at the model's input size and "
        "channels, their labels matched to the model's classes by name. The .h5 pair "
        "is evaluated on its test file; digits and image folders on every example "
        "they hold.",
    )
    p.add_argument("model", metavar="MODEL", help=MODEL_OR_ONNX)
    p.add_argument("--data", required=True, help="'digits', an image folder or the course's .h5 pair")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(run=_cmd_evaluate)


def _add_predict(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="the class of image files",
        description="Classify image files with a saved model; each image is resized to the model's input size.",
    )
    p.add_argument("model", metavar="MODEL", help=MODEL_OR_ONNX)
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files (.jpg, .png, ...)")
    p.add_argument("--json", action="store_true", help="print one JSON object, with every class's probability")
    p.set_defaults(run=_cmd_predict)


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="the exercise's eight blocks walked through, with figures",
        description="Run the eight blocks on small seeded inputs, print what the exercise prints, "
        "and draw zero_pad.png, conv.png and pooling.png and the blocks' animations (GIFs) into --out.",
    )
    from cnnstep.app.demo import DEFAULT_OUT

    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="folder of the figures (default %(default)s)")
    p.add_argument(
        "--exercise",
        action="store_true",
        help="instead: run the exercise's own test cells (np.random.seed(1), both editions) and print each "
        "value beside the published Expected Output",
    )
    p.set_defaults(run=_cmd_demo)


def _add_gradcheck(sub) -> None:
    p = sub.add_parser(
        "gradcheck",
        help="check every backward against finite differences",
        description="Check the blocks' and the layers' backward passes against central "
        "differences; exit code 1 when one fails.",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random test inputs (default 0)")
    p.add_argument("--tol", type=float, default=1e-7, help="largest relative error that passes (default 1e-7)")
    p.set_defaults(run=_cmd_gradcheck)


def _cmd_explain(args) -> int:
    from cnnstep.app.explain import explain

    if not args.out:
        raise ValueError("--out must name a folder, got the empty string")
    path = explain(args.model, args.image, out=args.out, log=print)
    print(f"wrote {path}: open it in a browser (it needs no network)")
    return 0


def _add_explain(sub) -> None:
    p = sub.add_parser(
        "explain",
        help="a page that shows a model reading one image, layer by layer",
        description="Write DIR/index.html: the image as the model sees it, every layer's feature maps, "
        "the first layer's filters, the class probabilities, and a click on any feature-map cell shows "
        "the window it read and the arithmetic of that output; with the blocks' animations. One "
        "self-contained page (no network). Without MODEL, a model is trained on the built-in digits "
        "(a few seconds) and one of its test digits is shown.",
    )
    p.add_argument("model", metavar="MODEL", nargs="?", help="a model.npz written by cnnstep train")
    p.add_argument(
        "image",
        metavar="IMAGE",
        nargs="?",
        help="an image file (resized to the model's input) or a .npy array of its input shape; default: "
        "a test image of the model's own data, when metrics.json beside MODEL names it",
    )
    p.add_argument(
        "--out",
        default="cnnstep-explain",
        metavar="DIR",
        help="the page's folder: new, empty, or an earlier page, which is replaced (default %(default)s)",
    )
    p.set_defaults(run=_cmd_explain)


BENCH_SCRIPT = os.path.join("benchmarks", "bench_kernels.py")


def _cmd_bench(args) -> int:
    """The benchmarks live in the repository, not in the package: run them from a clone."""
    if not os.path.isfile(BENCH_SCRIPT):
        raise ValueError(
            f"the benchmarks are not part of the installed package; from a clone of the repository, "
            f"run `python {BENCH_SCRIPT} --quick` (see benchmarks/README.md)"
        )
    import subprocess

    return subprocess.call([sys.executable, BENCH_SCRIPT, *args.extra])


def _add_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="time the kernels against PyTorch (from a clone: benchmarks/bench_kernels.py)",
        description="Run benchmarks/bench_kernels.py of the current folder (a clone of the "
        "repository) with the options given; see benchmarks/README.md.",
    )
    p.set_defaults(run=_cmd_bench, takes_any_options=True)  # every option goes to the script


# --------------------------------------------------------------------------- check


def _cmd_check(args) -> int:
    from cnnstep.app import checker

    positive_number(args.timeout, "", "--timeout", unit=" of seconds")
    if os.path.isdir(args.path):
        reports, unreadable = checker.check_folder(args.path, timeout=args.timeout, progress=True)
        if args.csv:
            checker.write_csv(reports, args.csv)
        if args.json:
            _print_json(checker.folder_json(reports, unreadable))
        else:
            print(checker.folder_text(reports, unreadable))
        return 0 if not unreadable and all(r.ok for r in reports) else 1
    report = checker.check_path(args.path, timeout=args.timeout)
    if args.csv:
        checker.write_csv([report], args.csv)
    print(report.to_json() if args.json else report)
    return 0 if report.ok else 1


def _add_check(sub) -> None:
    from cnnstep.app.checker import DEFAULT_TIMEOUT

    p = sub.add_parser(
        "check",
        help="check a learner's own eight functions and say what is wrong",
        description="Run the imports and function definitions of a .py file or .ipynb notebook (never "
        "its test cells) in a sandbox, check each of the eight functions on the exercise's cells and "
        "small seeded cases, and diagnose each failure. A folder: every .py/.ipynb in it, one line each. "
        "Exit code 0 when all eight pass, 1 when one does not, 2 when PATH cannot be read.",
    )
    p.add_argument("path", metavar="PATH", help="a learner's .py file, .ipynb notebook, or a folder of them")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--csv", metavar="FILE", help="also write one row per file (passed count, each status)")
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help="seconds each function's checks may take (default %(default)g)",
    )
    p.set_defaults(run=_cmd_check)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnstep", description="Convolutional networks built step by step in NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    commands = (
        _add_train,
        _add_evaluate,
        _add_predict,
        _add_export,
        _add_check,
        _add_explain,
        _add_demo,
        _add_gradcheck,
        _add_bench,
    )
    for add in commands:
        add(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "takes_any_options", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"cnnstep {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"cnnstep {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
