"""The house rules of the layout (what the core imports: test_imports.py)."""

from pathlib import Path

import cnnstep
import cnnstep.nn

SRC = Path(cnnstep.__file__).resolve().parent
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_load_model_is_at_the_top_level_too():
    assert cnnstep.load_model is cnnstep.nn.load_model
    assert "load_model" in cnnstep.__all__


def test_no_module_is_over_about_500_lines():
    files = [*SRC.rglob("*.py"), *BENCHMARKS.glob("*.py")]
    sizes = {str(p): len(p.read_text(encoding="utf-8").splitlines()) for p in files}
    assert len(sizes) > 40, files
    assert {name: n for name, n in sizes.items() if n > 550} == {}
