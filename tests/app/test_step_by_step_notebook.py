"""docs/step_by_step.ipynb runs from top to bottom, and its check finds the broken function."""

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "step_by_step.ipynb"


def test_the_notebook_executes_and_diagnoses_its_broken_function():
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out.output_type == "error"]
    assert sum("image/png" in out.get("data", {}) for out in outputs) >= 3
    html = next(out["data"]["text/html"] for out in outputs if "text/html" in out.get("data", {}))
    assert "pool_forward" in html and "without the example index i" in html
    text = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    assert "Z = -6.99908945068" in text and "0/1 functions pass" in text
