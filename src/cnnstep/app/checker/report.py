"""The checker's report: a text table, an HTML table for Jupyter, JSON, and the teacher's CSV.

:class:`Report` is one learner's file (or namespace): the eight functions, each with
``status`` ("pass", "fail", "error", "timeout", "missing"), a one-sentence ``diagnosis``
(None when it passes) and its cases. ``to_dict`` is the ``--json`` schema::

    {"file": ..., "functions": [{"name", "status", "diagnosis", "cases": [...]}, ...],
     "passed": N, "total": 8}
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass, field

from cnnstep.nn.io import atomic_write

__all__ = ["FunctionReport", "Report", "write_csv", "folder_json", "folder_text"]

MARKS = {"pass": "✓", "fail": "✗", "error": "✗", "timeout": "⏱", "missing": "–"}


@dataclass
class FunctionReport:
    name: str
    status: str
    diagnosis: str | None = None
    cases: list = field(default_factory=list)
    details: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "diagnosis": self.diagnosis, "cases": self.cases}


@dataclass
class Report:
    """One learner's result. ``print(report)`` shows the table; in Jupyter it renders as HTML."""

    file: str
    functions: list
    notes: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(f.status == "pass" for f in self.functions)

    @property
    def total(self) -> int:
        return len(self.functions)

    @property
    def ok(self) -> bool:
        return self.passed == self.total

    def __getitem__(self, name: str) -> FunctionReport:
        for function in self.functions:
            if function.name == name:
                return function
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "functions": [f.to_dict() for f in self.functions],
            "passed": self.passed,
            "total": self.total,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=str)

    def table(self) -> str:
        width = max(len(f.name) for f in self.functions)
        lines = [f"{self.file}: {self.passed}/{self.total} functions pass"]
        for f in self.functions:
            lines.append(f"  {MARKS[f.status]} {f.name:<{width}}  {f.status:<7}  {f.diagnosis or ''}".rstrip())
        return "\n".join(lines)

    def details(self) -> str:
        blocks = []
        for f in self.functions:
            if f.details:
                blocks.append("\n".join([f"--- {f.name} ({f.status})", *f.details]))
        if self.notes:
            blocks.append("\n".join(["--- notes on loading your code", *self.notes]))
        return "\n\n".join(blocks)

    def __str__(self) -> str:
        details = self.details()
        return self.table() + ("\n\n" + details if details else "")

    def _repr_html_(self) -> str:
        rows = []
        for f in self.functions:
            colour = "#1a7f37" if f.status == "pass" else "#cf222e"
            detail = html.escape("\n".join(f.details))
            more = f"<details><summary>details</summary><pre>{detail}</pre></details>" if f.details else ""
            rows.append(
                f"<tr><td style='color:{colour}'>{MARKS[f.status]}</td><td><code>{html.escape(f.name)}</code></td>"
                f"<td>{html.escape(f.status)}</td><td style='text-align:left'>{html.escape(f.diagnosis or '')}"
                f"{more}</td></tr>"
            )
        head = f"<p><b>{html.escape(self.file)}</b>: {self.passed}/{self.total} functions pass</p>"
        return (
            head + "<table><thead><tr><th></th><th>function</th><th>status</th><th>diagnosis</th></tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>"
        )


def _write_atomically(path, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8", newline="") as out:
        out.write(text)


def csv_text(reports: list) -> str:
    """One row per file: the file, the passed count, then each function's status."""
    from cnnstep.app.exercise import FUNCTIONS

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "passed", "total", *FUNCTIONS])
    for report in reports:
        status = {f.name: f.status for f in report.functions}
        writer.writerow([report.file, report.passed, report.total, *(status.get(n, "") for n in FUNCTIONS)])
    return buffer.getvalue()


def write_csv(reports: list, path) -> None:
    _write_atomically(path, csv_text(reports))


def folder_json(reports: list, errors: list) -> dict:
    """The folder mode's JSON: every file's report, and the files that could not be read."""
    return {
        "files": [r.to_dict() for r in reports],
        "unreadable": [{"file": f, "error": e} for f, e in errors],
        "checked": len(reports),
        "all_passed": sum(r.ok for r in reports),
    }


def folder_text(reports: list, errors: list) -> str:
    """The folder mode's terminal output: one line per file, then the count."""
    lines = [
        f"{r.file}: {r.passed}/{r.total} functions pass  " + " ".join(f"{f.name}={f.status}" for f in r.functions)
        for r in reports
    ]
    lines += [f"{path}: not checked: {message}" for path, message in errors]
    lines.append(f"{len(reports)} files checked, {sum(r.ok for r in reports)} pass all eight")
    return "\n".join(lines)
