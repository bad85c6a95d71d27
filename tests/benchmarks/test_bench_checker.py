"""The checker's timing script: it checks a correct solution and a small folder; no time is asserted."""

import bench_checker


def test_the_checker_benchmark_runs_on_a_small_folder(capsys):
    assert bench_checker.main(["--repeat", "1", "--notebooks", "3"]) == 0
    out = capsys.readouterr().out
    assert "one correct loop solution: fastest" in out and "fastest/target" in out
    assert "a folder of 3 notebooks (2 correct, 1 broken, 0 unreadable)" in out and "time/target" in out
