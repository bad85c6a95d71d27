"""``import cnnstep`` and ``import cnnstep.nn`` load NumPy and nothing else of note."""

import subprocess
import sys

import pytest

FORBIDDEN = (
    "cnnstep.app",
    "matplotlib",
    "PIL",
    "h5py",
    "torch",
    "onnx",
    "onnxruntime",
    "sklearn",
    "scipy",
    "tqdm",
    "multiprocessing",
)


@pytest.mark.parametrize("module", ["cnnstep", "cnnstep.nn", "cnnstep.reference", "cnnstep.gradcheck"])
def test_the_core_imports_numpy_only(module):
    code = f"import sys, {module}\nprint(' '.join(sorted(m for m in {FORBIDDEN!r} if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == []


def test_check_is_imported_on_first_use():
    code = (
        "import sys, cnnstep\n"
        "before = 'cnnstep.app.checker' in sys.modules\n"
        "check = cnnstep.check\n"
        "print(before, 'cnnstep.app.checker' in sys.modules, check.__module__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True", "cnnstep.app.checker"]


def test_an_unknown_attribute_is_still_an_attribute_error():
    import cnnstep

    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        cnnstep.no_such_thing  # noqa: B018
