"""Run a learner's functions on the checker's cases in a child process.

The child (a fresh interpreter, so nothing of the parent's state leaks in) runs with one
BLAS thread, an address-space limit (``RLIMIT_AS``, where the platform has it) and a
scratch working folder (removed afterwards); its standard streams are the null device and
Python's ``print`` goes to a counter, so nothing the learner's code prints reaches the
terminal. Every exception, ``SystemExit`` included, comes back as data (see
:mod:`~cnnstep.app.checker.runner`). The pipes to the child are POSIX file descriptors.

What is enforced, and how far:

- *Processes.* The child leads its own session and process group; the whole group is
  killed (``SIGKILL``) when a function's job ends, runs out of time, and when the check
  closes, so what the learner's code forks dies with it. A process that leaves the group
  on purpose (``os.setsid()``) escapes this: best effort against accidents, not a jail.
- *Network.* Where ``unshare --net --map-root-user`` works (Linux with unprivileged user
  namespaces; :func:`network_isolated` says), the child runs in a network namespace of
  its own that has no interface but a loopback that is down, so no process it starts
  reaches any network either. Elsewhere only Python's ``socket`` module is replaced in the
  child, which a subprocess escapes: best effort. In both cases, the learner's own calls to
  ``socket`` fail with "network access is refused".
- *What comes back.* The child turns every value into plain data (exact built-in numbers,
  strings and containers, plain ndarrays; anything else as a description), and the parent
  unpickles with :class:`_PlainUnpickler`, which builds nothing but those types, so a value
  of the learner's never runs code in the checker's process. A message that cannot be read
  is reported as that function's error.

Each function is one *job*: all its cases, under one time limit. A job that runs past
it is reported as ``timeout``; the child is killed and a fresh one runs the next job, so
an infinite loop in one function never stops the others from being checked.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from cnnstep.app.checker.runner import LineCounter, error_data, innermost, run_case

__all__ = ["JobRun", "run_jobs", "network_isolated", "DEFAULT_TIMEOUT", "DEFAULT_MEMORY"]

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
                frame = innermost(err)
                line = frame[1] if frame is not None else node.lineno
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


_NETWORK_ISOLATION = ("unshare", "--net", "--map-root-user")


@functools.cache
def network_isolated() -> bool:
    """Whether the child can run in a network namespace of its own (``unshare`` works here)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        done = subprocess.run(
            [*_NETWORK_ISOLATION, sys.executable, "-c", "pass"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=STARTUP_SECONDS,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


# What unpickling a message of the child's may build: NumPy's arrays, dtypes and scalars, the
# checker's own description of an unknown value and complex numbers. Nothing else is looked up.
_PLAIN_GLOBALS = frozenset(
    {
        ("builtins", "complex"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("cnnstep.app.checker.runner", "Opaque"),
    }
)


class _PlainUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain data (see :data:`_PLAIN_GLOBALS`)."""

    def find_class(self, module, name):
        if (module, name) not in _PLAIN_GLOBALS:
            raise pickle.UnpicklingError(f"the checking process sent a {module}.{name}, which is not plain data")
        return super().find_class(module, name)


def plain_loads(data: bytes):
    """Unpickle ``data`` building nothing but plain data (raises on anything else)."""
    return _PlainUnpickler(io.BytesIO(data)).load()


class Unreadable:
    """A message of the child's that could not be read, and why."""

    def __init__(self, why: str):
        self.why = why


def _group_members(group: int) -> list:
    """The ids of the processes in process group ``group``, as far as /proc tells."""
    members = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            if len(fields) > 2 and int(fields[2]) == group:
                members.append(int(entry))
    return members


class _Child:
    def __init__(self, chunks, memory: int, timeout: float, folder: str):
        from multiprocessing.connection import Connection

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        command = [sys.executable, "-c", _CHILD_CODE, str(to_child_r), str(from_child_w), str(memory)]
        if network_isolated():
            command = [*_NETWORK_ISOLATION, *command]
        self.process = subprocess.Popen(
            command,
            pass_fds=(to_child_r, from_child_w),
            start_new_session=True,  # its own process group, killed as one (see kill_group)
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_child_environment(),
            cwd=folder,  # whatever the code writes lands in a scratch folder, removed afterwards
        )
        self.group = self.process.pid  # a session leader's group id is its process id
        os.close(to_child_r)
        os.close(from_child_w)
        self.conn = _Duplex(Connection(from_child_r, writable=False), Connection(to_child_w, readable=False))
        self.conn.send(("load", chunks))
        message = self.receive(time.monotonic() + timeout + STARTUP_SECONDS)
        if not (
            isinstance(message, tuple)
            and len(message) == 4
            and message[0] == "loaded"
            and all(isinstance(part, list) and all(isinstance(t, str) for t in part) for part in message[1::2])
        ):
            self.close()
            raise RuntimeError(self.ended("loading the code"))
        self.notes, self.present = message[1], message[3]

    def receive(self, deadline: float):
        """The next message: None past the deadline or when the child is gone, an
        :class:`Unreadable` when what it sent is not a message of plain data."""
        try:
            if not self.conn.poll(max(deadline - time.monotonic(), 0)):
                return None
            data = self.conn.recv_bytes()
        except (EOFError, OSError):
            return None
        try:
            message = plain_loads(data)
        except Exception as exc:  # whatever the bytes make loads raise, it is the learner's doing
            return Unreadable(" ".join(f"{type(exc).__name__}: {exc}".split())[:300])
        if not (isinstance(message, tuple) and message and isinstance(message[0], str)):
            return Unreadable(f"a {type(message).__name__} instead of a message")
        return message

    def kill_strays(self) -> None:
        """Kill the processes the child started that are still in its group, the child spared
        (Linux: read from /proc; elsewhere they live until :meth:`kill_group` at the end)."""
        for pid in _group_members(self.group):
            if pid != self.process.pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def kill_group(self) -> None:
        """Kill the child and every process it started that is still in its group."""
        with contextlib.suppress(OSError):
            os.killpg(self.group, signal.SIGKILL)

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
        # killed before it is waited for, so that its id (the group's) cannot have been reused
        self.kill_group()  # the child, if it is still there, and whatever it left running
        self.exited(2.0)
        with contextlib.suppress(OSError):
            self.conn.close()


def _well_formed(message) -> bool:
    """Whether a message read from the child has the shape the loop below expects."""
    if message is None or isinstance(message, Unreadable):
        return True  # handled on their own
    kind = message[0]
    if kind == "start":
        return len(message) == 2 and isinstance(message[1], str)
    if kind == "case":
        return len(message) == 3 and isinstance(message[1], str) and isinstance(message[2], dict)
    if kind == "done":
        return len(message) == 3 and isinstance(message[2], int)
    return False


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
                if isinstance(message, Unreadable) or not _well_formed(message):
                    run.status = "crashed"
                    why = message.why if isinstance(message, Unreadable) else f"a malformed {message[0]!r} message"
                    run.detail = f"the checking process sent what the checker cannot read ({why})" + (
                        f" while running case {run.current}" if run.current else ""
                    )
                    message = None
                elif message is None:
                    run.status = "timeout" if child.exited(0.2) is None else "crashed"
                    if run.status == "crashed":
                        run.detail = child.ended(f"running case {run.current}")
                if message is None:
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
                    child.kill_strays()
                    break
            run.seconds = time.monotonic() - started
    finally:
        if child is not None:
            child.close()
        scratch.cleanup()
    return notes or [], runs
