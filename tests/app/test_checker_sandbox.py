"""The checker's sandbox: what a learner's code can and cannot do to the checking process."""

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from cnnstep.app import checker
from cnnstep.app.checker import runner, sandbox
from cnnstep.app.checker.source import from_text
from tests.app.checker_solutions import EIGHT, mutate


def check_text(text, **options):
    return checker.check_source(from_text(text, "learner.py"), **options)


def statuses(report):
    return {f.name: f.status for f in report.functions}


def boom(marker, base="float"):
    """A class whose pickle, once loaded, creates the file ``marker``: proof that it ran."""
    return f"\n\nclass Boom({base}):\n    def __reduce__(self):\n        return (open, ({str(marker)!r}, 'w'))\n"


# --------------------------------------------------------------------------- values of the learner's


def test_a_returned_subclass_never_runs_its_code_in_the_checker(tmp_path):
    marker = tmp_path / "ran-in-the-checker"
    source = mutate("conv_single_step", ("    return Z\n", "    return Boom(Z)\n")) + boom(marker)
    report = check_text(source)
    assert not marker.exists()
    assert statuses(report) == dict.fromkeys(EIGHT, "pass")  # the value, as a plain float, is right


class Text(str):
    def __reduce__(self):
        raise AssertionError("a subclass's own reduce was used")


class Whole(int):
    pass


class Scalar(np.float64):
    pass


class Array(np.ndarray):
    pass


@pytest.mark.parametrize(
    ("value", "plain_type"),
    [
        (Text("abc"), str),
        (Whole(3), int),
        (Scalar(2.5), np.float64),
        (np.arange(3.0).view(Array), np.ndarray),
        (np.float32(1.5), np.float32),
        (True, bool),
        (1 + 2j, complex),
    ],
)
def test_values_become_exactly_the_built_in_types(value, plain_type):
    plain = runner._portable(value)
    assert type(plain) is plain_type
    assert np.all(plain == value)
    assert type(pickle.loads(pickle.dumps(plain))) is plain_type


def test_containers_and_their_keys_become_exactly_the_built_in_types():
    class Pair(tuple):
        pass

    class Table(dict):
        pass

    plain = runner._portable(Pair((Table({Text("k"): [Whole(1)]}), np.arange(2).view(Array))))
    assert type(plain) is tuple and type(plain[0]) is dict and type(plain[1]) is np.ndarray
    ((key, value),) = plain[0].items()
    assert type(key) is str and key == "k" and type(value) is list and type(value[0]) is int


def test_an_object_array_is_described_not_sent():
    plain = runner._portable(np.array([object(), 1], dtype=object))
    assert isinstance(plain, runner.Opaque) and "Python objects" in plain.text and "(2,)" in plain.text


def test_the_checker_unpickles_nothing_but_plain_data(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with pytest.raises(pickle.UnpicklingError, match=r"\.open, which is not plain data"):
        sandbox.plain_loads(pickle.dumps(("case", "x", {"outputs": Evil()})))
    assert not marker.exists()
    plain = ("case", "x", {"outputs": (np.ones((2, 2)).T, np.float64(1.5), 1j, runner.Opaque("t", "text"))})
    for protocol in {4, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL}:
        back = sandbox.plain_loads(pickle.dumps(plain, protocol=protocol))
        assert back[2]["outputs"][1:] == plain[2]["outputs"][1:]
        np.testing.assert_array_equal(back[2]["outputs"][0], plain[2]["outputs"][0])


def test_a_child_that_sends_a_learners_object_is_that_functions_error(tmp_path):
    marker = tmp_path / "ran-in-the-checker"
    # the learner's code undoes the child's conversion as it loads (a decorator runs with the
    # definitions): what stops the object then is the checker's unpickler
    undo = (
        "\nimport sys\n\n\ndef _undo(function):\n"
        "    sys.modules['cnnstep.app.checker.runner']._portable = lambda value, depth=0: value\n"
        "    return function\n\n\n@_undo\ndef _undone():\n    pass\n"
    )
    source = mutate("conv_single_step", ("    return Z\n", "    return Boom(Z)\n")) + undo + boom(marker)
    report = check_text(source)
    assert not marker.exists()
    assert report["conv_single_step"].status == "error"
    assert "cannot read" in report["conv_single_step"].diagnosis
    assert "not plain data" in report["conv_single_step"].diagnosis
    assert report["conv_forward"].status == report["zero_pad"].status == "pass"


# --------------------------------------------------------------------------- processes


def _alive(pid: int) -> bool:
    """Running (not a zombie) and still a checker's child, so that a recycled id is left alone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            mine = b"cnnstep.app.checker.sandbox" in cmdline.read()
    except (OSError, IndexError):
        return False
    return state != b"Z" and mine


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads processes from /proc")
@pytest.mark.parametrize("then", ["returns", "hangs"])
def test_processes_the_code_forks_do_not_outlive_the_check(tmp_path, then):
    pids = tmp_path / "pids"
    forking = (
        "    if os.fork() == 0:\n"
        f"        with open({str(pids)!r}, 'a') as out:\n"
        "            out.write(f'{os.getpid()}\\n')\n"
        "        while True:\n"
        "            pass\n"
    )
    if then == "hangs":
        forking += "    while True:\n        pass\n"
    source = "import os\n" + mutate("zero_pad", ("    X_pad = np.pad", forking + "    X_pad = np.pad"))
    try:
        report = check_text(source, timeout=3.0)
        assert report["zero_pad"].status == ("pass" if then == "returns" else "timeout")
        assert report["conv_forward"].status == "pass"
        assert pids.exists()
        forked = [int(line) for line in pids.read_text().split()]
        assert forked
        deadline = time.monotonic() + 5.0
        while any(_alive(pid) for pid in forked) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in forked if _alive(pid)]
    finally:  # whatever the outcome, nothing is left spinning
        for pid in (int(line) for line in pids.read_text().split()) if pids.exists() else ():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- tracebacks


def test_a_recursion_is_a_few_frames_and_a_count():
    source = mutate("zero_pad", ("    X_pad = np.pad", "    return zero_pad(X, pad)\n    X_pad = np.pad"))
    report = check_text(source)
    assert report["zero_pad"].status == "error" and "RecursionError" in report["zero_pad"].diagnosis
    longest = max(2 * runner.FRAMES_KEPT + 1, runner.REPEATS_SHOWN + 1)
    for case in report.to_dict()["functions"][0]["cases"]:
        assert 0 < len(case["traceback"]) <= longest
        assert any("the previous line repeated" in line for line in case["traceback"])
    shown = [line for line in report["zero_pad"].details if "learner.py, line" in line or "..." in line]
    assert 0 < len(shown) <= longest + 1  # the frames, and the case's own code line at most
    assert "the previous line repeated" in str(report)
    assert json.loads(report.to_json())["functions"][0]["status"] == "error"


def test_shorten_counts_every_frame_it_leaves_out():
    a, b, c = ("f.py", 1, "a", "a()"), ("f.py", 2, "b", "b()"), ("f.py", 3, "c", "c()")
    one = runner._shorten([c] + [a] * 100)
    assert one == [c, a, a, a, (None, 97, "repeated", "")][: len(one)]
    assert runner.frame_lines([a, (None, 97, "repeated", "")])[1] == "... the previous line repeated 97 more times"
    mutual = [c] + [a, b] * 50
    short = runner._shorten(mutual)
    assert len(short) == 2 * runner.FRAMES_KEPT + 1
    (gap,) = [entry for entry in short if entry[0] is None]
    assert gap[2] == "left out" and gap[1] == len(mutual) - 2 * runner.FRAMES_KEPT
    assert short[: runner.FRAMES_KEPT] == mutual[: runner.FRAMES_KEPT]
    assert short[-runner.FRAMES_KEPT :] == mutual[-runner.FRAMES_KEPT :]
    assert runner._shorten([a, b, c]) == [a, b, c]
    assert runner.innermost({"frames": one}) == a


# --------------------------------------------------------------------------- network


@pytest.mark.skipif(not sandbox.network_isolated(), reason="unshare --net cannot run here")
def test_a_subprocess_of_the_code_reaches_no_network():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)"
        reaching = (
            "    if 'rc' not in _memo:\n"
            f"        _memo['rc'] = subprocess.run([sys.executable, '-c', {probe!r}]).returncode\n"
            "    if _memo['rc'] == 0:\n"
            "        raise RuntimeError('a subprocess reached the network')\n"
        )
        source = "import subprocess\nimport sys\n" + mutate(
            "zero_pad",
            ("def zero_pad(X, pad):", "def zero_pad(X, pad, _memo={}):"),
            ("    X_pad = np.pad", reaching + "    X_pad = np.pad"),
        )
        report = check_text(source)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    assert report["zero_pad"].status == "pass", report["zero_pad"].diagnosis


def test_the_network_isolation_probe_needs_a_working_unshare(monkeypatch):
    sandbox.network_isolated.cache_clear()
    monkeypatch.setattr(sandbox, "_NETWORK_ISOLATION", ("no-such-command-here",))
    try:
        assert sandbox.network_isolated() is False
    finally:
        sandbox.network_isolated.cache_clear()


# --------------------------------------------------------------------------- names


def test_the_value_summary_has_a_name_of_its_own():
    from cnnstep.app.checker import compare

    assert not hasattr(compare, "describe")
    assert compare.summarize_value(np.zeros((2, 3))) == "an array of shape (2, 3) and dtype float64"


def test_the_exercise_functions_follow_the_reference():
    from cnnstep import reference
    from cnnstep.app import exercise

    assert exercise.FUNCTIONS == tuple(reference.__all__) == EIGHT
    # derived, not a second list: a reference listing its functions otherwise is followed
    code = (
        "from cnnstep import reference; reference.__all__ = list(reversed(reference.__all__)); "
        "from cnnstep.app import exercise; print(','.join(exercise.FUNCTIONS))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env())
    assert done.stdout.strip().split(",") == list(reversed(EIGHT))


def _env():
    import cnnstep

    root = os.path.dirname(os.path.dirname(os.path.abspath(cnnstep.__file__)))
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
