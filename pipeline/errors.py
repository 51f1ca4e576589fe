"""Errors a user can act on: each carries a code, where the problem is and what is wrong.

The CLI prints them one line each (``CODE file:line field F: message``, the form
``validate`` uses) and exits non-zero; it never shows a traceback for these. Anything
else escaping a stage is a bug in the pipeline. The codes are those of
``docs/validation-codes.md`` (section "Build"); ``BUILD_CODES`` is their catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

# code -> what it means (docs/validation-codes.md repeats each sentence; a test checks it).
BUILD_CODES: dict[str, str] = {
    "E100": "A metadata file cannot be read: it is not UTF-8 or not valid TOML.",
    "E101": "A required key is missing from a metadata file.",
    "E102": "A metadata file has a key the tool does not know (often a typing mistake).",
    "E103": "A value in a metadata file has the wrong type.",
    "E104": "A value in a metadata file is not one of the allowed values.",
    "E105": "A date in a metadata file is not a calendar-valid ISO 8601 date.",
    "E106": "A value in a metadata file breaks a constraint (empty, too small, wrong form, "
            "a character XML cannot carry).",
    "E107": "A source's original file is missing, is a symbolic link or lies outside its "
            "source folder.",
    "E108": "A source's original file is not UTF-8 or holds a character XML cannot carry "
            "(NUL, control characters).",
    "E109": "The sources folder is not laid out as expected (missing folder, bad folder name, "
            "missing source.toml).",
    "E110": "An id is defined twice in the registry or in an outline.",
    "E111": "Metadata names a person, place, letter or unit id that does not exist.",
    "E200": "A cleaning instruction in source.toml does not fit the original text.",
    "E201": "Two removal blocks ([[clean.remove]]) overlap without one holding the other.",
    "E202": "Two emendations ([[clean.emendations]]) apply to overlapping text.",
    "E203": "Text conservation failed: characters were neither published nor logged.",
    "E300": "The outline (segment.toml) does not fit the cleaned text.",
    "E400": "The notes of a source cannot be read as its metadata says.",
    "E410": "A letter, or a decision about it in letters.toml, does not fit the text.",
    "E450": "The dataset metadata (dataset.toml) cannot make a valid package or CMIF file.",
    "E500": "The output path (--out) is an existing file, not a folder.",
    "E501": "The output folder holds files this tool did not write; it is left untouched.",
    "E502": "The output folder is, holds, or lies inside the sources folder, or is or holds "
            "the repository.",
    "E503": "Another build is writing the same output folder.",
    "E504": "The output folder cannot be written (permissions, a read-only or missing parent).",
    "E505": "The dataset folder to release is not the output of the current build.",
    "W500": "A build killed during its last step left the old dataset aside; it was put back.",
}


@dataclass
class PipelineError(Exception):
    """A located, user-facing error (bad metadata, unknown source, broken input).

    ``code`` is from ``BUILD_CODES``; a stage gives a generic code of its family to an
    error raised without one. ``file`` is the file the user must edit, ``line`` its line.
    """

    message: str
    file: str = ""
    line: int | None = None
    field: str = ""
    code: str = ""

    def __reduce__(self):
        # Exception pickles its args, which a dataclass does not set: errors raised in a
        # worker process must reach the parent whole.
        return (PipelineError, (self.message, self.file, self.line, self.field, self.code))

    def location(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f" field {self.field}" if where else f"field {self.field}"
        return where

    def render(self) -> str:
        """``CODE file:line field F: message`` (the parts that are known)."""
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        return f"{self.code} {text}" if self.code else text

    def __str__(self) -> str:
        # The older form, ``file:line [field]: message``, kept for callers that read it.
        where = self.file + (f":{self.line}" if self.line is not None else "")
        where += f" [{self.field}]" if self.field else ""
        return f"{where}: {self.message}" if where else self.message


class BuildFailed(PipelineError):
    """Every problem of the first stage that had any: the build stops after that stage.

    A PipelineError itself (its message joins the problems), so callers that catch one
    error catch a stage's worth."""

    stage: str
    problems: list[PipelineError]

    def __init__(self, stage: str, problems: list[PipelineError]) -> None:
        flat: list[PipelineError] = []
        for problem in problems:
            flat += problem.problems if isinstance(problem, BuildFailed) else [problem]
        first = flat[0] if flat else PipelineError("")
        super().__init__("; ".join(str(p) for p in flat), file=first.file, line=first.line,
                         field=first.field, code=first.code)
        self.stage = stage
        self.problems = flat

    def __reduce__(self):
        return (BuildFailed, (self.stage, self.problems))

    def __str__(self) -> str:
        return self.message

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)


def with_code(error: PipelineError, code: str) -> PipelineError:
    """``error`` with ``code`` unless it already has one."""
    if not error.code:
        error.code = code
    return error
