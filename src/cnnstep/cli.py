"""The ``cnnstep`` command line: argparse subcommands, thin over the library.

Each subcommand parses its arguments, calls the library, formats the result and returns
an exit code. A user mistake (a bad path, a bad value) is one clear line on stderr and
exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys


def _cmd_gradcheck(args) -> int:
    from cnnstep.gradcheck import check_blocks

    if not args.tol > 0:
        raise ValueError(f"--tol must be a positive number, got {args.tol}")
    results = check_blocks(seed=args.seed, tol=args.tol)
    width = max(len(name) for name, _ in results)
    failed = 0
    for name, result in results:
        errors = "  ".join(f"{key}={err:.1e}" for key, err in result.errors.items())
        status = "ok" if result.passed else "FAILED"
        failed += not result.passed
        print(f"{name:<{width}}  {status:<6}  {errors}")
    print(f"{len(results) - failed}/{len(results)} gradient checks passed (relative error <= {args.tol:.0e})")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnstep", description="Convolutional networks built step by step in NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("gradcheck", help="check every backward against finite differences")
    p.add_argument("--seed", type=int, default=0, help="seed of the random test inputs (default 0)")
    p.add_argument("--tol", type=float, default=1e-7, help="largest relative error that passes (default 1e-7)")
    p.set_defaults(run=_cmd_gradcheck)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"cnnstep {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
