"""The house rules of the layout (what the core imports: test_imports.py)."""

from pathlib import Path

import cnnstep
import cnnstep.nn

SRC = Path(cnnstep.__file__).resolve().parent


def test_load_model_is_at_the_top_level_too():
    assert cnnstep.load_model is cnnstep.nn.load_model
    assert "load_model" in cnnstep.__all__


def test_no_module_is_over_about_500_lines():
    sizes = {str(p.relative_to(SRC)): len(p.read_text(encoding="utf-8").splitlines()) for p in SRC.rglob("*.py")}
    assert sizes, SRC
    assert {name: n for name, n in sizes.items() if n > 550} == {}
