"""``cnnstep check``: the table, --json, --csv, the folder mode and the exit codes."""

import csv
import json

import pytest

from cnnstep.app.cli import main
from tests.app.checker_solutions import EIGHT, SOLUTION, mutate, notebook


def test_a_correct_solution_exits_0_with_the_table(tmp_path, capsys):
    path = tmp_path / "solution.py"
    path.write_text(SOLUTION, encoding="utf-8")
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "8/8 functions pass" in out
    assert all(f"✓ {name}" in out for name in EIGHT)
    assert "x.shape" not in out  # the learner's own prints never reach the terminal


def test_a_broken_solution_exits_1_with_a_diagnosis_and_the_details(tmp_path, capsys):
    path = tmp_path / "broken.ipynb"
    path.write_text(notebook(mutate("conv_backward", ("horiz_start:horiz_end, :] +=", "horiz_start:horiz_end, :] ="))))
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "7/8 functions pass" in out
    assert "✗ conv_backward" in out and "'=' instead of '+='" in out
    assert "--- conv_backward (fail)" in out and "smallest failing case" in out


def test_json_prints_one_object_of_the_schema(tmp_path, capsys):
    path = tmp_path / "broken.py"
    path.write_text(mutate("pool_forward", ("A_prev[i, vert_start", "A_prev[vert_start")), encoding="utf-8")
    assert main(["check", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"file", "functions", "passed", "total"}
    assert data["file"] == str(path) and data["passed"] == 7 and data["total"] == 8
    statuses = {f["name"]: f["status"] for f in data["functions"]}
    assert statuses == {**dict.fromkeys(EIGHT, "pass"), "pool_forward": "fail"}


def test_unreadable_paths_exit_2_with_one_line_naming_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("def zero_pad(X, pad):\n    return X +\n", encoding="utf-8")
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnstep check: error: bad.py, line 2: syntax error") and err.count("\n") == 1
    assert main(["check", str(tmp_path / "absent.ipynb")]) == 2
    assert "absent.ipynb: cannot be read" in capsys.readouterr().err
    assert main(["check", str(tmp_path), "--timeout", "0"]) == 2
    assert "--timeout must be a positive number" in capsys.readouterr().err


def test_a_folder_gives_one_row_per_file_as_csv_and_json(tmp_path, capsys):
    folder = tmp_path / "class"
    (folder / "late").mkdir(parents=True)
    (folder / "alice.py").write_text(SOLUTION, encoding="utf-8")
    (folder / "bob.ipynb").write_text(notebook(mutate("distribute_value", ("dz / (n_H * n_W)", "dz / n_H * n_W"))))
    (folder / "late" / "carol.py").write_text("def zero_pad(X, pad:\n", encoding="utf-8")
    (folder / "readme.txt").write_text("not checked", encoding="utf-8")
    table = tmp_path / "grades.csv"
    assert main(["check", str(folder), "--csv", str(table), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["checked"] == 2 and data["all_passed"] == 1
    assert [f["file"].rsplit("/", 1)[-1] for f in data["files"]] == ["alice.py", "bob.ipynb"]
    assert len(data["unreadable"]) == 1 and "carol.py, line 1: syntax error" in data["unreadable"][0]["error"]
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert [(r["file"].rsplit("/", 1)[-1], r["passed"]) for r in rows] == [("alice.py", "8"), ("bob.ipynb", "7")]
    assert rows[1]["distribute_value"] == "fail" and rows[1]["pool_backward"] == "pass"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cnnstep-")]  # no temporary file left


def test_a_folder_in_text_and_an_empty_folder(tmp_path, capsys):
    (tmp_path / "alice.py").write_text(SOLUTION, encoding="utf-8")
    assert main(["check", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "alice.py: 8/8 functions pass" in out and "1 files checked, 1 pass all eight" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["check", str(empty)]) == 2
    assert "holds no .py or .ipynb file" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--help"])
def test_help_mentions_the_exit_codes(flag, capsys):
    with pytest.raises(SystemExit):
        main(["check", flag])
    assert "Exit code 0 when all eight pass" in " ".join(capsys.readouterr().out.split())


def test_demo_exercise_prints_every_value_beside_the_published_one(capsys):
    from cnnstep.app.exercise import CELLS

    assert main(["demo", "--exercise"]) == 0
    out = capsys.readouterr().out
    total = sum(len(cell.expected) for cell in CELLS)
    assert f"{total} of {total} values as published" in out
    assert "np.mean(Z) = " in out and "Expected Output: 0.0489952035289" in out
    assert "DIFFERS" not in out and out.count("== ") == len(CELLS)


def test_the_walkthrough_shows_where_a_learner_differs():
    import cnnstep
    from cnnstep.app.exercise import walkthrough

    functions = {name: getattr(cnnstep, name) for name in cnnstep.__all__[:8]}
    functions["distribute_value"] = lambda dz, shape: cnnstep.distribute_value(dz, shape) * 2
    lines = []
    assert walkthrough(lines.append, functions) == 1
    text = "\n".join(lines)
    assert "Expected Output (DIFFERS)" in text and "[[1. 1.]" in text


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1"])
def test_a_timeout_that_is_not_a_positive_finite_number_is_one_line(value, capsys, tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("import numpy as np\n")
    assert main(["check", str(path), "--timeout", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--timeout must be a positive number of seconds" in err
