"""Time cnnstep's blocks against PyTorch, the loops and a matmul; see benchmarks/README.md.

    python benchmarks/bench_kernels.py [--quick] [--json PATH] [--cases S1,P1] ...

The same as ``python -m cnnstep.bench``: this script only calls :func:`cnnstep.bench.main`.
"""

import sys

from cnnstep.bench import main

if __name__ == "__main__":
    sys.exit(main(prog="python benchmarks/bench_kernels.py"))
