"""Run a learner's functions on the checker's cases in a child process.

The child (a fresh interpreter, so nothing of the parent's state leaks in) runs with one
BLAS thread, an address-space limit (``RLIMIT_AS``, where the platform has it), sockets
refused and a scratch working folder (removed afterwards); its standard streams are the
null device and Python's ``print`` goes to a counter, so nothing the learner's code prints
reaches the terminal. Every exception, ``SystemExit`` included, comes back as data (see
:mod:`~cnnstep.app.checker.runner`). The pipes to the child are POSIX file descriptors.

Each function is one *job*: all its cases, under one time limit. A job that runs past
it is reported as ``timeout``; the child is killed and a fresh one runs the next job, so
an infinite loop in one function never stops the others from being checked.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import tempfile
import time
from dataclasses import dataclass, field

from cnnstep.app.checker.runner import LineCounter, error_data, run_case

__all__ = ["JobRun", "run_jobs", "DEFAULT_TIMEOUT", "DEFAULT_MEMORY"]

DEFAULT_TIMEOUT = 10.0  # seconds per function
DEFAULT_MEMORY = 2 * 1024**3  # bytes of address space beyond what the child holds after its imports
STARTUP_SECONDS = 30.0  # a fresh interpreter importing NumPy, on a busy machine
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class JobRun:
    """What became of one function's job.

    status : "ran", "timeout" (past the time limit) or "crashed" (the child died)
    outcomes : case id -> the outcome dict of :func:`run_case`
    current : the case running when the job stopped, for "timeout" and "crashed"
    printed : lines the learner's code printed (never shown)
    detail : for "crashed", how the child ended
    """

    status: str = "ran"
    outcomes: dict = field(default_factory=dict)
    current: str | None = None
    printed: int = 0
    seconds: float = 0.0
    detail: str = ""


# --------------------------------------------------------------------------- the child


def _refuse_network() -> None:
    import _socket
    import socket

    def refused(*args, **kwargs):
        raise PermissionError("network access is refused while your code is checked")

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            refused()

    socket.socket = NoSocket
    _socket.socket = refused
    for name in ("create_connection", "getaddrinfo", "socketpair", "fromfd"):
        setattr(socket, name, refused)


def _limit_memory(extra: int) -> None:
    try:
        import resource
    except ImportError:  # not on this platform
        return
    try:
        with open("/proc/self/status") as status:
            held = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        held = 0
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = held + extra if hard == resource.RLIM_INFINITY else min(held + extra, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class _Duplex:
    """One connection object over two pipes (the child's stdin and stdout stay the null device)."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    def send(self, obj):
        self.writer.send(obj)

    def send_bytes(self, data):
        self.writer.send_bytes(data)

    def recv(self):
        return self.reader.recv()

    def recv_bytes(self):
        return self.reader.recv_bytes()

    def poll(self, timeout):
        return self.reader.poll(timeout)

    def close(self):
        self.reader.close()
        self.writer.close()


def _load(chunks) -> tuple[dict, dict, list]:
    """Execute the learner's kept statements one at a time; an import or a definition that
    fails is a note, not the end."""
    import ast

    namespace = {"__name__": "__learner__", "__builtins__": __builtins__}
    labels, notes = {}, []
    for chunk in chunks:
        labels[chunk.label] = chunk.text.split("\n")
        for node in ast.parse(chunk.text, filename=chunk.label).body:
            try:
                exec(compile(ast.Module([node], type_ignores=[]), chunk.label, "exec"), namespace)
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                err = error_data(exc, labels)
                line = err["frames"][-1][1] if err["frames"] else node.lineno
                notes.append(f"{chunk.label}, line {line}: {err['type']}: {err['message']}")
    return namespace, labels, notes


def _child(read_fd: int, write_fd: int, memory: int) -> None:
    """The child's main: read the code and the jobs from one pipe, answer on the other."""
    from multiprocessing.connection import Connection

    conn = _Duplex(Connection(read_fd, writable=False), Connection(write_fd, readable=False))
    counter = LineCounter()
    sys.stdout = sys.stderr = counter
    import numpy as np

    from cnnstep import reference
    from cnnstep.app.exercise import FUNCTIONS

    _refuse_network()
    _limit_memory(memory)
    kind, chunks = conn.recv()
    namespace, labels, notes = _load(chunks)
    present = [name for name in FUNCTIONS if callable(namespace.get(name))]
    conn.send(("loaded", notes, counter.lines, present))
    while True:
        message = conn.recv()
        if message[0] == "stop":
            return
        _, name, cases = message
        func = namespace.get(name)
        saved = {other: namespace.get(other) for other in FUNCTIONS if other != name}
        # the others are the reference: a mistake is reported on the function that makes it
        namespace.update({other: getattr(reference, other) for other in saved})
        ns_base = {"np": np, **{f: getattr(reference, f) for f in FUNCTIONS}, name: func}
        counter.lines = 0
        for case in cases:
            conn.send(("start", case.id))
            try:
                outcome = run_case(ns_base, case, labels, counter)
                payload = pickle.dumps(("case", case.id, outcome))
            except Exception as exc:  # e.g. a value that does not pickle: still data
                payload = pickle.dumps(("case", case.id, {"error": error_data(exc, labels), "outputs": None}))
            conn.send_bytes(payload)
        for other, value in saved.items():
            if value is None:
                namespace.pop(other, None)
            else:
                namespace[other] = value
        conn.send(("done", name, counter.lines))


# --------------------------------------------------------------------------- the parent


def _child_environment() -> dict:
    import cnnstep

    env = dict(os.environ)
    env.update(dict.fromkeys(_THREAD_VARIABLES, "1"))
    # the child imports this very cnnstep, installed or not
    root = os.path.dirname(os.path.dirname(os.path.abspath(cnnstep.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


_CHILD_CODE = "import sys; from cnnstep.app.checker.sandbox import _child; _child(*map(int, sys.argv[1:]))"


class _Child:
    def __init__(self, chunks, memory: int, timeout: float, folder: str):
        import subprocess
        from multiprocessing.connection import Connection

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE, str(to_child_r), str(from_child_w), str(memory)],
            pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_child_environment(),
            cwd=folder,  # whatever the code writes lands in a scratch folder, removed afterwards
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.conn = _Duplex(Connection(from_child_r, writable=False), Connection(to_child_w, readable=False))
        self.conn.send(("load", chunks))
        message = self.receive(time.monotonic() + timeout + STARTUP_SECONDS)
        if message is None or message[0] != "loaded":
            self.close()
            raise RuntimeError(self.ended("loading the code"))
        self.notes, self.present = message[1], message[3]

    def receive(self, deadline: float):
        """The next message, or None past the deadline or when the child is gone."""
        try:
            if not self.conn.poll(max(deadline - time.monotonic(), 0)):
                return None
            return pickle.loads(self.conn.recv_bytes())
        except (EOFError, OSError, pickle.UnpicklingError):
            return None

    def exited(self, wait: float):
        try:
            return self.process.wait(wait)
        except Exception:
            return None

    def ended(self, doing: str) -> str:
        code = self.exited(1.0)
        if code is None:
            return f"timeout while {doing}"
        return f"the checking process ended (exit code {code}) while {doing}; out of memory, or os._exit?"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(("stop",))
        if self.exited(0.5) is None:
            self.process.kill()
            self.exited(2.0)
        with contextlib.suppress(OSError):
            self.conn.close()


def run_jobs(chunks, jobs: dict, timeout: float = DEFAULT_TIMEOUT, memory: int = DEFAULT_MEMORY):
    """Run each function's cases on the learner's code.

    Parameters
    ----------
    chunks : the learner's code (:class:`~cnnstep.app.checker.source.Chunk` s)
    jobs : function name -> list of cases (objects with id, setup, call, returns,
        inputs, cache_of)
    timeout : seconds each function's cases may take together
    memory : bytes of address space the child may add

    Returns
    -------
    (notes, runs) : the notes of loading the code, and name -> :class:`JobRun`
    """
    runs, notes, child = {}, None, None
    scratch = tempfile.TemporaryDirectory(prefix="cnnstep-check-")
    try:
        for name, cases in jobs.items():
            if child is None:
                try:
                    child = _Child(chunks, memory, timeout, scratch.name)
                except RuntimeError as exc:  # the code itself hangs or dies as it loads
                    for left in jobs:
                        runs.setdefault(left, JobRun(status="crashed", detail=f"your code could not be loaded: {exc}"))
                    break
                notes = child.notes if notes is None else notes
            if name not in child.present:
                why = "; ".join(notes) or "it is not a function"
                runs[name] = JobRun(
                    status="crashed", detail=f"{name} is defined but was not created as the code loaded: {why}"
                )
                continue
            run = runs[name] = JobRun()
            started = time.monotonic()
            deadline = started + timeout
            child.conn.send(("job", name, cases))
            while True:
                message = child.receive(deadline)
                if message is None:
                    run.status = "timeout" if child.exited(0.2) is None else "crashed"
                    if run.status == "crashed":
                        run.detail = child.ended(f"running case {run.current}")
                    child.process.kill()
                    child.close()
                    child = None
                    break
                if message[0] == "start":
                    run.current = message[1]
                elif message[0] == "case":
                    run.outcomes[message[1]] = message[2]
                elif message[0] == "done":
                    run.printed = message[2]
                    run.current = None
                    break
            run.seconds = time.monotonic() - started
    finally:
        if child is not None:
            child.close()
        scratch.cleanup()
    return notes or [], runs
