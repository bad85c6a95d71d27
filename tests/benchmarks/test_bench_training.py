"""The training-epoch benchmark: it runs both contenders on both models; no time is asserted."""

import json

import pytest

import bench_training
from cnnstep.nn import architectures


def _tiny(**kwargs):
    options = dict(image_size=12, examples=10, batch_size=4, rounds=2, pause=0)
    return bench_training.run(bench_training.MODELS, **{**options, **kwargs})


@pytest.fixture(scope="module")
def tiny():
    return _tiny()


def test_one_run_times_both_models_with_medians_minima_and_ratios(tiny):
    result = tiny
    assert list(result["models"]) == ["default", "application"]
    for name, entry in result["models"].items():
        ours = entry["time"]["cnnstep"]
        assert len(ours["seconds"]) == 2 and ours["min_s"] <= ours["median_s"]
        assert entry["params"] == architectures.build(name, (12, 12, 3), 10).count_params()
        if "torch" in entry["time"]:
            theirs = entry["time"]["torch"]
            assert entry["ratio_median"] == ours["median_s"] / theirs["median_s"]
            assert entry["ratio_min"] == ours["min_s"] / theirs["min_s"]
    text = bench_training.format_report(result)
    assert "default" in text and "application" in text and "ratio min" in text


def test_the_breakdown_has_a_row_per_step_and_covers_every_layer(tiny):
    result = tiny
    for entry in result["models"].values():
        rows = entry["breakdown"]["rows"]
        covered = [i for row in rows for i in row["layers"]]
        assert covered == list(range(len(entry["layers"])))
        for row in rows:
            assert row["cnnstep"]["forward"] >= 0 and row["cnnstep"]["backward"] >= 0
        # a convolution's backward does real work on both sides
        conv = next(row for row in rows if "Conv2D" in row["label"])
        assert conv["cnnstep"]["backward"] > 0
        if "torch" in conv:
            assert conv["torch"]["forward"] > 0 and conv["torch"]["backward"] > 0
    text = bench_training.format_report(result)
    assert "instrumented epoch" in text and "optimizer" in text


def test_the_products_floor_counts_each_convolutions_multiplications(tiny):
    # examples 10, batch 4: two full batches and one of 2; the first convolution has no input gradient
    for name, entry in tiny["models"].items():
        model = architectures.build(name, (12, 12, 3), 10)
        rows = entry["breakdown"]["rows"]
        convs = [row for row in rows if "Conv2D" in row["label"]]
        assert convs and all(("products" in row) == (row in convs) for row in rows)
        for k, row in enumerate(convs):
            layer = model.layers[row["layers"][0]]
            n_H, n_W, n_C = layer.output_shape(layer.input_shape)
            f_h, f_w = layer.kernel_size
            per_example = 2.0 * n_H * n_W * f_h * f_w * layer.input_shape[2] * n_C
            flop = row["products"]["flop"]
            assert flop["forward"] == 10 * per_example
            assert flop["backward"] == (1 if k == 0 else 2) * 10 * per_example
            assert row["products"]["forward"] > 0 and row["products"]["backward"] > 0
        assert entry["breakdown"]["square_gflops"] > 0
    assert "products" in bench_training.format_report(tiny)


def test_the_step_timers_are_removed_after_the_breakdown(tiny):
    result = tiny
    model = architectures.build("application", (12, 12, 3), 10)
    bench_training._cnnstep_breakdown(model, *_data(), batch_size=4)
    for _, step in model.plan:
        assert "forward" not in vars(step) and "backward" not in vars(step)
    assert result["models"]["application"]["breakdown"]["epoch_s"]["cnnstep"] > 0


def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.random((8, 12, 12, 3), dtype=np.float32), rng.integers(0, 10, size=8)


def test_results_files_are_written_beside_each_other(tmp_path):
    assert (
        bench_training.main(
            [
                "--image-size",
                "12",
                "--examples",
                "8",
                "--rounds",
                "1",
                "--pause",
                "0",
                "--no-breakdown",
                "--out",
                str(tmp_path),
                "--label",
                "t",
            ]
        )
        == 0
    )
    written = sorted(p.name for p in tmp_path.iterdir())
    assert len(written) == 2 and written[0].endswith("-t.json") and written[1].endswith("-t.txt")
    saved = json.loads((tmp_path / written[0]).read_text())
    assert set(saved["models"]) == {"default", "application"}


def test_an_unknown_model_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench_training.main(["--models", "nope", "--no-save"])
    assert "--models: unknown ['nope']" in capsys.readouterr().err


def test_the_training_benchmark_gives_torch_the_same_model():
    torch = pytest.importorskip("torch")

    for name in ("default", "application"):
        model = architectures.build(name, (16, 16, 3), 5)
        net = bench_training._torch_model(torch, model)
        assert sum(p.numel() for p in net.parameters()) == model.count_params()
        assert len(net) == len(model.plan)
        out = net(torch.zeros(2, 3, 16, 16).contiguous(memory_format=torch.channels_last))
        assert tuple(out.shape) == (2, 5)


def test_the_torch_twin_pads_as_tensorflow_same():
    torch = pytest.importorskip("torch")
    # the exercise's 4x4 'same' convolution pads 1 before and 2 after; a 3x3 one pads 1 each side
    model = architectures.build("application", (16, 16, 3), 5)
    net = bench_training._torch_model(torch, model)
    pads = [m for m in net.modules() if isinstance(m, torch.nn.ZeroPad2d)]
    assert [tuple(p.padding) for p in pads] == [(1, 2, 1, 2), (0, 1, 0, 1)]
    default = bench_training._torch_model(torch, architectures.build("default", (16, 16, 3), 5))
    convs = [m for m in default.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.padding == (1, 1) for c in convs)
    assert not any(isinstance(m, torch.nn.ZeroPad2d) for m in default.modules())


def test_the_memory_probe_measures_both_contenders():
    result = bench_training.run(
        ("application",), image_size=12, examples=8, batch_size=4, rounds=1, pause=0, breakdown=False, memory=True
    )
    for entry in result["models"].values():
        probes = entry["memory"]["probes"]
        assert "error" not in probes["cnnstep"], probes["cnnstep"]
        assert isinstance(probes["cnnstep"]["mib"], float)
