"""cnnstep.app.checker: a learner's eight functions checked, each mistake named on its own function."""

import importlib.util

import numpy as np
import pytest

from cnnstep.app import checker
from cnnstep.app.checker.source import SourceError, from_text, load
from tests.app.checker_solutions import EIGHT, MUTANTS, SOLUTION, SOLUTION_PATH, mutate, notebook, without

STATUSES = {"pass", "fail", "error", "timeout", "missing"}


def check_text(text, label="learner.py", **options):
    return checker.check_source(from_text(text, label), **options)


def statuses(report):
    return {f.name: f.status for f in report.functions}


def test_a_correct_loop_solution_passes_all_eight():
    report = checker.check_path(SOLUTION_PATH)
    assert statuses(report) == dict.fromkeys(EIGHT, "pass")
    assert report.ok and report.passed == report.total == 8
    assert all(f.diagnosis is None for f in report.functions)
    assert "8/8 functions pass" in str(report)


def test_a_correct_notebook_with_magics_and_plot_cells_passes(tmp_path):
    path = tmp_path / "solution.ipynb"
    path.write_text(notebook(), encoding="utf-8")
    source = load(path)
    assert source.defined == set(EIGHT)
    assert not any("plt" in chunk.text or "%" in chunk.text or "display(" in chunk.text for chunk in source.chunks)
    report = checker.check_path(path)
    assert statuses(report) == dict.fromkeys(EIGHT, "pass")


def test_only_imports_and_definitions_are_kept_with_their_line_numbers():
    text = "import numpy as np\nprint('hi')\n\ndef zero_pad(X, pad):\n    return X\n\nzero_pad(1, 2)\n"
    (chunk,) = from_text(text, "a.py").chunks
    assert chunk.text.split("\n") == ["import numpy as np", "", "", "def zero_pad(X, pad):", "    return X", "", "", ""]


@pytest.mark.parametrize("mutant", list(MUTANTS), ids=list(MUTANTS))
def test_each_classic_mistake_is_named_on_its_own_function(mutant):
    function, edits, words = MUTANTS[mutant]
    report = check_text(mutate(function, *edits))
    expected = dict.fromkeys(EIGHT, "pass")
    assert statuses(report)[function] in ("fail", "error")
    assert {name: s for name, s in statuses(report).items() if name != function} == {
        name: s for name, s in expected.items() if name != function
    }
    diagnosis = report[function].diagnosis
    for word in words:
        assert word in diagnosis, (word, diagnosis)


def test_the_smallest_failing_case_is_shown_as_code_that_reproduces_it():
    report = check_text(mutate("pool_forward", ("A_prev[i, vert_start", "A_prev[vert_start")))
    failing = [c for c in report["pool_forward"].cases if c["status"] != "pass"]
    assert failing and all(c["code"] and c["problem"] for c in failing)
    details = "\n".join(report["pool_forward"].details)
    assert "smallest failing case" in details and "np.random.seed(" in details
    seeded = next(c for c in failing if not c["id"].startswith("cell"))
    namespace = {"np": np}
    from cnnstep import reference

    namespace.update({name: getattr(reference, name) for name in EIGHT})
    exec(seeded["code"], namespace)  # the code runs as shown and gives the expected values
    assert namespace["A"].shape[0] == namespace["A_prev"].shape[0]


def test_a_missing_function_is_missing_and_its_callers_still_pass():
    report = check_text(without("distribute_value"))
    assert report["distribute_value"].status == "missing"
    assert "distribute_value" in report["distribute_value"].diagnosis
    assert report["pool_backward"].status == "pass"  # checked with the reference distribute_value
    assert report.passed == 7


def test_a_broken_helper_does_not_fail_the_functions_that_call_it():
    broken = mutate(
        "zero_pad",
        (
            'X_pad = np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant", constant_values=(0, 0))',
            "X_pad = None",
        ),
    )
    report = check_text(broken)
    assert report["zero_pad"].status == "fail"
    assert "None" in report["zero_pad"].diagnosis
    assert report["conv_forward"].status == report["conv_backward"].status == "pass"


def test_an_infinite_loop_is_a_timeout_and_the_others_are_still_checked():
    looping = mutate("conv_backward", ("    (A_prev, W, b, hparameters) = cache\n", "    while True:\n        pass\n"))
    report = check_text(looping, timeout=3.0)
    assert report["conv_backward"].status == "timeout"
    assert "3 s" in report["conv_backward"].diagnosis
    assert {name: s for name, s in statuses(report).items() if name != "conv_backward"} == {
        name: "pass" for name in EIGHT if name != "conv_backward"
    }


def test_printing_and_raising_is_reported_as_data():
    noisy = mutate(
        "zero_pad",
        ("    X_pad = np.pad", "    print('debug ' * 1000)\n    raise ValueError('my own bug')\n    X_pad = np.pad"),
    )
    noisy = mutate(
        "create_mask_from_window",
        ("    mask = x == np.max(x)\n", "    print(x)\n    mask = x == np.max(x)\n"),
        source=noisy,
    )
    report = check_text(noisy)
    assert report["zero_pad"].status == "error"
    assert "ValueError: my own bug" in report["zero_pad"].diagnosis
    assert (
        "learner.py, line" in report["zero_pad"].diagnosis
        and "raise ValueError('my own bug')" in report["zero_pad"].diagnosis
    )
    assert report["create_mask_from_window"].status == "pass"
    assert any("printed" in line and "not shown" in line for line in report["create_mask_from_window"].details)
    assert "debug" not in str(report)


def test_a_function_that_exits_the_process_is_an_error_and_the_others_still_run():
    dying = mutate("distribute_value", ("    (n_H, n_W) = shape\n", "    import os\n    os._exit(3)\n"))
    dying = mutate(
        "create_mask_from_window", ("    mask = x == np.max(x)\n", "    raise SystemExit(1)\n"), source=dying
    )
    report = check_text(dying)
    assert report["distribute_value"].status == "error"
    assert "exit code 3" in report["distribute_value"].diagnosis
    assert report["create_mask_from_window"].status == "error"
    assert "sys.exit()" in report["create_mask_from_window"].diagnosis
    assert report["pool_backward"].status == "pass"


def test_the_sandbox_refuses_the_network_and_limits_memory():
    greedy = mutate("zero_pad", ("    X_pad = np.pad", "    big = np.empty(2 * 1024**3)\n    X_pad = np.pad"))
    online = mutate(
        "conv_single_step",
        (
            "    s = np.multiply",
            "    import socket\n    socket.create_connection(('example.org', 80))\n    s = np.multiply",
        ),
        source=greedy,
    )
    report = check_text(online, memory=512 * 1024**2)
    assert report["zero_pad"].status == "error" and "MemoryError" in report["zero_pad"].diagnosis
    assert report["conv_single_step"].status == "error"
    assert "network" in report["conv_single_step"].diagnosis
    assert report["conv_forward"].status == "pass"


def test_a_function_that_modifies_its_input_fails():
    report = check_text(
        mutate("zero_pad", ("    X_pad = np.pad", "    X[...] = 0.0\n    X = np.zeros_like(X)\n    X_pad = np.pad"))
    )
    assert report["zero_pad"].status == "fail"


def test_an_array_bias_result_is_a_type_mistake():
    report = check_text(mutate("conv_single_step", ("Z = Z + b.item()", "Z = Z + b")))
    assert report["conv_single_step"].status == "fail"
    assert "not a number" in report["conv_single_step"].diagnosis
    assert report["conv_forward"].status == "pass"


def test_the_json_object_has_exactly_the_schema():
    report = check_text(mutate("conv_single_step", ("b.item()", "float(b)")))
    data = report.to_dict()
    assert set(data) == {"file", "functions", "passed", "total"}
    assert data["total"] == 8 and data["passed"] == 7
    assert [f["name"] for f in data["functions"]] == list(EIGHT)
    for f in data["functions"]:
        assert set(f) == {"name", "status", "diagnosis", "cases"}
        assert f["status"] in STATUSES
        assert (f["diagnosis"] is None) == (f["status"] == "pass")
        assert f["cases"] and all({"id", "status"} <= set(c) for c in f["cases"])
    import json

    assert json.loads(report.to_json()) == json.loads(json.dumps(data, default=str))


def test_syntax_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy as np\n\ndef zero_pad(X, pad)\n    return X\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"bad.py, line 3: syntax error"):
        load(bad)
    nb = tmp_path / "bad.ipynb"
    nb.write_text(
        notebook(SOLUTION.replace("def conv_forward(A_prev, W, b, hparameters):", "def conv_forward(A_prev W):"))
    )
    with pytest.raises(SourceError, match=r"bad.ipynb, cell \d+, line 1: syntax error"):
        load(nb)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", "hello", r"not a Python file or notebook"),
        ("broken.ipynb", "{not json", r"broken.ipynb, line 1: not a notebook"),
        ("list.ipynb", "[1, 2]", r"not a notebook"),
    ],
)
def test_unreadable_files_are_refused(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError, match=message):
        load(path)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(SourceError, match=r"missing.py: cannot be read"):
        load(tmp_path / "missing.py")


def _module_from(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_takes_a_module_a_dict_and_one_function(tmp_path, capsys):
    path = tmp_path / "learner_module.py"
    path.write_text(mutate("distribute_value", ("dz / (n_H * n_W)", "dz / (n_H + n_W)")), encoding="utf-8")
    module = _module_from(path, "learner_module")
    capsys.readouterr()
    report = checker.check(module)
    assert statuses(report)["distribute_value"] == "fail" and report.passed == 7
    assert "n_H + n_W" in report["distribute_value"].diagnosis
    namespace = {name: getattr(module, name) for name in ("zero_pad", "conv_forward")}
    report = checker.check(namespace)
    assert statuses(report) == {**dict.fromkeys(EIGHT, "missing"), "zero_pad": "pass", "conv_forward": "pass"}
    one = checker.check(module.distribute_value)
    assert [f.name for f in one.functions] == ["distribute_value"] and one.functions[0].status == "fail"
    html = one._repr_html_()
    assert html.count("<tr>") == 2 and "distribute_value" in html and "n_H + n_W" in html


def test_check_refuses_what_is_not_a_learner_namespace():
    with pytest.raises(
        TypeError, match=r"check: expected globals\(\), a module, a dict of functions or one function, got int"
    ):
        checker.check(3)
    with pytest.raises(ValueError, match=r"check: print_me is not one of the exercise's eight functions"):

        def print_me():
            pass

        checker.check(print_me)
    with pytest.raises(ValueError, match=r"check: timeout must be a positive number of seconds, got 0"):
        check_text(SOLUTION, timeout=0)


def test_cnnstep_check_is_the_checker():
    import cnnstep

    assert cnnstep.check is checker.check


def test_code_that_hangs_as_it_loads_is_an_error_for_every_function(monkeypatch):
    from cnnstep.app.checker import sandbox

    monkeypatch.setattr(sandbox, "STARTUP_SECONDS", 2.0)
    hanging = SOLUTION + "\n\nclass Stuck:\n    while True:\n        pass\n"
    report = check_text(hanging, timeout=1.0)
    assert set(statuses(report).values()) == {"error"}
    assert "could not be loaded" in report["zero_pad"].diagnosis


def test_a_definition_that_fails_as_it_loads_is_a_note_and_the_rest_is_checked():
    source = "import no_such_module_here\n" + SOLUTION.replace(
        "def zero_pad(X, pad):", "@undefined_decorator\ndef zero_pad(X, pad):"
    )
    report = check_text(source)
    assert report["zero_pad"].status == "error"
    assert "zero_pad is defined but was not created" in report["zero_pad"].diagnosis
    assert "undefined_decorator" in report["zero_pad"].diagnosis
    assert report.passed == 7
    assert any("learner.py, line 1: ModuleNotFoundError" in note for note in report.notes)
    assert any("NameError: name 'undefined_decorator' is not defined" in note for note in report.notes)


def test_notebook_cells_lose_their_ipython_lines_and_keep_their_code():
    cells = [
        (1, "%matplotlib inline\nimport numpy as np\n!ls\nnp.pad?\n"),
        (2, "def zero_pad(X, pad):\n    X_pad = np.pad(X, pad)  # all axes?\n    return X_pad\n"),
        (3, "%%bash\necho hi\n"),
        (4, "%%time\ndef distribute_value(dz, shape):\n    return dz\n"),
    ]
    source = from_text("", "nb.ipynb", notebook_cells=cells)
    assert [chunk.label for chunk in source.chunks] == ["nb.ipynb, cell 1", "nb.ipynb, cell 2", "nb.ipynb, cell 4"]
    assert source.chunks[0].text.split("\n") == ["", "import numpy as np", "", "", ""]
    assert "# all axes?" in source.chunks[1].text
    assert source.defined == {"zero_pad", "distribute_value"}


def test_what_the_code_writes_stays_out_of_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    writing = mutate("zero_pad", ("    X_pad = np.pad", "    open('litter.txt', 'w').write('x')\n    X_pad = np.pad"))
    report = check_text(writing)
    assert report["zero_pad"].status == "pass"
    assert list(tmp_path.iterdir()) == []


def test_the_exercise_template_fails_everywhere_with_a_missing_return():
    template = "import numpy as np\n" + "".join(f"def {name}(*args, **kwargs):\n    pass\n\n" for name in EIGHT)
    report = check_text(template)
    assert set(statuses(report).values()) == {"fail"}
    assert all("a missing return statement?" in f.diagnosis for f in report.functions)


def test_wrong_return_forms_are_named():
    source = mutate("conv_forward", ("return Z, cache", "return Z"))
    source = mutate("zero_pad", ("return X_pad", "return X_pad.tolist()"), source=source)
    report = check_text(source)
    assert "expected a tuple (Z, cache)" in report["conv_forward"].diagnosis
    assert "X_pad is a list" in report["zero_pad"].diagnosis
    assert report["conv_backward"].status == "pass"


def test_a_namespace_brings_along_the_names_its_functions_use(tmp_path):
    path = tmp_path / "star_learner.py"
    path.write_text(
        "from numpy import zeros, pad\nSCALE = 1.0\n\n"
        "def helper(X, p):\n    return pad(X, ((0, 0), (p, p), (p, p), (0, 0))) * SCALE\n\n"
        "def zero_pad(X, pad_width):\n    out = zeros(1)\n    return helper(X, pad_width) + out[0]\n",
        encoding="utf-8",
    )
    module = _module_from(path, "star_learner")
    report = checker.check(module.zero_pad)
    assert report["zero_pad"].status == "pass", report
