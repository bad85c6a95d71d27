"""The benchmark suite: the structure of its results, its report and its command line.

Nothing here asserts a time: only that the right things are measured and reported.
"""

import argparse
import json
import sys

import numpy as np
import pytest

import bench_kernels as bench
import cnnstep
import harness

TINY_CONV = bench.Case("T1", "conv", m=2, n_H_prev=6, n_W_prev=6, n_C_prev=2, f=3, n_C=3, pad=1)
TINY_POOL = {
    "name": "T2",
    "kind": "pool",
    "m": 2,
    "n_H_prev": 6,
    "n_W_prev": 6,
    "n_C_prev": 2,
    "f": 2,
    "stride": 2,
    "mode": "average",
}


def _assert_stats(stats, calls):
    assert stats["calls"] == calls
    assert 0 < stats["min_ms"] <= stats["q1_ms"] <= stats["median_ms"] <= stats["q3_ms"] <= stats["max_ms"]
    assert len(stats["per_round_ms"]) * len(stats["per_round_ms"][0]) == calls


def test_a_quick_run_measures_every_part_against_torch():
    pytest.importorskip("torch")
    results = bench.run(
        cases=[TINY_CONV, TINY_POOL], rounds=1, repeat=1, pause=0, quick=True, memory=True, dtypes=("float32",)
    )
    assert set(results) >= {"settings", "conditions", "cases", "rows", "elapsed_s"}
    assert results["settings"]["quick"] is True and results["settings"]["rounds"] == 1
    assert results["conditions"]["numpy"] == np.__version__
    assert results["conditions"]["workspace_limit_bytes"] == cnnstep.workspace_limit()
    assert set(results["conditions"]["environment"]) >= {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}
    conv, pool = results["rows"]
    assert (conv["case"], conv["kind"], conv["dtype"], conv["m"]) == ("T1", "conv", "float32", 2)
    assert (pool["case"], pool["kind"], pool["output_shape"]) == ("T2", "pool", [2, 3, 3, 2])
    for row in (conv, pool):
        assert set(row["time"]) == {"forward", "backward", "forward_backward"}
        for entry in row["time"].values():
            _assert_stats(entry["cnnstep"], 1)
            _assert_stats(entry["torch"], 1)
            assert entry["ratio"] == pytest.approx(entry["cnnstep"]["median_ms"] / entry["torch"]["median_ms"])
            low, high = entry["ratio_band"]
            assert low <= entry["ratio"] * (1 + 1e-12) and entry["ratio"] <= high * (1 + 1e-12)
        assert row["loops"]["speedup"] > 0 and "extrapolated" in row["loops"]["method"]
    assert conv["loops"]["m_timed"] == 1 and pool["loops"]["m_timed"] == 2

    gf = conv["gflops"]
    assert gf["flop"]["forward"] == 2 * 2 * 6 * 6 * 3 * 3 * 3 * 2
    assert gf["flop"]["forward_backward"] == 3 * gf["flop"]["forward"]
    assert gf["gemm"] == {"M": 2 * 6 * 6, "K": 3 * 3 * 2, "N": 3}
    assert gf["matmul"] > 0 and gf["cnnstep"]["forward"] > 0 and gf["torch"]["backward"] > 0
    assert pool["gflops"] is None

    memory = conv["memory"]  # quick: probed for the conv cases only
    assert isinstance(memory["cnnstep_mib"], float) and isinstance(memory["torch_mib"], float)
    assert set(memory["method"]) == {"cnnstep", "torch"}
    if memory["torch_mib"] > 0:
        assert memory["ratio"] == pytest.approx(memory["cnnstep_mib"] / memory["torch_mib"])
    assert pool["memory"] is None

    assert json.loads(json.dumps(results, allow_nan=False)) == results
    table = bench.format_table(results)
    assert "T1" in table and "T2" in table and "ratio" in table and "float32" in table
    assert "loops timed on m=1" in table and "extrapolated" in table
    assert bench.format_table(json.loads(json.dumps(results))) == table


def test_without_torch_every_torch_column_says_na(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    results = bench.run(cases=[TINY_CONV], rounds=1, repeat=2, pause=0, memory=True, loops=False, dtypes=["float64"])
    assert results["conditions"]["torch"].startswith("n/a")
    (row,) = results["rows"]
    for entry in row["time"].values():
        _assert_stats(entry["cnnstep"], 2)
        assert entry["torch"] == "n/a" and entry["ratio"] == "n/a" and entry["ratio_band"] == "n/a"
    assert row["gflops"]["torch"] == "n/a" and row["gflops"]["cnnstep"]["forward"] > 0
    assert row["loops"] is None
    assert isinstance(row["memory"]["cnnstep_mib"], float)
    assert row["memory"]["torch_mib"] == "n/a" and row["memory"]["ratio"] == "n/a"
    table = bench.format_table(results)
    assert "T1" in table and "n/a" in table and "off" in table
    json.dumps(results, allow_nan=False)


def test_contenders_alternate_their_order_every_round():
    log = []

    def contender(name):
        return harness.Op(lambda: None, lambda _: log.append(name))

    times = harness.measure({"a": contender("a"), "b": contender("b")}, rounds=3, repeat=2, pause=0)
    # each block: one warm-up call, then the timed ones
    assert log == ["a"] * 3 + ["b"] * 3 + ["b"] * 3 + ["a"] * 3 + ["a"] * 3 + ["b"] * 3
    assert [len(calls) for calls in times["a"]] == [2, 2, 2]


@pytest.mark.parametrize(
    "case",
    [
        bench.Case("even-same", "conv", 2, 7, 6, 2, f=4, n_C=3, pad="same"),
        bench.Case("strided", "conv", 2, 9, 9, 2, f=5, n_C=3, pad=2, stride=2),
        bench.Case("max", "pool", 2, 6, 6, 3, f=3, stride=1, mode="max"),
        bench.Case("avg", "pool", 2, 8, 8, 3, f=4, stride=4, mode="average"),
    ],
)
def test_both_contenders_compute_the_same_thing(case):
    torch = pytest.importorskip("torch")
    g = case.geometry()
    arrays = bench.inputs(case, g, "float64")
    tensors = bench.torch_tensors(torch, case, arrays)
    assert np.shares_memory(tensors["x"].detach().numpy(), arrays["A"])  # zero-copy views
    assert np.shares_memory(tensors["dz"].numpy(), arrays["dZ"])
    z = bench.torch_ops(torch, case, g, tensors)["forward_backward"].call(None)
    ours = bench.cnnstep_ops(case, arrays)
    Z, grads = ours["forward_backward"].call(None)
    dA_prev = grads[0] if case.kind == "conv" else grads
    np.testing.assert_allclose(z.detach().permute(0, 2, 3, 1).numpy(), Z, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tensors["x"].grad.permute(0, 2, 3, 1).numpy(), dA_prev, rtol=1e-10, atol=1e-12)
    if case.kind == "conv":
        np.testing.assert_allclose(tensors["w"].grad.numpy().transpose(2, 3, 1, 0), grads[1], rtol=1e-10, atol=1e-12)


def test_main_quick_writes_json_and_prints_the_table(tmp_path, capsys):
    path = tmp_path / "bench.json"
    code = bench.main(["--quick", "--cases", "P5", "--dtype", "float32", "--no-memory", "--json", str(path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "P5" in out and "ratio" in out
    results = json.loads(path.read_text())
    assert [row["case"] for row in results["rows"]] == ["P5"]
    assert results["settings"]["rounds"] == bench.QUICK_ROUNDS and results["settings"]["repeat"] == bench.QUICK_REPEAT
    assert results["rows"][0]["m"] == bench.QUICK_M and results["settings"]["dtypes"] == ["float32"]


def test_the_options_mount_as_a_subcommand():
    parser = argparse.ArgumentParser(prog="cnnstep")
    sub = parser.add_subparsers(dest="command")
    bench.configure_parser(sub.add_parser("bench"))
    args = parser.parse_args(["bench", "--quick", "--cases", "S1,P1", "--dtype", "float32", "--no-loops"])
    assert args.run is bench.run_from_args
    assert (args.quick, args.cases, args.dtype, args.loops, args.memory) == (True, "S1,P1", ["float32"], False, True)
    assert (args.rounds, args.repeat, args.pause, args.threads, args.json) == (5, 3, 0.2, 2, None)


def test_every_documented_case_is_there():
    names = [case.name for case in bench.CASES]
    assert names == ["S1", "S2", "S3", "S4", "P1", "P2", "P3", "P4", "P5", "P6"]
    s3 = bench.CASES[2].geometry()
    assert s3.pad == (1, 2, 1, 2) and (s3.n_H, s3.n_W) == (64, 64)


def test_mistakes_are_clear_errors(capsys):
    with pytest.raises(ValueError, match="unknown case 'S9'"):
        bench.run(cases=["S1", "S9"])
    with pytest.raises(ValueError, match="dtype must be one of float32, float64"):
        bench.run(cases=[TINY_CONV], dtypes=["float16"])
    with pytest.raises(ValueError, match='kind must be "conv" or "pool"'):
        bench.Case("X", "dense", 1, 4, 4, 1, f=2)
    with pytest.raises(ValueError, match="needs n_C"):
        bench.Case("X", "conv", 1, 4, 4, 1, f=2)
    with pytest.raises(ValueError, match="window larger than the padded input"):
        bench.Case("X", "pool", 1, 4, 4, 1, f=5)
    assert bench.main(["--cases", "nope", "--no-memory"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("python benchmarks/bench_kernels.py: error: ")
        and "unknown case 'nope'" in err
        and err.count("\n") == 1
    )
