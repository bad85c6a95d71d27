"""The cnnstep command line, run in-process through its main()."""

import numpy as np
import pytest

import cnnstep
from cnnstep import cli


def test_gradcheck_passes_and_reports_every_case(capsys):
    assert cli.main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "10/10 gradient checks passed" in out
    assert "conv stride 2, pad 1" in out and "pool 3x3/1 (overlapping) max" in out


def test_gradcheck_fails_with_a_broken_backward(monkeypatch, capsys):
    right = cnnstep.conv_backward

    def off_by_a_bit(dZ, cache):
        dA, dW, db = right(dZ, cache)
        return dA, dW * 1.01, db

    monkeypatch.setattr(cnnstep, "conv_backward", off_by_a_bit)
    assert cli.main(["gradcheck"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "6/10 gradient checks passed" in out


def test_a_user_mistake_is_one_line_and_exit_code_2(capsys):
    assert cli.main(["gradcheck", "--tol", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnstep gradcheck: error:") and err.count("\n") == 1


def test_unknown_subcommand_is_a_usage_error():
    with pytest.raises(SystemExit) as exc:
        cli.main(["nope"])
    assert exc.value.code == 2
