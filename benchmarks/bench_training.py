"""One training epoch of cnnstep's default model against the same model in PyTorch.

    python benchmarks/bench_training.py [--model application] [--rounds 3]

The code is cnnstep.bench_training; this script only calls it.
"""

import sys

from cnnstep.bench_training import main

if __name__ == "__main__":
    sys.exit(main())
