"""What the checker runs of a learner's work: the imports and the function definitions.

From a ``.py`` file, or the code cells of an ``.ipynb`` notebook, it keeps the top-level
``import``/``from … import`` statements and the ``def``/``class`` blocks, and blanks out
every other line, so that line numbers stay the learner's own. IPython magics (``%…``),
cell magics (``%%…``: the whole cell, unless its body is Python as under ``%%time``),
shell escapes (``!…``) and help queries (``…?``) are dropped before parsing; the learner's
test cells, prints and plots are top-level statements and are never run. Imports of
plotting and notebook-display libraries are dropped too.

:func:`from_namespace` does the same for functions already defined in a running
notebook (``cnnstep.check(globals())``): their source comes from :mod:`inspect`.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import json
import os
import re
import sys
import textwrap
import types
from dataclasses import dataclass, field

from cnnstep.app.exercise import FUNCTIONS

__all__ = ["Chunk", "Source", "SourceError", "load", "from_text", "from_namespace"]

KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# Display and plotting: never needed by the eight functions, slow to import in the sandbox.
DROPPED_IMPORTS = ("matplotlib", "IPython", "ipywidgets", "seaborn", "plotly", "PIL", "h5py", "cnnstep")


# Cell magics whose body is Python (their first line is dropped like any magic line); every
# other cell magic (%%bash, %%html, %%writefile, ...) drops its whole cell.
PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")
HELP_QUERY = re.compile(r"[\w.]+\?{1,2}")  # "np.pad?" or "zero_pad??"; a comment ending in "?" is not one


class SourceError(ValueError):
    """A learner's file that cannot be read: missing, not Python, or a syntax error.
    The message names the file (and the notebook cell) and the line."""


@dataclass(frozen=True)
class Chunk:
    """One unit of code: a file or a notebook cell, with dropped lines left blank."""

    label: str
    text: str


@dataclass(frozen=True)
class Source:
    """The learner's code as the sandbox runs it: chunks executed in order in one namespace."""

    path: str
    chunks: tuple
    defined: frozenset = field(default_factory=frozenset)
    notes: tuple = ()


def _blank_magics(text: str) -> str | None:
    """The cell with IPython-only lines blanked; None for a cell magic cell."""
    lines = text.split("\n")
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("%%") and first.split()[0] not in PYTHON_CELL_MAGICS:
        return None
    kept = []
    for line in lines:
        stripped = line.strip()
        ipython_only = stripped.startswith(("%", "!", "?")) or HELP_QUERY.fullmatch(stripped) is not None
        kept.append("" if ipython_only else line)
    return "\n".join(kept)


def _dropped_import(node) -> bool:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        names = [node.module or ""]
    else:
        return False
    return all(name.split(".")[0] in DROPPED_IMPORTS for name in names)


def _keep_definitions(text: str, label: str) -> tuple[str, set]:
    """``text`` with every line outside a kept statement blanked, and the names it defines."""
    try:
        tree = ast.parse(text, filename=label)
    except SyntaxError as exc:
        where = f"{label}, line {exc.lineno}" if exc.lineno else label
        raise SourceError(f"{where}: syntax error: {exc.msg}") from None
    lines = text.split("\n")
    keep = [False] * len(lines)
    defined = set()
    for node in tree.body:
        if not isinstance(node, KEPT) or _dropped_import(node):
            continue
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        for index in range(start - 1, node.end_lineno):
            keep[index] = True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defined.add(node.name)
    return "\n".join(line if kept else "" for line, kept in zip(lines, keep, strict=False)), defined


def from_text(text: str, label: str, notebook_cells: list | None = None) -> Source:
    """A Source from a ``.py`` text, or from the code cells of a notebook: (number, text) pairs."""
    cells = [(label, text)] if notebook_cells is None else [(f"{label}, cell {n}", t) for n, t in notebook_cells]
    chunks, defined = [], set()
    for cell_label, cell_text in cells:
        cleaned = _blank_magics(cell_text) if notebook_cells is not None else cell_text
        if cleaned is None:
            continue
        kept, names = _keep_definitions(cleaned, cell_label)
        defined |= names
        if kept.strip():
            chunks.append(Chunk(cell_label, kept))
    return Source(label, tuple(chunks), frozenset(defined))


def _notebook_cells(raw: str, label: str) -> list:
    try:
        notebook = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{label}, line {exc.lineno}: not a notebook (invalid JSON: {exc.msg})") from None
    if not isinstance(notebook, dict):
        raise SourceError(f"{label}: not a notebook (a JSON object with 'cells' expected)")
    cells = notebook.get("cells")
    if cells is None and notebook.get("worksheets"):  # nbformat 3
        cells = [dict(c, source=c.get("input", "")) for c in notebook["worksheets"][0].get("cells", [])]
    if not isinstance(cells, list):
        raise SourceError(f"{label}: not a notebook (no list of 'cells')")
    out = []
    for number, cell in enumerate(cells, start=1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            text = cell.get("source", "")
            out.append((number, "".join(text) if isinstance(text, list) else str(text)))
    return out


def load(path) -> Source:
    """Read a learner's ``.py`` file or ``.ipynb`` notebook; raise SourceError when it cannot be."""
    path = os.fspath(path)
    label = os.path.basename(path) or path
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".py", ".ipynb"):
        raise SourceError(f"{path}: not a Python file or notebook (expected a .py or .ipynb file)")
    try:
        with open(path, encoding="utf-8") as handle:
            raw = handle.read()
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if ext == ".py":
        return from_text(raw, label)
    return from_text(raw, label, notebook_cells=_notebook_cells(raw, label))


# --------------------------------------------------------------------------- a running notebook


def _global_names(code: types.CodeType) -> set:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _function_chunk(func) -> Chunk:
    lines, first = inspect.getsourcelines(func)
    label = os.path.basename(func.__code__.co_filename) or func.__code__.co_filename
    # blank lines above keep the learner's line numbers in a traceback
    return Chunk(label, "\n" * (first - 1) + textwrap.dedent("".join(lines)))


def _importable(value) -> bool:
    """A library's function or class, found again by ``from module import name``."""
    module, name = getattr(value, "__module__", None), getattr(value, "__name__", None)
    if not (isinstance(module, str) and isinstance(name, str)) or module in ("__main__", "builtins"):
        return False
    loaded = sys.modules.get(module)
    return loaded is not None and getattr(loaded, name, None) is value


def from_namespace(namespace, label: str = "<namespace>") -> Source:
    """A Source from live functions: ``globals()``, a module, a dict of functions, or one function.

    Each of the eight found is taken by its source; the modules, constants and other
    functions it refers to are brought along (imports by module name, constants by value).
    """
    if isinstance(namespace, types.FunctionType):
        namespace = {namespace.__name__: namespace}
    elif isinstance(namespace, types.ModuleType):
        label = getattr(namespace, "__file__", None) or namespace.__name__
        label = os.path.basename(label)
        namespace = vars(namespace)
    elif not isinstance(namespace, dict):
        raise TypeError(
            f"check: expected globals(), a module, a dict of functions or one function, got {type(namespace).__name__}"
        )
    chunks, defined, notes, seen = [], set(), [], set()
    pending = [name for name in FUNCTIONS if callable(namespace.get(name))]
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        func = namespace[name]
        if not isinstance(func, types.FunctionType):
            notes.append(f"{name}: not a Python function ({type(func).__name__}); left out")
            continue
        try:
            chunk = _function_chunk(func)
        except (OSError, TypeError):
            notes.append(f"{name}: its source cannot be read (defined with exec or a lambda?); left out")
            continue
        imports = []
        for ref in sorted(_global_names(func.__code__) - seen):
            value = func.__globals__.get(ref)
            if isinstance(value, types.ModuleType):
                imports.append(Chunk("<imports>", f"import {value.__name__} as {ref}"))
            elif isinstance(value, types.FunctionType) and ref not in FUNCTIONS:
                namespace = {**namespace, ref: value}
                pending.append(ref)
            elif isinstance(value, (int, float, str, bool, tuple)) and ref not in vars(builtins):
                imports.append(Chunk("<constants>", f"{ref} = {value!r}"))
            elif _importable(value):  # e.g. `from numpy import zeros`
                imports.append(Chunk("<imports>", f"from {value.__module__} import {value.__name__} as {ref}"))
        chunks.extend(imports)
        chunks.append(chunk)
        if name in FUNCTIONS:
            defined.add(name)
    return Source(label, tuple(chunks), frozenset(defined), tuple(notes))
