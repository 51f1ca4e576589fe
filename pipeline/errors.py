"""Errors a user can act on: each carries where the problem is and what is wrong.

The CLI prints them as one line and exits non-zero; it never shows a traceback
for these. Anything else escaping a stage is a bug in the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PipelineError(Exception):
    """A located, user-facing error (bad metadata, unknown source, broken input)."""

    message: str
    file: str = ""
    line: int | None = None
    field: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f" [{self.field}]"
        return f"{where}: {self.message}" if where else self.message
