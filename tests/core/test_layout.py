"""The house rules of the layout: the core loads NumPy only, and no module grows past a screenful of screens."""

import subprocess
import sys
from pathlib import Path

import cnnstep
import cnnstep.nn

SRC = Path(cnnstep.__file__).resolve().parent
HEAVY = ("cnnstep.app", "matplotlib", "PIL", "h5py", "tqdm", "sklearn", "torch", "onnx", "onnxruntime", "scipy")


def test_the_core_imports_numpy_and_nothing_heavier():
    code = (
        "import sys, cnnstep, cnnstep.nn, cnnstep.reference, cnnstep.gradcheck\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m.startswith('cnnstep.app')]\n"
        "print(','.join(sorted(heavy)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_load_model_is_at_the_top_level_too():
    assert cnnstep.load_model is cnnstep.nn.load_model
    assert "load_model" in cnnstep.__all__


def test_no_module_is_over_about_500_lines():
    sizes = {str(p.relative_to(SRC)): len(p.read_text(encoding="utf-8").splitlines()) for p in SRC.rglob("*.py")}
    assert sizes, SRC
    assert {name: n for name, n in sizes.items() if n > 550} == {}
