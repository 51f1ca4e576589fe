"""Letters stage: the metadata of every letter, read from what the book prints.

Every unit of type ``letter`` in a source's unit tree becomes one row of the
``letters`` table. Its header gives the number, sender, addressee, form and language::

    Letter 16: Serge to Konrad Knudsen¹⁸² (postcard–in Russian)
    Letter 3: Trotsky to Serge (telegram, in French)
    Victor Serge. Letter to Andrès Nin⁴¹
    Leon Trotsky. Extract from letter to Wendelin Thomas, 6 July 1937⁴⁸

A heading that is only a number ("Letter 35") is followed by an editor's headnote and
then the correspondents' line ("Trotsky to Serge (in French)"). The letter's opener
(address lines, a dateline, the salutation) gives its date and place; failing that, its
foot (a postcard dated after the signature, an address under it); failing that, a date
in the heading. Names resolve to the persons registry through ``name`` and ``forms``,
places to the places registry through their names (accents and case ignored) and the
source's ``[place_forms]``.

What a header cannot give is an editorial decision recorded per source in
``letters.toml``, each with the words of the book that support it, checked against the
text at every build: a printed date the book's notes correct (the note is cited, and
its text must contain the quote), a form the headnote states, a place inferred from
other letters (with the reason). Anything the parser cannot read is collected as a
problem naming the letter and its line in the cleaned text; any problem fails the
build rather than being guessed.

Every ``glossary`` unit is parsed as a glossary of abbreviations ("POUM Partido Obrero
de Unificacion Marxista (Workers Party of Marxist Unity). Formed in 1935 ...") into the
``organisations`` table.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .errors import PipelineError
from .package import Table, letter_tei_path, table_schema
from .segment import (NOTE_MARK, SUPERSCRIPTS, SegmentedSource, Unit, paragraphs,
                      strip_marks as plain)
from .sources import Source, read_toml

DECISIONS_FILE = "letters.toml"
# Sub-units that are not the letter's own text: what the sender enclosed (it has its own
# opener and foot) and the editor's headnote (Letter 35's "Prefatory note.").
NOT_THE_LETTER = {"enclosure", "introduction"}
INCIPIT_WORDS = 10
CLOSING_MAX_WORDS = 15
OPENER_MAX_PARAGRAPHS = 8
SHORT_LINE_WORDS = 10
# ISO 639-1 codes of the language names a header may give ("in French").
LANGUAGES = {"english": "en", "french": "fr", "russian": "ru", "german": "de", "spanish": "es",
             "castilian": "es", "catalan": "ca", "italian": "it", "dutch": "nl",
             "norwegian": "no", "yiddish": "yi", "polish": "pl"}
MONTHS = {name: i for i, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
     ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sept", "sep"),
     ("october", "oct"), ("november", "nov"), ("december", "dec")], start=1) for name in names}

_MONTH = r"[A-Z][a-z]{2,8}\.?"
_DATE = (r"(?:(?P<m1>" + _MONTH + r")\s+(?P<d1>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{4})"
         r"|(?P<d2>\d{1,2})(?:st|nd|rd|th)?\s+(?P<m2>" + _MONTH + r"),?\s+(?P<y2>\d{4})"
         r"|(?P<d3>\d{1,2})/(?P<m3>\d{1,2})/(?P<y3>\d{4}|\d{2}))")
DATE = re.compile(_DATE)
DATELINE = re.compile(r"^(?P<pre>[^\d]{0,60}?)[\s,]*(?P<date>" + _DATE + r")"
                      r"(?P<post>[\s,–—-]+[^\d]{1,60})?$")
CORRESPONDENTS = re.compile(
    r"^(?:(?:Letter\s+(?P<number>\d+)|(?P<unnumbered>Prefatory letter))\s*:\s*)?"
    r"(?P<sender>[^():]+?)\s+to\s+(?P<addressee>[^():]+?)\s*\((?P<qualifiers>[^()]+)\)$")
NUMBER_ONLY = re.compile(r"^Letter\s+(?P<number>\d+)\.?$")
DOCUMENT = re.compile(
    r"^(?P<sender>[^,.‘’'\"]+?)[,.]\s+[‘'\"]?(?P<extract>Extract from\s+)?[Ll]etter\s+to\s+"
    r"(?P<addressee>.+?)[’'\"]?(?:,\s+(?P<date>" + _DATE.replace("?P<", "?P<h") + r"))?\.?$")
# A farewell above the signature ("I shake your hand firmly", "Fraternal greetings").
CLOSING = re.compile(r"\b(?:greetings|regards|yours|hand|embrace|fraternal(?:ly)?|salut\w*|"
                     r"wishes|love|kisses|friendship|cordially)\b", re.I)
POSTSCRIPT = re.compile(r"^(?:P\.?\s?S\.?|N\.?\s?B\.?)\b")
SALUTATION = re.compile(r"^(?:My\s+)?(?:Dear(?:est)?|Esteemed)\b.{0,80},$")
PUBLISHED = re.compile(r"^(?:first\s+)?published\b", re.I)
NOTE = re.compile(r"^\s*(?P<n>\d+)\.\s+(?P<text>\S.*)$")
GLOSSARY_ENTRY = re.compile(r"^(?P<abbr>[A-Z][A-Z0-9&/-]+)\s+(?P<rest>\S.*)$", re.S)
ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


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


def note_marks(text: str) -> set[int]:
    """The note numbers marked in a text (superscript digits or ``^{n}``)."""
    marks = set()
    for m in NOTE_MARK.finditer(text):
        digits = re.sub(r"\D", "", m.group().translate(SUPERSCRIPTS))
        if digits:
            marks.add(int(digits))
    return marks


def _fold(text: str) -> str:
    """For matching names: accents, case, punctuation and digits ignored."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]|\d|_", " ", text.casefold()).split())


def _key(name: str) -> str:
    """For matching person names: case and blanks ignored, accents kept (Andrès ≠ Andrés)."""
    return " ".join(plain(name).casefold().split())


def _words(text: str) -> int:
    return len(text.split())


def _iso(match: re.Match[str]) -> str | None:
    """ISO 8601 date of a DATE match, or None if it is not a real date."""
    g = {k: v for k, v in match.groupdict().items() if v}
    if "d3" in g:
        day, month, year = int(g["d3"]), int(g["m3"]), g["y3"]
        if len(year) == 2:   # a letter of the 1920s-40s dated "25/4/36"
            year = "19" + year
        if day <= 12 and month <= 12 and day != month:
            return None      # 5/4/36: day-month order cannot be read, do not guess
    else:
        day = int(g.get("d1") or g["d2"])
        month = MONTHS.get((g.get("m1") or g["m2"]).rstrip(".").casefold(), 0)
        year = g.get("y1") or g["y2"]
    try:
        return datetime.date(int(year), month, day).isoformat()
    except ValueError:      # "February 30": not a date
        return None


# --- registries ---------------------------------------------------------------------------

@dataclass
class Names:
    """Person names and forms → person ids; a form two persons share is ambiguous."""

    index: dict[str, set[str]]

    @classmethod
    def of(cls, persons: list[dict[str, Any]]) -> Names:
        index: dict[str, set[str]] = {}
        for p in persons:
            for name in [p["name"], *p.get("forms", [])]:
                index.setdefault(_key(name), set()).add(p["person_id"])
        return cls(index)

    def resolve(self, name: str) -> tuple[str | None, str]:
        """(person id, "") or (None, why not)."""
        ids = self.index.get(_key(name), set())
        if len(ids) == 1:
            return next(iter(ids)), ""
        if ids:
            return None, f"{name!r} is a form of several persons ({', '.join(sorted(ids))})"
        return None, f"{name!r} is not a name or form in sources/_registry/persons.toml"


@dataclass
class Places:
    """Place names (and a source's printed forms) → place ids, with the part_of chains."""

    index: dict[str, str]
    part_of: dict[str, str]

    @classmethod
    def of(cls, places: list[dict[str, Any]], place_forms: dict[str, str]) -> Places:
        index = {_fold(p["name"]): p["place_id"] for p in places}
        index.update({_fold(form): pid for form, pid in place_forms.items()})
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
        found = {self.index[_fold(p)] for p in parts if _fold(p) in self.index}
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


@dataclass
class Decisions:
    """A source's letters.toml: decisions per letter, and printed place forms."""

    path: Path
    letters: dict[str, LetterDecision] = field(default_factory=dict)
    place_forms: dict[str, str] = field(default_factory=dict)


LETTER_KEYS = {"date", "date_cert", "date_note", "date_notes", "date_quote", "date_reason",
               "form", "form_quote", "date_out_of_sequence"}


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
        if "form" in entry and not entry.get("form_quote"):
            raise PipelineError("a form needs form_quote (the words of the book that state it)",
                                file=str(path), field=where)
        decisions.letters[letter_id] = LetterDecision(
            date=date, form=entry.get("form", ""), form_quote=entry.get("form_quote", ""),
            out_of_sequence=entry.get("date_out_of_sequence", ""))
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
                old.out_of_sequence)
    return decisions


# --- reading one letter -------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """Something in a letter the parser cannot read; it fails the build."""

    letter_id: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.letter_id} (cleaned text line {self.line}): {self.message}"


@dataclass(frozen=True)
class Paragraph:
    start: int
    end: int
    text: str   # as printed

    @property
    def plain(self) -> str:
        return plain(self.text)


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


@dataclass(frozen=True)
class Dateline:
    """A printed date, with the place printed on the same line or above it."""

    date_as_written: str
    date: str
    place_as_written: str
    position: str   # "head", "foot" or "heading"
    notes: tuple[int, ...] = ()   # note marks printed on the dateline ("May 27, 1934¹⁵⁰")


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
    layout: tuple[tuple[int, str], ...] = ()   # (paragraph offset, role): see layout()

    @property
    def tei_path(self) -> str:
        return letter_tei_path(self.letter_id)

    def row(self) -> dict[str, Any]:
        """The letter as a row of the letters table (keys: the schema's fields)."""
        return {name: getattr(self, name) for name in field_names("letters")}


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _letter_paragraphs(seg: SegmentedSource, letter: Unit) -> tuple[list[Paragraph], str]:
    """The letter's own paragraphs (enclosures and headnote units left out), and the
    text of its headnote units."""
    i = seg.units.index(letter)
    excluded: list[tuple[int, int]] = []
    headnote = []
    for unit in seg.units[i + 1:]:
        if unit.level <= letter.level:
            break
        if unit.type in NOT_THE_LETTER:
            excluded.append((unit.start, unit.end))
            if unit.type == "introduction":
                headnote.append(seg.text_of(unit))
    span = seg.text[letter.start:letter.end]
    paras = [Paragraph(letter.start + s, letter.start + e, span[s:e]) for s, e in paragraphs(span)
             if not any(a <= letter.start + s < b for a, b in excluded)]
    return paras, "".join(headnote)


def parse_header(text: str) -> Header | None:
    """Read a letter heading; None if it is not one of the forms the book prints."""
    line = plain(text)
    m = CORRESPONDENTS.match(line)
    if m:
        number = int(m["number"]) if m["number"] else None
        return Header(number, m["sender"].strip(), m["addressee"].strip(), m["qualifiers"])
    m = NUMBER_ONLY.match(line)
    if m:
        return Header(int(m["number"]), "", "")
    m = DOCUMENT.match(line)
    if m:
        date_text = m["date"] or ""
        iso = _iso(DATE.fullmatch(date_text)) if date_text else ""  # type: ignore[arg-type]
        return Header(None, m["sender"].strip(), m["addressee"].strip(), "",
                      bool(m["extract"]), date_text, iso or "")
    return None


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
            if lang and lang[1].casefold() in LANGUAGES:
                language = LANGUAGES[lang[1].casefold()]
            elif part.casefold().replace(" ", "-") in form_values:
                form = part.casefold().replace(" ", "-")
            else:
                unread.append(part)
    return language, form, publication, unread


def parse_dateline(text: str) -> Dateline | None:
    """A paragraph that is a dateline ("Hurum, Sept 6, 1936", "25/4/36",
    "June 6, 1936 – Brussels"), or None."""
    line = plain(text)
    m = DATELINE.match(line)
    if not m or len(line) > 90:
        return None
    pre = (m["pre"] or "").strip(" ,")
    post = (m["post"] or "").strip().lstrip(",–—-").strip()
    if _words(pre) > 5 or _words(post) > 5 or (pre and post):
        return None
    # A date that cannot be read (31/13/36, or 5/4/36: day or month first?) is still a
    # dateline, with no ISO date: the caller reports it.
    iso = _iso(DATE.fullmatch(m["date"]))  # type: ignore[arg-type]
    return Dateline(m["date"], iso or "", pre or post, "head", tuple(sorted(note_marks(text))))


@dataclass
class _Context:
    letter_id: str
    text: str
    names: Names
    places: Places
    problems: list[Problem]

    def problem(self, offset: int, message: str) -> None:
        self.problems.append(Problem(self.letter_id, _line_of(self.text, offset), message))


def _is_person(text: str, person_id: str, names: Names) -> bool:
    """Does a line name this person (a signature "yours, LT", an address "Kibalchich. …")?"""
    line = plain(text).removeprefix("(sign.)").strip()
    candidates = {line, line.rstrip(".,"), line.split(",")[-1].strip(),
                  re.split(r"[.,]", line)[0].strip()}
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
        if i == start and _is_person(p.text, addressee_id, ctx.names):
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


def _signature(paras: list[Paragraph], body: int, sender_id: str, names: Names) -> int | None:
    """Index of the sender's signature among the last paragraphs, if the letter is signed."""
    return next((j for j in range(len(paras) - 1, max(body, len(paras) - 7) - 1, -1)
                 if _is_person(paras[j].text, sender_id, names)), None)


def _read_foot(paras: list[Paragraph], body: int, sender_id: str, ctx: _Context
               ) -> tuple[Dateline | None, list[Paragraph]]:
    """A dateline or an address printed after the signature (or as the last line)."""
    signature = _signature(paras, body, sender_id, ctx.names)
    if signature is not None:
        foot = paras[signature + 1:]
    else:                       # unsigned: only a last line that is a date ("25/4/36")
        foot = [p for p in paras[-1:] if len(paras) - 1 > body and parse_dateline(p.text)]
    dateline = None
    address = []
    for p in foot:
        d = parse_dateline(p.text)
        if d:
            if not d.date:
                ctx.problem(p.start, f"cannot read the date {d.date_as_written!r}")
            dateline = Dateline(d.date_as_written, d.date, d.place_as_written, "foot", d.notes)
        elif _words(p.plain) <= SHORT_LINE_WORDS:
            address.append(p)
        else:
            address = []        # a postscript: what came before it is not an address
    # Short lines under the signature are an address; used only when the head has no
    # place, and then they must name a known place (else a problem, never dropped).
    return dateline, address


def layout(paras: list[Paragraph], at: int, body: int, signature: int | None
           ) -> tuple[tuple[int, str], ...]:
    """The part of the letter each paragraph is, as (offset, role), for the TEI encoding.

    Roles: ``head`` (heading lines), ``address``, ``dateline`` and ``salute`` (the
    opener), ``p`` (the body), ``closing`` (a short farewell just above the signature),
    ``signed``, ``foot-dateline`` and ``foot-address`` (under the signature; the caller
    makes an address that did not give the place a ``foot-line``) and
    ``postscript`` (anything longer under the signature, and all that follows it).
    """
    roles: list[tuple[int, str]] = [(p.start, "head") for p in paras[:at]]
    for p in paras[at:body]:
        if SALUTATION.match(p.plain):
            roles.append((p.start, "salute"))
        else:
            roles.append((p.start, "dateline" if parse_dateline(p.text) else "address"))
    end = signature if signature is not None else len(paras)
    if signature is None and len(paras) - 1 > body and parse_dateline(paras[-1].text):
        end = len(paras) - 1
    closing = end - 1 if (signature is not None and end - 1 > body
                          and CLOSING.search(paras[end - 1].plain)
                          and _words(paras[end - 1].plain) <= CLOSING_MAX_WORDS) else None
    for j in range(body, end):
        roles.append((paras[j].start, "closing" if j == closing else "p"))
    if signature is not None:
        roles.append((paras[signature].start, "signed"))
    in_postscript = False
    for p in paras[end + (signature is not None):]:
        if not in_postscript and parse_dateline(p.text):
            roles.append((p.start, "foot-dateline"))
        elif not in_postscript and _words(p.plain) <= SHORT_LINE_WORDS \
                and not POSTSCRIPT.match(p.plain):
            roles.append((p.start, "foot-address"))
        else:
            in_postscript = True
            roles.append((p.start, "postscript"))
    return tuple(roles)


def read_letter(seg: SegmentedSource, unit: Unit, names: Names, places: Places,
                form_values: tuple[str, ...], problems: list[Problem]) -> Letter | None:
    """Read one letter unit; what cannot be read is appended to ``problems``."""
    ctx = _Context(unit.document_id, seg.text, names, places, problems)
    paras, headnote = _letter_paragraphs(seg, unit)
    if not paras:
        ctx.problem(unit.start, "the letter has no text")
        return None
    header = parse_header(paras[0].text)
    if header is None:
        ctx.problem(paras[0].start, f"cannot read the heading {paras[0].plain!r}: expected "
                    "'Letter N: Sender to Addressee (in Language)' or 'Sender. Letter to "
                    "Addressee'")
        return None
    at = 1
    if not header.sender:       # "Letter 35": the correspondents' line comes later
        found = next((k for k in range(1, len(paras))
                      if (h := parse_header(paras[k].text)) and h.sender and h.number is None
                      and h.qualifiers), None)
        if found is None:
            ctx.problem(paras[0].start, f"the heading {paras[0].plain!r} names no "
                        "correspondents and no 'Sender to Addressee (…)' line follows")
            return None
        if not headnote:
            headnote = "\n\n".join(p.text for p in paras[1:found])
        line = parse_header(paras[found].text)
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
    foot_date, foot_address = _read_foot(paras, body, ids["sender"], ctx)
    roles = layout(paras, at, body, _signature(paras, body, ids["sender"], names))
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
        place_as_written, place_position = " / ".join(parts).rstrip(" ,"), "head"
    elif foot_address or (foot_date and foot_date.place_as_written):
        parts = [_lines(p.text) for p in foot_address]
        if foot_date and foot_date.place_as_written:
            parts.append(foot_date.place_as_written)
        place_as_written, place_position = " / ".join(parts).rstrip(" ,"), "foot"
    place_id = ""
    if place_as_written:
        resolved, why = places.resolve(place_as_written)
        if resolved is None:
            ctx.problem(paras[0].start, why)
        place_id = resolved or ""
    if place_position != "foot":
        # Lines under the signature that did not give the place are not an address
        # ("Attested in handwriting: / In fidem: / Michael Punterwald").
        roles = tuple((o, "foot-line" if r == "foot-address" else r) for o, r in roles)
    words = paras[body].plain.split()
    return Letter(
        letter_id=unit.document_id, number=header.number, sender_id=ids["sender"],
        addressee_id=ids["addressee"], salutation=salutation,
        date=date.date if date else "", date_as_written=date.date_as_written if date else "",
        date_cert="high" if date and date.date else "",
        date_source="printed" if date and date.date else "",
        place_id=place_id, place_as_written=place_as_written,
        place_cert="printed" if place_as_written else "", place_reason="",
        language=language, form=form or "letter", extract=header.extract,
        publication=published or publication, incipit=" ".join(words[:INCIPIT_WORDS]),
        date_position=date.position if date else "", date_notes=date.notes if date else (),
        place_position=place_position,
        headnote=headnote, layout=roles,
    )


# --- decisions applied --------------------------------------------------------------------

def notes_of(seg: SegmentedSource, notes_unit_id: str) -> dict[int, str]:
    """The numbered notes of a notes unit ("150. This is of course ...", one a line; a
    line without a number continues the note above): {number: text as printed}."""
    unit = next((u for u in seg.units if u.document_id == notes_unit_id), None)
    if unit is None:
        return {}
    notes: dict[int, str] = {}
    last = None
    for line in seg.own_text(unit).splitlines()[1:]:    # the first line is the heading
        m = NOTE.match(line)
        if m and int(m["n"]) not in notes:
            last = int(m["n"])
            notes[last] = m["text"].strip()
        elif line.strip() and last is not None:
            notes[last] += " " + line.strip()
    return notes


def _apply(letter: Letter, decision: LetterDecision, seg: SegmentedSource, unit: Unit,
           decisions: Decisions, places: Places, problems: list[Problem]) -> None:
    where = f"{decisions.path.name} [{letter.letter_id}]"

    def problem(message: str) -> None:
        problems.append(Problem(letter.letter_id, _line_of(seg.text, unit.start),
                                f"{where}: {message}"))

    if decision.date:
        d = decision.date
        if d.note is not None:
            if not letter.date_as_written:
                problem("corrects a date, but the letter prints none")
                return
            note_text = notes_of(seg, d.notes_unit).get(d.note)
            if note_text is None:
                problem(f"note {d.note} is not in the notes unit {d.notes_unit!r}")
            elif plain(d.quote) not in plain(note_text):
                problem(f"note {d.note} does not say {d.quote!r}: it reads {plain(note_text)!r}")
            elif d.note not in note_marks(seg.text_of(unit)):
                problem(f"the letter carries no mark of note {d.note}")
            letter.date_source = f"corrected by note {d.note}"
        else:
            if letter.date_as_written:
                problem("infers a date for a letter that prints one: cite the note that "
                        "corrects it (date_note)")
                return
            letter.date_source = "inferred"
        letter.date, letter.date_cert = d.date, d.cert
    if decision.form:
        if decision.form not in forms():
            problem(f"form {decision.form!r} is not one of {', '.join(forms())}")
        elif plain(decision.form_quote) not in plain(seg.text_of(unit)):
            problem(f"the letter's text does not say {decision.form_quote!r}")
        letter.form = decision.form
    if decision.place:
        if letter.place_as_written:
            problem(f"infers a place, but the letter prints {letter.place_as_written!r}")
        elif decision.place not in places.part_of:
            problem(f"place {decision.place!r} is not in sources/_registry/places.toml")
        else:
            letter.place_id, letter.place_cert = decision.place, "inferred"
            letter.place_reason = decision.place_reason


def _check_sequence(letters: list[tuple[Unit, Letter]], decisions: Decisions, text: str,
                    problems: list[Problem]) -> None:
    """Within one part of the book, a letter dated before the one printed ahead of it is
    a date to correct (or to explain): the book's letters are in date order."""
    latest: dict[str, tuple[str, str]] = {}
    for unit, letter in letters:
        if not letter.date:
            continue
        previous = latest.get(unit.parent_id)
        explained = decisions.letters.get(letter.letter_id, LetterDecision()).out_of_sequence
        if previous and letter.date < previous[0][:len(letter.date)] and not explained:
            problems.append(Problem(letter.letter_id, _line_of(text, unit.start),
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
    problems: list[Problem]


def read_letters(source: Source, seg: SegmentedSource, persons: list[dict[str, Any]],
                 places: list[dict[str, Any]]) -> LetterReading:
    """Read every ``letter`` unit of a source and apply its letters.toml decisions."""
    decisions = load_decisions(source)
    unknown_places = {pid for pid in decisions.place_forms.values()} - \
        {p["place_id"] for p in places}
    if unknown_places:
        raise PipelineError(f"place ids not in the registry: {sorted(unknown_places)}",
                            file=str(decisions.path), field="place_forms")
    names, place_index = Names.of(persons), Places.of(places, decisions.place_forms)
    form_values = forms()
    problems: list[Problem] = []
    read: list[tuple[Unit, Letter]] = []
    units = {u.document_id: u for u in seg.units}
    # Letters declared in the outline, each fact with its printed words (any source).
    from .declared_letters import declared_letters
    declared = declared_letters(source, seg, persons, places)
    for unit in seg.units:
        if unit.type != "letter":
            continue
        if unit.document_id in declared:
            read.append((unit, declared[unit.document_id]))
            continue
        letter = read_letter(seg, unit, names, place_index, form_values, problems)
        if letter is None:
            continue
        decision = decisions.letters.get(unit.document_id)
        if decision:
            _apply(letter, decision, seg, unit, decisions, place_index, problems)
        read.append((unit, letter))
    for letter_id in sorted(set(decisions.letters) - {l.letter_id for _, l in read}):
        if units.get(letter_id) is None or units[letter_id].type != "letter":
            raise PipelineError(f"{letter_id!r} is not a letter of the outline",
                                file=str(decisions.path), field=letter_id)
    _check_sequence(read, decisions, seg.text, problems)
    return LetterReading([letter for _, letter in read], problems)


def read_all(sources: list[Source], segmented: dict[str, SegmentedSource],
             persons: list[dict[str, Any]], places: list[dict[str, Any]]
             ) -> dict[str, list[Letter]]:
    """Every source's letters in reading order, by source id.

    ``segmented`` is the segment stage's output, ``persons`` and ``places`` the rows of
    ``registry.load_persons``/``load_places``. Raises one PipelineError listing every
    problem of every source if any letter cannot be read.
    """
    found: dict[str, list[Letter]] = {}
    problems: list[tuple[Source, Problem]] = []
    for source in sorted(sources, key=lambda s: s.source_id):
        reading = read_letters(source, segmented[source.source_id], persons, places)
        found[source.source_id] = reading.letters
        problems += [(source, p) for p in reading.problems]
    if problems:
        source, first = problems[0]
        raise PipelineError(f"{len(problems)} problem(s) reading letters: "
                            + "; ".join(str(p) for _, p in problems),
                            file=str(source.outline_path), field=first.letter_id)
    return found


def letter_rows(sources: list[Source], segmented: dict[str, SegmentedSource],
                persons: list[dict[str, Any]], places: list[dict[str, Any]]
                ) -> list[dict[str, Any]]:
    """Rows of the ``letters`` table, each source's letters in reading order."""
    found = read_all(sources, segmented, persons, places)
    return [letter.row() for source_id in sorted(found) for letter in found[source_id]]


# --- organisations ------------------------------------------------------------------------

@dataclass(frozen=True)
class Organisation:
    """One entry of a glossary of organisations, as printed."""

    org_id: str
    source_id: str
    abbreviation: str
    name: str
    name_english: str
    description: str

    def row(self) -> dict[str, Any]:
        """The entry as a row of the organisations table."""
        return {name: getattr(self, name) for name in field_names("organisations")}


def _depth_change(c: str) -> int:
    return 1 if c in "([" else -1 if c in ")]" else 0


def _split_sentence(text: str) -> tuple[str, str]:
    """(first sentence without its full stop, the rest), brackets kept whole."""
    depth = 0
    for i, c in enumerate(text):
        depth += _depth_change(c)
        if c == "." and depth == 0 and (i + 1 == len(text) or text[i + 1] == " "):
            return text[:i].strip(), text[i + 1:].strip()
    return text.strip(), ""


def parse_glossary_entry(text: str, source_id: str) -> Organisation | None:
    """ "ABBR Name (English name). Description." → an Organisation, or None."""
    m = GLOSSARY_ENTRY.match(plain(text))
    if not m:
        return None
    name, description = _split_sentence(m["rest"])
    english = ""
    if name.endswith(")"):     # "Parti Ouvrier Belge (Belgian Workers Party)"
        depth = 0
        for i in range(len(name) - 1, -1, -1):
            depth -= _depth_change(name[i])
            if depth == 0:
                name, english = name[:i].strip(), name[i + 1:-1].strip()
                break
    slug = re.sub(r"[^a-z0-9]+", "-", _fold(m["abbr"])).strip("-")
    return Organisation(slug, source_id, m["abbr"], name, english, description)


def read_glossary(seg: SegmentedSource) -> tuple[list[Organisation], list[str]]:
    """The entries of every ``glossary`` unit of a source, and the lines not understood.
    A paragraph that does not open with an abbreviation continues the entry above it."""
    orgs: list[Organisation] = []
    problems: list[str] = []
    for unit in (u for u in seg.units if u.type == "glossary"):
        paras = [seg.own_text(unit)[s:e] for s, e in paragraphs(seg.own_text(unit))][1:]
        for text in paras:
            entry = parse_glossary_entry(text, seg.source_id)
            if entry:
                orgs.append(entry)
            elif orgs:
                last = orgs[-1]
                description = f"{last.description} {plain(text)}".strip()
                orgs[-1] = Organisation(last.org_id, last.source_id, last.abbreviation,
                                        last.name, last.name_english, description)
            else:
                line = _line_of(seg.text, seg.text.index(text, unit.start))
                problems.append(f"{unit.document_id} (cleaned text line {line}): cannot read "
                                f"{plain(text)[:60]!r}: expected 'ABBR Name. Description.'")
        if not paras:
            problems.append(f"{unit.document_id}: the glossary has no entries")
    return orgs, problems


def organisation_rows(segmented: dict[str, SegmentedSource]) -> list[dict[str, Any]]:
    """Rows of the ``organisations`` table from every source's glossary units, as printed.
    Raises a PipelineError on an entry it cannot read or an abbreviation defined twice."""
    rows: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for source_id in sorted(segmented):
        orgs, problems = read_glossary(segmented[source_id])
        if problems:
            raise PipelineError("; ".join(problems), file=source_id, field="glossary")
        for org in orgs:
            if org.org_id in seen:
                raise PipelineError(f"organisation {org.abbreviation!r} defined twice "
                                    f"(also in {seen[org.org_id]})", file=source_id,
                                    field="glossary")
            seen[org.org_id] = source_id
            rows.append(org.row())
    return rows


def tables(letters_by_source: dict[str, list[Letter]],
           segmented: dict[str, SegmentedSource]) -> list[Table]:
    """The two tables this stage adds to the dataset, ready for ``package.csv_bytes``."""
    rows = [letter.row() for source_id in sorted(letters_by_source)
            for letter in letters_by_source[source_id]]
    return [Table("letters", rows, "Letters"),
            Table("organisations", organisation_rows(segmented), "Organisations")]
