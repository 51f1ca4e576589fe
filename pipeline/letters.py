"""Letters stage: the metadata of every letter, read from what the book prints.

Every unit of type ``letter`` in a source's unit tree becomes one row of the
``letters`` table. Its header gives the number, sender, addressee, form and language, in
one of the forms the source's ``[letters]`` table declares (for papers)::

    Letter 16: Serge to Konrad Knudsen¹⁸² (postcard–in Russian)
    Letter 3: Trotsky to Serge (telegram, in French)
    Victor Serge. Letter to Andrès Nin⁴¹
    Leon Trotsky. Extract from letter to Wendelin Thomas, 6 July 1937⁴⁸

A heading that is only a number ("Letter 35") is followed by an editor's headnote and
then the correspondents' line ("Trotsky to Serge (in French)"). The letter's opener
(address lines, a dateline, the salutation) gives its date and place; failing that, its
foot (a postcard dated after the signature, an address under it); failing that, a date
in the heading. The parts of the letter (opener, body, closer, postscripts) are read
once, by ``anatomy.read_anatomy``; the same reading serves the TEI stage
(``Letter.anatomy``). Printed dates are read by ``dates``. Names resolve to the persons
of the hand-made registry through their ``name`` and ``forms``, by the one name index
(``names.NameIndex``: as printed, case included; a form two persons share resolves to
neither); places to the places registry through their names (accents and case ignored)
and the source's ``[place_forms]``.

What a header cannot give is an editorial decision recorded per source in
``letters.toml``, each with the words of the book that support it, checked against the
text at every build: a printed date the book's notes correct (the note is cited, and
its text must contain the quote), a form the headnote states, a place inferred from
other letters (with the reason), and what the anatomy cannot decide (an attestation
under the signature, the editor's "[copy unsigned]", why a letter has no closer).
Anything the parser cannot read is collected as a
problem naming the letter and its line in the cleaned text; any problem fails the
build rather than being guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from . import anatomy
from .anatomy import (
    SALUTATION,
    SHORT_LINE_WORDS,
    Anatomy,
    AnatomyDecision,
    Dateline,
    Paragraph,
    note_marks,
    parse_dateline,
)
from .conventions import LANGUAGE_CODES, fold
from .conventions import strip_marks as plain
from .dates import DATE, ISO_DATE
from .dates import DATE_PATTERN as _DATE
from .dates import iso_date as _iso
from .errors import BuildFailed, PipelineError
from .names import NameIndex
from .notes import NotesResult
from .package import Table, letter_tei_path, table_schema
from .segment import SegmentedSource, Unit, paragraphs
from .sources import Source, read_toml

DECISIONS_FILE = "letters.toml"
INCIPIT_WORDS = 10
OPENER_MAX_PARAGRAPHS = 8
PUBLISHED = re.compile(r"^(?:first\s+)?published\b", re.I)


# --- how a source prints its letters' headings -------------------------------------------

# The keys of a source's [letters] table (source.toml; schema/sources/source.json): each
# form is a regular expression over a heading's plain text, with the named groups shown.
HEADING_GROUPS = {"heading": {"sender", "addressee", "qualifiers"},
                  "number_only": {"number"},
                  "document": {"sender", "addressee"}}
DATE_PLACEHOLDER = "{date}"


@dataclass(frozen=True)
class HeadingForms:
    """The forms of a letter heading a source prints (its ``[letters]`` table), and the
    types of a letter's sub-units that are not the letter's own text."""

    heading: re.Pattern[str] | None = None        # "Letter 12: Serge to Trotsky (in French)"
    number_only: re.Pattern[str] | None = None    # "Letter 35", the correspondents later
    document: re.Pattern[str] | None = None       # "Serge, Letter to Trotsky, 5 May 1936"
    not_the_letter: frozenset[str] = frozenset()

    def read(self, text: str) -> Header | None:
        """Read a letter heading; None if it is none of the source's forms."""
        line = plain(text)
        m = self.heading.match(line) if self.heading else None
        if m:
            number = m.groupdict().get("number")
            return Header(int(number) if number else None, m["sender"].strip(),
                          m["addressee"].strip(), m["qualifiers"])
        m = self.number_only.match(line) if self.number_only else None
        if m:
            return Header(int(m["number"]), "", "")
        m = self.document.match(line) if self.document else None
        if m:
            date_text = m.groupdict().get("date") or ""
            iso = _iso(DATE.fullmatch(date_text)) if date_text else ""
            return Header(None, m["sender"].strip(), m["addressee"].strip(), "",
                          bool(m.groupdict().get("extract")), date_text, iso or "")
        return None


def heading_forms(source: Source) -> HeadingForms:
    """The compiled ``[letters]`` table of a source. In ``document``, ``{date}`` stands for
    a printed date (``dates.DATE_PATTERN``), captured as the group ``date``."""
    table = source.extra.get("letters", {})
    where = str(source.metadata_path)
    compiled: dict[str, re.Pattern[str]] = {}
    for key, groups in HEADING_GROUPS.items():
        if key not in table:
            continue
        value = str(table[key]).replace(
            DATE_PLACEHOLDER, "(?P<date>" + _DATE.replace("?P<", "?P<h") + ")")
        try:
            compiled[key] = re.compile(value)
        except re.error as exc:
            raise PipelineError(f"not a regular expression: {exc}", file=where,
                                field=f"letters.{key}", code="E106") from None
        missing = groups - set(compiled[key].groupindex)
        if missing:
            raise PipelineError(f"the pattern lacks the named groups {sorted(missing)}",
                                file=where, field=f"letters.{key}", code="E106")
    return HeadingForms(compiled.get("heading"), compiled.get("number_only"),
                        compiled.get("document"),
                        frozenset(table.get("not_the_letter", ())))


@cache
def field_names(table: str) -> tuple[str, ...]:
    """The fields of a table, in schema order (``schema/tables`` is their one definition)."""
    return tuple(f["name"] for f in table_schema(table)["fields"])


@cache
def forms() -> tuple[str, ...]:
    """The closed list of letter forms, read from the letters table schema."""
    field_def = next(f for f in table_schema("letters")["fields"] if f["name"] == "form")
    return tuple(field_def["constraints"]["enum"])


# --- small text helpers ----------------------------------------------------------------

def _lines(text: str) -> str:
    """A printed block as one string: note marks removed, its lines joined by ' / '."""
    lines = [plain(ln) for ln in text.split("\n")]
    return " / ".join(ln for ln in lines if ln)


def _words(text: str) -> int:
    return len(text.split())


# --- registries ---------------------------------------------------------------------------

@dataclass
class Places:
    """Place names (and a source's printed forms) → place ids, with the part_of chains."""

    index: dict[str, str]
    part_of: dict[str, str]

    @classmethod
    def of(cls, places: list[dict[str, Any]], place_forms: dict[str, str]) -> Places:
        index = {fold(p["name"]): p["place_id"] for p in places}
        index.update({fold(form): pid for form, pid in place_forms.items()})
        return cls(index, {p["place_id"]: p.get("part_of", "") for p in places})

    def _within(self, inner: str, outer: str) -> bool:
        seen = set()
        while inner and inner not in seen:
            if inner == outer:
                return True
            seen.add(inner)
            inner = self.part_of.get(inner, "")
        return False

    def resolve(self, written: str) -> tuple[str | None, str]:
        """The most specific registry place among a printed place's parts."""
        parts = [p for p in re.split(r"\s*(?:/|,|–|—)\s*", written) if p.strip()]
        found = {self.index[fold(p)] for p in parts if fold(p) in self.index}
        if not found:
            return None, (f"place {written!r}: none of its parts is a place in "
                          f"sources/_registry/places.toml or in [place_forms]")
        inner = [f for f in found if all(self._within(f, other) for other in found)]
        if len(inner) != 1:
            return None, f"place {written!r} names unrelated places: {', '.join(sorted(found))}"
        return inner[0], ""


# --- editorial decisions (letters.toml) ---------------------------------------------------

@dataclass(frozen=True)
class DateDecision:
    """A corrected date (``note`` cites the book's note) or an inferred one (``reason``)."""

    date: str
    cert: str
    note: int | None = None
    notes_unit: str = ""
    quote: str = ""
    reason: str = ""


@dataclass(frozen=True)
class LetterDecision:
    """What letters.toml says about one letter."""

    date: DateDecision | None = None
    form: str = ""
    form_quote: str = ""
    place: str = ""
    place_reason: str = ""
    out_of_sequence: str = ""
    anatomy: AnatomyDecision = AnatomyDecision()
    no_closer_quote: str = ""


@dataclass
class Decisions:
    """A source's letters.toml: decisions per letter, and printed place forms."""

    path: Path
    letters: dict[str, LetterDecision] = field(default_factory=dict)
    place_forms: dict[str, str] = field(default_factory=dict)


LETTER_KEYS = {"date", "date_cert", "date_note", "date_notes", "date_quote", "date_reason",
               "form", "form_quote", "date_out_of_sequence", "attestation", "unsigned",
               "no_closer", "no_closer_quote"}


def load_decisions(source: Source) -> Decisions:
    """Read ``letters.toml`` of a source folder (absent: no decisions). Unit ids in it are
    relative to the source, as in the outline: ``letter-12`` is ``papers-letter-12``."""
    path = source.folder / DECISIONS_FILE

    def full(relative_id: str) -> str:
        return f"{source.source_id}-{relative_id}"

    decisions = Decisions(path)
    if not path.is_file():
        return decisions
    data = read_toml(path)
    unknown = set(data) - {"letter", "place_inference", "place_forms"}
    if unknown:
        raise PipelineError(f"unknown tables {sorted(unknown)}", file=str(path))
    decisions.place_forms = dict(data.get("place_forms", {}))
    entries: dict[str, dict[str, Any]] = {k: dict(v) for k, v in data.get("letter", {}).items()}
    for relative_id, entry in entries.items():
        where, letter_id = f"letter.{relative_id}", full(relative_id)
        if set(entry) - LETTER_KEYS:
            raise PipelineError(f"unknown keys {sorted(set(entry) - LETTER_KEYS)}",
                                file=str(path), field=where)
        date = None
        if "date" in entry:
            if not ISO_DATE.match(str(entry["date"])):
                raise PipelineError("date must be ISO 8601", file=str(path), field=f"{where}.date")
            if entry.get("date_cert") not in ("high", "low"):
                raise PipelineError("date_cert must be 'high' or 'low'", file=str(path),
                                    field=f"{where}.date_cert")
            if "date_note" in entry:
                if not entry.get("date_notes") or not entry.get("date_quote"):
                    raise PipelineError("a correction needs date_notes (the notes unit) and "
                                        "date_quote (words of the note)", file=str(path),
                                        field=where)
            elif not entry.get("date_reason"):
                raise PipelineError("a date needs date_note (a correction) or date_reason "
                                    "(an inference)", file=str(path), field=where)
            notes_unit = full(entry["date_notes"]) if entry.get("date_notes") else ""
            date = DateDecision(str(entry["date"]), entry["date_cert"], entry.get("date_note"),
                                notes_unit, entry.get("date_quote", ""),
                                entry.get("date_reason", ""))
        if bool(entry.get("no_closer")) != bool(entry.get("no_closer_quote")):
            raise PipelineError("no_closer (why) needs no_closer_quote (the book's words), and "
                                "the other way round", file=str(path), field=where)
        if "form" in entry and not entry.get("form_quote"):
            raise PipelineError("a form needs form_quote (the words of the book that state it)",
                                file=str(path), field=where)
        decisions.letters[letter_id] = LetterDecision(
            date=date, form=entry.get("form", ""), form_quote=entry.get("form_quote", ""),
            out_of_sequence=entry.get("date_out_of_sequence", ""),
            anatomy=AnatomyDecision(entry.get("attestation", ""), entry.get("unsigned", ""),
                                    entry.get("no_closer", "")),
            no_closer_quote=entry.get("no_closer_quote", ""))
    for i, group in enumerate(data.get("place_inference", [])):
        where = f"place_inference[{i}]"
        if set(group) - {"letters", "place", "reason"} or not group.get("letters") \
                or not group.get("place") or not group.get("reason"):
            raise PipelineError("needs exactly: letters, place, reason", file=str(path),
                                field=where)
        for letter_id in map(full, group["letters"]):
            old = decisions.letters.get(letter_id, LetterDecision())
            if old.place:
                raise PipelineError(f"{letter_id} has two inferred places", file=str(path),
                                    field=where)
            decisions.letters[letter_id] = LetterDecision(
                old.date, old.form, old.form_quote, group["place"], group["reason"],
                old.out_of_sequence, old.anatomy, old.no_closer_quote)
    return decisions


# --- reading one letter -------------------------------------------------------------------

@dataclass(frozen=True)
class LetterProblem:
    """Something in a letter the parser cannot read; it fails the build."""

    letter_id: str
    line: int
    message: str
    file: str = ""    # set when the fault is in a metadata file (letters.toml), with field
    field: str = ""

    def __str__(self) -> str:
        return f"{self.letter_id} (cleaned text line {self.line}): {self.message}"


@dataclass(frozen=True)
class Header:
    """What a letter's heading (and correspondents' line) prints."""

    number: int | None
    sender: str
    addressee: str
    qualifiers: str = ""
    extract: bool = False
    date_as_written: str = ""
    date: str = ""


@dataclass
class Letter:
    """One row of the letters table, with what the TEI stage may also want."""

    letter_id: str
    number: int | None
    sender_id: str
    addressee_id: str
    salutation: str
    date: str
    date_as_written: str
    date_cert: str
    date_source: str
    place_id: str
    place_as_written: str
    place_cert: str
    place_reason: str
    language: str
    form: str
    extract: bool
    publication: str
    incipit: str
    date_position: str = ""       # head, foot or heading: where the printed date stands
    date_notes: tuple[int, ...] = ()  # note marks printed on the dateline
    place_position: str = ""
    headnote: str = ""            # the editor's note printed before the letter, if any
    anatomy: Anatomy = Anatomy(())   # the letter's printed parts (anatomy.read_anatomy)
    addressee_ids: tuple[str, ...] = ()   # the heading's addressee, then others saluted

    @property
    def tei_path(self) -> str:
        return letter_tei_path(self.letter_id)

    def row(self) -> dict[str, Any]:
        """The letter as a row of the letters table (keys: the schema's fields)."""
        return {name: getattr(self, name) for name in field_names("letters")}


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _letter_paragraphs(seg: SegmentedSource, letter: Unit, headings: HeadingForms
                       ) -> tuple[list[Paragraph], str]:
    """The letter's own paragraphs (enclosures and headnote units left out), and the
    text of its headnote units."""
    excluded: list[tuple[int, int]] = []
    headnote = []
    for unit in seg.descendants(letter):
        if unit.type in headings.not_the_letter:
            excluded.append((unit.start, unit.end))
            if unit.type == "introduction":
                headnote.append(seg.text_of(unit))
    span = seg.text[letter.start:letter.end]
    paras = [Paragraph(letter.start + s, letter.start + e, span[s:e]) for s, e in paragraphs(span)
             if not any(a <= letter.start + s < b for a, b in excluded)]
    return paras, "".join(headnote)


def parse_qualifiers(qualifiers: str, form_values: tuple[str, ...]
                      ) -> tuple[str, str, str, list[str]]:
    """The header's parenthesis: (language, form, publication, parts not understood)."""
    language = form = publication = ""
    unread = []
    for segment_ in (s.strip() for s in qualifiers.split(";")):
        if PUBLISHED.match(segment_):
            publication = segment_
            continue
        for part in (p.strip() for p in re.split(r"\s*[,–—]\s*", segment_) if p.strip()):
            lang = re.fullmatch(r"in\s+(\w+)", part)
            if lang and lang[1].casefold() in LANGUAGE_CODES:
                language = LANGUAGE_CODES[lang[1].casefold()]
            elif part.casefold().replace(" ", "-") in form_values:
                form = part.casefold().replace(" ", "-")
            else:
                unread.append(part)
    return language, form, publication, unread


@dataclass
class _Context:
    letter_id: str
    text: str
    names: NameIndex
    places: Places
    problems: list[LetterProblem]

    def problem(self, offset: int, message: str) -> None:
        self.problems.append(LetterProblem(self.letter_id, _line_of(self.text, offset), message))


SALUTED = re.compile(r"^(?:My\s+)?(?:Dear(?:est)?|Esteemed)\s+(?P<names>.+?),?$")
# Words a salutation puts before a name, or uses instead of one ("Dear comrade,").
SALUTE_WORDS = re.compile(r"^(?:(?:comrades?|friends?)\s+)+", re.I)


def saluted(salutation: str, names: NameIndex) -> list[str | None]:
    """The persons a salutation names, one per name it prints ("Dear Leon Davidovich and
    Natalia Ivanovna," = trotsky, sedova); None for a name that does not resolve; [] for
    a salutation that names nobody ("Dear comrade,")."""
    m = SALUTED.match(salutation)
    parts = [part.strip() for part in re.split(r"\s+(?:and|&)\s+|,\s*", m["names"])
             if part.strip()] if m else []
    found: list[str | None] = []
    for part in parts:
        pid = names.resolve(part)[0] or names.resolve(SALUTE_WORDS.sub("", part))[0]
        if pid is None and not SALUTE_WORDS.sub("", part + " "):
            continue                        # "comrade", "friends": no name
        found.append(pid)
    return found


def addressees(addressee_id: str, salutation: str, names: NameIndex) -> tuple[str, ...]:
    """The heading's addressee, then every other person a salutation names when it names
    several ("Dear Leon Davidovich and Natalia Ivanovna,"): all its names must resolve."""
    found = [addressee_id] if addressee_id else []
    ids = saluted(salutation, names)
    if len(ids) >= 2 and all(ids):
        found += [i for i in ids if i and i not in found]
    return tuple(found)


def place_lines(parts: list[str]) -> str:
    """A printed place or address as ``place_as_written``: its printed lines joined by
    ' / ', each without the punctuation that ends the printed line (a comma, or a full
    stop that does not end an abbreviation such as "St." or "Pl.")."""
    lines = [line.strip() for part in parts for line in part.split(" / ") if line.strip()]
    trimmed = []
    for line in lines:
        line = line.rstrip(" ,")
        if line.endswith(".") and len(line.split()[-1]) > 4:
            line = line[:-1].rstrip(" ,")
        trimmed.append(line)
    return " / ".join(line for line in trimmed if line)


def is_person(text: str, person_id: str, names: NameIndex) -> bool:
    """Does a line name this person (a signature "yours, LT", "Letter follows – Leon", an
    address "Kibalchich. …")?"""
    line = plain(text).removeprefix("(sign.)").strip()
    candidates = {line, line.rstrip(".,"), line.split(",")[-1].strip(),
                  re.split(r"[.,]", line)[0].strip(),
                  re.split(r"\s[–—-]\s", line)[-1].strip()}
    return any(names.resolve(c)[0] == person_id for c in candidates if c)


def _resolvable(lines: list[Paragraph], places: Places) -> bool:
    return places.resolve(_lines("\n".join(p.text for p in lines)))[0] is not None


def _read_opener(paras: list[Paragraph], start: int, addressee_id: str, ctx: _Context
                 ) -> tuple[int, Dateline | None, list[Paragraph], str]:
    """From the paragraph after the header: (first body paragraph, dateline, address lines,
    salutation). Lines before a salutation must all be read, or it is a problem."""
    dateline: Dateline | None = None
    address: list[Paragraph] = []
    pending: list[Paragraph] = []
    salutation = ""
    i = start
    while i < len(paras) and i < start + OPENER_MAX_PARAGRAPHS:
        p = paras[i]
        if SALUTATION.match(p.plain) and _words(p.plain) <= 12:
            salutation = p.plain
            i += 1
            break
        d = parse_dateline(p.text)
        if d:
            if pending and not _resolvable(pending, ctx.places):
                break           # "Fraternal greetings" ... "25/4/36": a foot, not an opener
            if dateline:
                ctx.problem(p.start, f"two datelines: {dateline.date_as_written!r} and "
                                     f"{d.date_as_written!r}")
            if not d.date:
                ctx.problem(p.start, f"cannot read the date {d.date_as_written!r}")
            dateline, address, pending = d, address + pending, []
            i += 1
            continue
        if i == start and is_person(p.text, addressee_id, ctx.names):
            i += 1              # the address it was sent to (a telegram), not where from
            continue
        if _words(p.plain) <= SHORT_LINE_WORDS and not dateline:
            pending.append(p)
            i += 1
            continue
        break
    if pending:
        if salutation or _resolvable(pending, ctx.places):
            address += pending
        else:
            i -= len(pending)   # short lines of the body itself
    if not salutation:
        later = next((p for p in paras[i:i + 3] if SALUTATION.match(p.plain)), None)
        if later:
            ctx.problem(paras[i].start, f"cannot read the lines before the salutation "
                                        f"{later.plain!r}: {paras[i].plain[:60]!r}")
    return i, dateline, address, salutation


def _read_foot(paras: list[Paragraph], parts: Anatomy, ctx: _Context
               ) -> tuple[Dateline | None, list[Paragraph]]:
    """The dateline and the address lines the anatomy found under the signature (or as an
    unsigned letter's last line). The address gives the place only when the head has none,
    and then it must name a known place (else a problem, never dropped)."""
    roles = parts.roles
    dateline = None
    address = []
    for p in paras:
        if roles.get(p.start) == "foot-dateline":
            d = parse_dateline(p.text)
            assert d is not None
            if not d.date:
                ctx.problem(p.start, f"cannot read the date {d.date_as_written!r}")
            dateline = Dateline(d.date_as_written, d.date, d.place_as_written, "foot", d.notes)
        elif roles.get(p.start) == "foot-address":
            address.append(p)
    return dateline, address


def read_letter(seg: SegmentedSource, unit: Unit, names: NameIndex, places: Places,
                form_values: tuple[str, ...], problems: list[LetterProblem],
                anatomy_decision: AnatomyDecision | None = None,
                headings: HeadingForms = HeadingForms()) -> Letter | None:
    """Read one letter unit, its heading in one of ``headings``; what cannot be read is
    appended to ``problems``."""
    ctx = _Context(unit.document_id, seg.text, names, places, problems)
    paras, headnote = _letter_paragraphs(seg, unit, headings)
    if not paras:
        ctx.problem(unit.start, "the letter has no text")
        return None
    header = headings.read(paras[0].text)
    if header is None:
        ctx.problem(paras[0].start, f"cannot read the heading {paras[0].plain!r}: it has "
                    "none of the forms of [letters] in source.toml (heading, number_only, "
                    "document), and no [[letter]] of segment.toml declares the letter")
        return None
    at = 1
    if not header.sender:       # "Letter 35": the correspondents' line comes later
        found = next((k for k in range(1, len(paras))
                      if (h := headings.read(paras[k].text)) and h.sender and h.number is None
                      and h.qualifiers), None)
        if found is None:
            ctx.problem(paras[0].start, f"the heading {paras[0].plain!r} names no "
                        "correspondents and no 'Sender to Addressee (…)' line follows")
            return None
        if not headnote:
            headnote = "\n\n".join(p.text for p in paras[1:found])
        line = headings.read(paras[found].text)
        assert line is not None
        header = Header(header.number, line.sender, line.addressee, line.qualifiers)
        at = found + 1
    if header.number is not None and unit.n is not None and header.number != unit.n:
        ctx.problem(paras[0].start, f"printed number {header.number} but the outline gives "
                                    f"n = {unit.n}")
    ids = {}
    publication = ""
    for role, name in (("sender", header.sender), ("addressee", header.addressee)):
        pid, why = names.resolve(name)
        if pid is None and role == "addressee" and " in " in name:
            # "the Executive Committee of the POUM in La Batalla": where it was printed
            person, venue = name.rsplit(" in ", 1)
            pid, _ = names.resolve(person)
            publication = f"in {venue}" if pid else ""
        if pid is None:
            ctx.problem(paras[0].start, f"{role}: {why}")
        ids[role] = pid or ""
    if unit.author_id and ids["sender"] and unit.author_id != ids["sender"]:
        ctx.problem(paras[0].start, f"the heading's sender is {ids['sender']!r} but the "
                                    f"outline's author is {unit.author_id!r}")
    language, form, published, unread = parse_qualifiers(header.qualifiers, form_values)
    for part in unread:
        ctx.problem(paras[0].start, f"cannot read {part!r} in the heading's parenthesis "
                                    "(a language 'in X', a form, or 'published ...')")
    body, dateline, address, salutation = _read_opener(paras, at, ids["addressee"], ctx)
    if body >= len(paras):
        ctx.problem(paras[-1].start, "no text after the opener")
        return None
    shape = anatomy.read_anatomy(paras, at, body,
                                 lambda text: is_person(text, ids["sender"], names),
                                 anatomy_decision or AnatomyDecision())
    foot_date, foot_address = _read_foot(paras, shape, ctx)
    heading_date = Dateline(header.date_as_written, header.date, "", "heading") \
        if header.date else None
    date = dateline or foot_date or heading_date
    if date and heading_date and date is not heading_date and date.date != heading_date.date:
        ctx.problem(paras[0].start, f"the heading's date {heading_date.date_as_written!r} "
                                    f"differs from the letter's {date.date_as_written!r}")
    place_as_written, place_position = "", ""
    if address or (dateline and dateline.place_as_written):
        parts = [_lines(p.text) for p in address]
        if dateline and dateline.place_as_written:
            parts.append(dateline.place_as_written)
        place_as_written, place_position = place_lines(parts), "head"
    elif foot_address or (foot_date and foot_date.place_as_written):
        parts = [_lines(p.text) for p in foot_address]
        if foot_date and foot_date.place_as_written:
            parts.append(foot_date.place_as_written)
        place_as_written, place_position = place_lines(parts), "foot"
    place_id = ""
    if place_as_written:
        resolved, why = places.resolve(place_as_written)
        if resolved is None:
            ctx.problem(paras[0].start, why)
        place_id = resolved or ""
    if not shape.has_closer and not shape.no_closer:
        ctx.problem(paras[-1].start, "the letter has no closing formula and no signature: "
                    f"record why in {DECISIONS_FILE} (no_closer, with the book's words)")
    words = paras[body].plain.split()
    return Letter(
        letter_id=unit.document_id, number=header.number, sender_id=ids["sender"],
        addressee_id=ids["addressee"], salutation=salutation,
        addressee_ids=addressees(ids["addressee"], salutation, names),
        date=date.date if date else "", date_as_written=date.date_as_written if date else "",
        date_cert="high" if date and date.date else "",
        date_source="printed" if date and date.date else "",
        place_id=place_id, place_as_written=place_as_written,
        place_cert="printed" if place_as_written else "", place_reason="",
        language=language, form=form or "letter", extract=header.extract,
        publication=published or publication, incipit=" ".join(words[:INCIPIT_WORDS]),
        date_position=date.position if date else "", date_notes=date.notes if date else (),
        place_position=place_position,
        headnote=headnote, anatomy=shape,
    )


# --- decisions applied --------------------------------------------------------------------

def printed_notes(notes: NotesResult | None) -> dict[tuple[str, int], str]:
    """The numbered notes the notes stage read, by (the unit that prints them, number):
    their text as printed; the first note of a number printed twice."""
    found: dict[tuple[str, int], str] = {}
    for note in notes.notes if notes else []:
        if note.n is not None:
            found.setdefault((note.printed_in_id, note.n), note.text)
    return found


def _apply(letter: Letter, decision: LetterDecision, seg: SegmentedSource, unit: Unit,
           decisions: Decisions, places: Places, problems: list[LetterProblem],
           notes: dict[tuple[str, int], str]) -> None:
    where = f"{decisions.path.name} [{letter.letter_id}]"
    entry = f"letter.{letter.letter_id.removeprefix(decisions.path.parent.name + '-')}"

    def problem(message: str, key: str = "") -> None:
        # Reported in letters.toml, at the key that made the decision.
        field = "place_inference" if key == "place" else f"{entry}.{key}" if key else entry
        problems.append(LetterProblem(letter.letter_id, _line_of(seg.text, unit.start),
                                f"{where}: {message}", str(decisions.path), field))

    if decision.date:
        d = decision.date
        if d.note is not None:
            if not letter.date_as_written:
                problem("corrects a date, but the letter prints none", "date_note")
                return
            note_text = notes.get((d.notes_unit, d.note))
            if note_text is None:
                problem(f"note {d.note} is not in the notes unit {d.notes_unit!r}", "date_note")
            elif plain(d.quote) not in plain(note_text):
                problem(f"note {d.note} does not say {d.quote!r}: it reads {plain(note_text)!r}",
                        "date_quote")
            elif d.note not in note_marks(seg.text_of(unit)):
                problem(f"the letter carries no mark of note {d.note}", "date_note")
            letter.date_source = f"corrected by note {d.note}"
        else:
            if letter.date_as_written:
                problem("infers a date for a letter that prints one: cite the note that "
                        "corrects it (date_note)", "date")
                return
            letter.date_source = "inferred"
        letter.date, letter.date_cert = d.date, d.cert
    parts = decision.anatomy
    for key, quote, role in (("attestation", parts.attestation, "attestation"),
                             ("unsigned", parts.unsigned, "unsigned")):
        if quote and role not in letter.anatomy.roles.values():
            problem(f"{key}: no line of the letter's foot reads {quote!r}")
    if parts.no_closer and letter.anatomy.has_closer:
        problem("no_closer: but the letter has a closer")
    if parts.no_closer and plain(decision.no_closer_quote) not in plain(seg.text_of(unit)):
        problem(f"no_closer_quote: the letter does not say {decision.no_closer_quote!r}")
    if decision.form:
        if decision.form not in forms():
            problem(f"form {decision.form!r} is not one of {', '.join(forms())}",
                    "form")
        elif plain(decision.form_quote) not in plain(seg.text_of(unit)):
            problem(f"the letter's text does not say {decision.form_quote!r}", "form_quote")
        letter.form = decision.form
    if decision.place:
        if letter.place_as_written:
            problem(f"infers a place, but the letter prints {letter.place_as_written!r}",
                    "place")
        elif decision.place not in places.part_of:
            problem(f"place {decision.place!r} is not in sources/_registry/places.toml",
                    "place")
        else:
            letter.place_id, letter.place_cert = decision.place, "inferred"
            letter.place_reason = decision.place_reason


def _check_sequence(letters: list[tuple[Unit, Letter]], decisions: Decisions, text: str,
                    problems: list[LetterProblem]) -> None:
    """Within one part of the book, a letter dated before the one printed ahead of it is
    a date to correct (or to explain): the book's letters are in date order."""
    latest: dict[str, tuple[str, str]] = {}
    for unit, letter in letters:
        if not letter.date:
            continue
        previous = latest.get(unit.parent_id)
        explained = decisions.letters.get(letter.letter_id, LetterDecision()).out_of_sequence
        if previous and letter.date < previous[0][:len(letter.date)] and not explained:
            problems.append(LetterProblem(letter.letter_id, _line_of(text, unit.start),
                                    f"dated {letter.date} ({letter.date_as_written!r}), before "
                                    f"{previous[1]} ({previous[0]}) printed ahead of it: "
                                    f"correct it in {DECISIONS_FILE} citing the note, or "
                                    "record date_out_of_sequence"))
        if not previous or letter.date > previous[0]:
            latest[unit.parent_id] = (letter.date, letter.letter_id)


@dataclass
class LetterReading:
    """The letters of one source, and every problem met reading them."""

    letters: list[Letter]
    problems: list[LetterProblem]


def read_letters(source: Source, seg: SegmentedSource, persons: list[dict[str, Any]],
                 places: list[dict[str, Any]], notes: NotesResult | None) -> LetterReading:
    """Read every ``letter`` unit of a source and apply its letters.toml decisions; a
    decision that cites a note is checked against the note as the notes stage read it
    (``notes``: None when the source's notes could not be read)."""
    decisions = load_decisions(source)
    unknown_places = {pid for pid in decisions.place_forms.values()} - \
        {p["place_id"] for p in places}
    if unknown_places:
        raise PipelineError(f"place ids not in the registry: {sorted(unknown_places)}",
                            file=str(decisions.path), field="place_forms")
    names, place_index = NameIndex(persons), Places.of(places, decisions.place_forms)
    form_values = forms()
    headings = heading_forms(source)
    problems: list[LetterProblem] = []
    read: list[tuple[Unit, Letter]] = []
    # Letters declared in the outline, each fact with its printed words (any source).
    from .declared_letters import declared_letters
    declared = declared_letters(source, seg, persons, places)
    for unit in seg.of_type("letter"):
        if unit.document_id in declared:
            read.append((unit, declared[unit.document_id]))
            continue
        decision = decisions.letters.get(unit.document_id)
        letter = read_letter(seg, unit, names, place_index, form_values, problems,
                             decision.anatomy if decision else None, headings)
        if letter is None:
            continue
        if decision:
            _apply(letter, decision, seg, unit, decisions, place_index, problems,
                   printed_notes(notes))
        read.append((unit, letter))
    for letter_id in sorted(set(decisions.letters) - {letter.letter_id for _, letter in read}):
        if (found := seg.get(letter_id)) is None or found.type != "letter":
            raise PipelineError(f"{letter_id!r} is not a letter of the outline",
                                file=str(decisions.path), field=letter_id)
    _check_sequence(read, decisions, seg.text, problems)
    return LetterReading([letter for _, letter in read], problems)


def read_all(sources: list[Source], segmented: Mapping[str, SegmentedSource],
             persons: list[dict[str, Any]], places: list[dict[str, Any]],
             notes: Mapping[str, NotesResult]) -> dict[str, list[Letter]]:
    """Every source's letters in reading order, by source id.

    ``segmented`` and ``notes`` are the segment and notes stages' outputs by source id,
    ``persons`` and ``places`` the rows of
    ``registry.load_persons``/``load_places``. Raises one PipelineError listing every
    problem of every source if any letter cannot be read.
    """
    found: dict[str, list[Letter]] = {}
    problems: list[tuple[Source, LetterProblem]] = []
    for source in sorted(sources, key=lambda s: s.source_id):
        reading = read_letters(source, segmented[source.source_id], persons, places,
                               notes.get(source.source_id))
        found[source.source_id] = reading.letters
        problems += [(source, p) for p in reading.problems]
    if problems:
        raise BuildFailed("letters", [
            PipelineError(p.message.split(": ", 1)[1], file=p.file, field=p.field, code="E410")
            if p.file else PipelineError(str(p), file=str(source.outline_path), field=p.letter_id,
                                         code="E410")
            for source, p in problems])
    return found


def outline_disagreements(source: Source, seg: SegmentedSource, letters: list[Letter]
                          ) -> list[PipelineError]:
    """The outline (segment.toml) repeats each letter's printed date, author and place;
    where it says otherwise than the letter as this stage read it, an E410 at the
    outline's entry (a fact stated twice is checked, not left to disagree)."""
    by_id = {letter.letter_id: letter for letter in letters}
    problems = []
    for index, unit in enumerate(seg.units[1:]):     # units[0] is the source, not an entry
        letter = by_id.get(unit.document_id)
        if letter is None:
            continue
        printed = parse_dateline(letter.date_as_written) if letter.date_as_written else None
        place = letter.place_id if letter.place_cert == "printed" else ""
        for key, outline, read, what in (
                ("date", unit.date, printed.date if printed else None, "its printed date"),
                ("author", unit.author_id, letter.sender_id or None, "its sender"),
                ("place", unit.place_id, place, "the place it prints ('': none)")):
            # a date or author the text does not give is the outline's to state
            disagree = outline != read if key == "place" else bool(outline) and \
                read is not None and outline != read
            if disagree:
                problems.append(PipelineError(
                    f"{unit.document_id}: the outline says {key} {outline!r}, but the "
                    f"letter's is {read!r} ({what}); correct the outline",
                    file=str(source.outline_path),
                    field=f"segment.units[{index}].{key}", code="E410"))
    return problems


def letters_table(letters_by_source: Mapping[str, list[Letter]]) -> Table:
    """The table this stage adds to the dataset: each source's letters in reading order."""
    rows = [letter.row() for source_id in sorted(letters_by_source)
            for letter in letters_by_source[source_id]]
    return Table("letters", rows, "Letters")
