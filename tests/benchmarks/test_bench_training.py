"""The training-epoch benchmark: it runs both contenders on the same model; no time is asserted."""

import pytest

import bench_training


def test_training_epoch_benchmark_on_a_tiny_model():
    for model in ("default", "application"):
        result = bench_training.run(model, image_size=12, examples=10, batch_size=4, rounds=1, pause=0)
        assert result["median_seconds"]["cnnstep"] > 0
        assert result["params"] > 0 and result["examples"] == 10
        if result["torch"] != "n/a":
            assert result["ratio"] == result["median_seconds"]["cnnstep"] / result["median_seconds"]["torch"]
        text = bench_training.format_report(result)
        assert f"model {model}" in text and "ratio cnnstep/torch" in text


def test_the_training_benchmark_gives_torch_the_same_model():
    torch = pytest.importorskip("torch")
    from bench_training import _torch_model
    from cnnstep.nn import architectures

    for name in ("default", "application"):
        model = architectures.build(name, (16, 16, 3), 5)
        net = _torch_model(torch, model)
        assert sum(p.numel() for p in net.parameters()) == model.count_params()
        out = net(torch.zeros(2, 3, 16, 16).contiguous(memory_format=torch.channels_last))
        assert tuple(out.shape) == (2, 5)
