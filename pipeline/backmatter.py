"""Back matter as tables: a book's chronology, bibliography, index and glossary.

The units are found by type in the segmented source (``chronology``, ``bibliography``
and its section units, ``index``), never by id, so any source with the same kinds of
back matter gets the same tables. Each printed line or entry becomes exactly one row
(the index: one row per headword and one per sub-entry); a field is filled only where
the printed form states it unambiguously, and left empty otherwise.

Public API (rows are dicts whose keys are the fields of ``schema/tables/<name>.json``;
``segmented`` is one ``SegmentedSource`` or a dict {source_id: SegmentedSource}, read in
sorted source order)::

    chronology_rows(segmented, mentions)  # -> rows of "chronology" (persons: the mentions)
    bibliography_rows(segmented)          # -> rows of "bibliography"
    index_rows(segmented)                 # -> rows of "index_terms"
    organisation_rows(segmented, sources) # -> rows of "organisations": each glossary
                                          #    entry ("POUM Partido Obrero de Unificacion
                                          #    Marxista (Workers Party of Marxist Unity).
                                          #    Formed in 1935 ..."), as the editors read it
"""

from __future__ import annotations

import datetime
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from .conventions import ITALIC, fold
from .conventions import strip_marks as plain
from .dates import MONTHS
from .errors import PipelineError
from .mentions import Mention
from .resources import table_schema
from .segment import SegmentedSource, Unit, paragraphs

Row = dict[str, Any]
Segmented = SegmentedSource | Mapping[str, SegmentedSource]

MONTH_NAME = r"(?:January|February|March|April|May|June|July|August|September|October|" \
             r"November|December)"
DASH_CHARS = "–—-"
DASH = f"[{DASH_CHARS}]"


def _each(segmented: Segmented) -> Iterable[SegmentedSource]:
    """One source, or every source of a build in sorted order (each taken as it comes:
    it may be read from disk, pipeline/spill.py)."""
    if isinstance(segmented, Mapping):
        return (segmented[k] for k in sorted(segmented))
    return [segmented]


def _body_paragraphs(segmented: SegmentedSource, unit: Unit) -> list[str]:
    """The paragraphs of a unit's own text, its heading paragraph left out."""
    start, end = segmented.body_span(unit)
    text = segmented.text[start:end]
    return [text[s:e] for s, e in paragraphs(text)]


# --- chronology ------------------------------------------------------------------------

YEAR_LINE = re.compile(rf"^(?P<year>\d{{4}})(?:\s*{DASH}\s*(?P<end>\d{{2}}|\d{{4}}))?(?![\d])"
                       r"\s*[:.]?\s*(?P<text>.*)$", re.S)
MONTH_LINE = re.compile(rf"^(?:(?P<day1>\d{{1,2}})\s+)?(?P<month>{MONTH_NAME})"
                        rf"(?:\s+(?P<day2>\d{{1,2}}))?\s*[:.{DASH_CHARS}]\s*(?P<text>.*)$", re.S)
# A day printed in brackets in the event text: "(30 December)" or "(December 30)".
DAY_IN_TEXT = re.compile(rf"\((?:(?P<d1>\d{{1,2}})\s+(?P<m1>{MONTH_NAME})|"
                         rf"(?P<m2>{MONTH_NAME})\s+(?P<d2>\d{{1,2}}))\)")
FIRST_SENTENCE = re.compile(r"^.*?[.!?](?=\s|$)", re.S)


@dataclass
class ChronologyDate:
    """The date a chronology line prints, as ISO 8601 strings."""

    date: str = ""
    date_end: str = ""
    precision: str = ""
    as_written: str = ""
    text: str = ""


def _range_end(start: int, end: str) -> int:
    """'1920–22' → 1922; a two-digit end keeps the start's century (or the next one)."""
    if len(end) == 4:
        return int(end)
    value = start // 100 * 100 + int(end)
    return value + 100 if value < start else value


def _valid_day(year: int, month: int, day: int) -> bool:
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def parse_chronology_line(line: str, current_year: int | None) -> tuple[ChronologyDate, int | None]:
    """Date one printed chronology line; return it and the year that later lines inherit.

    A line led by a year ("1921 Kronstadt uprising.") or a range ("1920–22 …") is dated
    by it; a line led by a month ("July: …") takes the year of the last year line, and
    is left undated when that was a range (which year is meant is not printed). A day
    printed in brackets in the first sentence of a year line ("Serge's birth (30
    December).") dates the line to the day; a day in a later sentence dates only that
    later event, so the line keeps the year.
    """
    line = " ".join(line.split())
    m = YEAR_LINE.match(line)
    if m:
        year = int(m["year"])
        text = m["text"]
        written = line[:m.start("text")].rstrip(" :.") if text else line
        if m["end"]:
            end = _range_end(year, m["end"])
            return ChronologyDate(str(year), str(end), "year", written, text), None
        first = FIRST_SENTENCE.match(text)
        days = list(DAY_IN_TEXT.finditer(text))
        if first and len(days) == 1 and days[0].end() <= first.end():
            d = days[0]
            month = MONTHS[(d["m1"] or d["m2"]).lower()]
            day = int(d["d1"] or d["d2"])
            if _valid_day(year, month, day):
                return ChronologyDate(f"{year}-{month:02d}-{day:02d}", "", "day",
                                      f"{written} {d.group(0)}", text), year
        return ChronologyDate(str(year), "", "year", written, text), year
    m = MONTH_LINE.match(line)
    if m:
        text = m["text"]
        written = line[:m.start("text")].rstrip(" :." + DASH_CHARS)
        if current_year is None:
            return ChronologyDate("", "", "", written, text), current_year
        month = MONTHS[m["month"].lower()]
        printed_day = m["day1"] or m["day2"]
        if printed_day and _valid_day(current_year, month, int(printed_day)):
            return ChronologyDate(f"{current_year}-{month:02d}-{int(printed_day):02d}", "", "day",
                                  written, text), current_year
        return ChronologyDate(f"{current_year}-{month:02d}", "", "month", written, text), \
            current_year
    # Neither a year nor a month leads the line: kept, undated, never guessed.
    return ChronologyDate("", "", "", "", line), current_year


def chronology_rows(segmented: Segmented,
                    mentions: Mapping[str, Sequence[Mention]] | None = None) -> list[Row]:
    """Rows of the ``chronology`` table: one per printed line of each chronology unit.

    ``mentions`` are the mentions stage's result by source id (``mentions.find_mentions``,
    by the one name index); a row's ``persons`` are the persons mentioned in its printed
    line, in order of first mention, each once: the chronology and the mentions table
    say the same. Without ``mentions``, no row lists persons.
    """
    rows: list[Row] = []
    for seg in _each(segmented):
        if not seg.of_type("chronology"):
            continue    # (its mentions are not even read: they may be on disk, spill.py)
        found = (mentions or {}).get(seg.source_id, ())
        rows.extend(_chronology_rows(seg, [m for m in found if m.entity_type == "person"]))
    return rows


def _chronology_rows(segmented: SegmentedSource, persons: Sequence[Mention]) -> list[Row]:
    rows: list[Row] = []
    offsets = [m.offset for m in persons]
    for unit in segmented.of_type("chronology"):
        year: int | None = None
        body, body_end = segmented.body_span(unit)
        for n, (start, end) in enumerate(paragraphs(segmented.text[body:body_end]), start=1):
            start, end = body + start, body + end
            # A paragraph is one printed line; a stray line break inside it is a wrap.
            parsed, year = parse_chronology_line(segmented.text[start:end], year)
            named = [m.entity_id for m in
                     persons[bisect_left(offsets, start):bisect_left(offsets, end)]]
            rows.append({
                "event_id": f"{unit.document_id}-{n:03d}", "source_id": segmented.source_id,
                "document_id": unit.document_id, "n": n, "date": parsed.date,
                "date_end": parsed.date_end, "precision": parsed.precision,
                "date_as_written": parsed.as_written, "text": parsed.text,
                "persons": list(dict.fromkeys(named)),
            })
    return rows


# --- bibliography ----------------------------------------------------------------------

LIST_MARKER = re.compile(r"^[-•]\s+")
DITTO = re.compile(r"^(?:—+|–{2,}|-{2,}|_{2,})\s*")
YEAR_PAREN = re.compile(r"\((?P<year>\d{4})(?:\s*(?:[,–—-]|and)\s*\d{2,4})*\)")
# Another author-year entry run into the same paragraph: ". Broue, P. (1968) '…".
RUN_IN_ENTRY = re.compile(r"(?<=[.)])\s+(?=[A-Z][\w'’-]+(?:[ -][A-Z][\w'’-]+)*,"
                          r"(?:\s?[A-Z]\.)+(?:\s*\(eds?\.\))?\s*\(\d{4})")
# A whole quoted title: its closing quote is followed by punctuation, "in", or the end
# (so "'Left-Wing' Communism – …" is not a quoted title, and "'L'Action …'" is one).
QUOTED_TITLE = re.compile(r"^(?P<q>['‘\"“])(?P<title>.+?)['’\"”]"
                          r"(?=\s*[,.;(]|\s+in\s|\s*$)", re.S)
THESIS = re.compile(r"\((?P<degree>PhD|Ph\.D\.|DPhil|D\.Phil\.|MPhil|MA|MLitt|BLitt|[Tt]hesis)"
                    r",\s*(?P<institution>[^()]+?),\s*(?P<year>\d{4})\)")
# Where an unmarked title ends: the imprint, or the editor's, translator's, co-author's words.
TITLE_STOPS = re.compile(r",?\s*\((?=[A-Z])|,\s*(?:ed\.|eds\.|transl|written with|with |in )")
TRAILING_DATE = re.compile(rf",\s*(?:\d{{1,2}}\s+)?(?:{MONTH_NAME}\s+)?(?P<year>\d{{4}})\.?$")
TRANSLATION_IMPRINT = re.compile(r"^transl\.\s*(?:\[\d{4}\]|\d{4})\s*(?=[A-Z][^:]*:)")
PUBLISHER_WORDS = re.compile(r"\b(?:Press|University|Publishers?|Publications|Books)\b")
SECTION_KINDS = [  # a section's printed title fixes the kind of all its entries
    (re.compile(r"\barchives?\b", re.I), "archive"),
    (re.compile(r"\bthes[ie]s\b|\bdissertations?\b", re.I), "thesis"),
    (re.compile(r"\bjournals?\b|\bnewspapers?\b|\bperiodicals?\b", re.I), "periodical"),
]
@dataclass
class BibEntry:
    """One parsed bibliography entry; empty strings where the print is not explicit."""

    text: str
    kind: str = "other"
    authors: str = ""
    year: str = ""
    title: str = ""
    place: str = ""
    publisher: str = ""
    ditto: bool = False


def section_kind(title: str) -> str:
    """The kind a section's title gives all its entries ('' when it gives none)."""
    for pattern, kind in SECTION_KINDS:
        if pattern.search(title):
            return kind
    return ""


def bibliography_entries(paras: list[str]) -> list[str]:
    """The printed entries of a section's paragraphs, conversion damage undone.

    - a paragraph whose lines carry list markers ("- ") is one entry per line (the
      ebook's list markup, not printed, is dropped); otherwise its line breaks are wraps;
    - a paragraph opening with a bracket that is not an entry's year ("(New York:
      Pathfinder).") continues the previous entry, split off by a page break;
    - an author-year entry run into the previous one ("… Press). Broue, P. (1968) …")
      is split off;
    - a "Note: …" paragraph is the section's head-note, not an entry.
    """
    entries: list[str] = []
    for para in paras:
        lines = [ln.strip() for ln in para.split("\n") if ln.strip()]
        if len(lines) > 1 and all(LIST_MARKER.match(ln) for ln in lines):
            items = [LIST_MARKER.sub("", ln) for ln in lines]
        else:
            items = [LIST_MARKER.sub("", " ".join(lines))]
        for item in items:
            if item.startswith("Note:") or item.startswith("*Note"):
                continue
            if entries and item.startswith("(") and not re.match(r"\(\d{4}", item):
                entries[-1] = f"{entries[-1]} {item}"
                continue
            entries.extend(part.strip() for part in RUN_IN_ENTRY.split(item))
    return entries


def _imprint(rest: str) -> tuple[str, str, tuple[int, int] | None]:
    """Place and publisher of the first imprint bracket in ``rest`` (italics and quoted
    titles masked), and the bracket's span. "(Place: Publisher, 1976; and …)": the first
    place and publisher; "(… University Press)": publisher only; "(Paris)": place only.
    A bracket opening with a lower-case word or a digit is not an imprint, bar a
    translation's imprint ("(transl. [1939] London: Secker and Warburg)")."""
    masked = ITALIC.sub(lambda m: "x" * len(m.group(0)), rest)
    q = QUOTED_TITLE.match(masked)
    if q:
        masked = "x" * q.end() + masked[q.end():]
    for m in re.finditer(r"\(([^()]*)\)", masked):
        inner = rest[m.start(1):m.end(1)].strip()
        # "(transl. [1939] London: Secker and Warburg)": the imprint of the translation,
        # whose title is the one printed
        inner = TRANSLATION_IMPRINT.sub("", inner)
        if not inner or not inner[0].isupper() or THESIS.fullmatch(m.group(0)):
            continue
        first = inner.split(";")[0].strip()
        if ":" in first:
            place, _, publisher = first.partition(":")
            # the first publisher only: later ones (", Hutchinson", ", and …") and reprint
            # years stay in ``text``
            publisher = publisher.split(",")[0]
            return place.strip(), publisher.strip(" ,."), m.span()
        first = re.split(r",\s*\d{4}", first)[0].strip(" ,.")
        if PUBLISHER_WORDS.search(first):
            return "", first, m.span()
        return first, "", m.span()
    return "", "", None


def parse_bibliography_entry(text: str, kind: str = "") -> BibEntry:
    """Parse one entry as printed; ``kind`` is the kind its section fixes, if any.

    Authors are what precedes the year in brackets (or a quoted/italic title); the year
    is the first year in that bracket; the title is the first ``*italic*`` or a whole
    quoted title (an article's, a thesis's), else the words between the year and the
    imprint; place and publisher come from the imprint bracket.
    """
    entry = BibEntry(text=text)
    if kind == "periodical":
        entry.kind, entry.title = kind, text.rstrip(".").strip()
        return entry
    if kind == "archive":
        # "Serge Papers, Musée Sociale, Paris.": the collection is named first; holder and
        # place cannot be told apart ("Harvard University" / "Paris"), so are left empty.
        entry.kind, entry.title = kind, text.split(",")[0].rstrip(".").strip()
        return entry
    body = text
    ditto = DITTO.match(body)
    if ditto:
        entry.ditto, body = True, body[ditto.end():]
    year = YEAR_PAREN.search(body)
    quote = re.search(r"['‘\"“*]", body)
    if year and (quote is None or year.start() < quote.start()):
        entry.authors = body[:year.start()].strip(" ,")
        entry.year = year["year"]
        rest = body[year.end():].strip()
    else:
        start = quote.start() if quote else 0
        prefix = body[:start].strip(" ,")
        if re.search(r"[A-Z]\.$", prefix):  # "Reed, D. and Jakobson, M." — names end in initials
            entry.authors = prefix
            rest = body[start:]
        else:
            rest = body
    thesis = THESIS.search(rest)
    if thesis:
        entry.kind = "thesis"
        entry.year = entry.year or thesis["year"]
        entry.publisher = thesis["institution"].strip()  # the awarding institution
    elif kind:
        entry.kind = kind
    if not entry.year:
        trailing = TRAILING_DATE.search(text)
        if trailing:
            entry.year = trailing["year"]
    place, publisher, imprint_span = _imprint(rest)
    if entry.kind != "thesis":
        entry.place, entry.publisher = place, publisher
    quoted = QUOTED_TITLE.match(rest)
    italic = ITALIC.search(rest)
    title_end = 0
    if quoted:
        entry.title, title_end = " ".join(quoted["title"].split()), quoted.end()
        if entry.kind == "other" and not kind:
            own = publisher if imprint_span is None or len(
                ITALIC.findall(rest[title_end:imprint_span[0]])) <= 1 else ""
            entry.kind = _container_kind(rest[title_end:], own)
    elif italic and italic.start() == 0:
        entry.title, title_end = " ".join(italic.group(1).split()), italic.end()
        if not kind and entry.kind == "other":
            inside = re.match(r"\s*,?\s*in\s+[*A-Z]", rest[title_end:])
            entry.kind = _container_kind(rest[title_end:], publisher) if inside else "book"
    elif rest and (year or entry.authors):
        # An unmarked title (the ebook lost its italics): up to the imprint or the
        # editor's/translator's words; without such a boundary it is left empty.
        stop = TITLE_STOPS.search(rest)
        if stop and stop.start() > 0:
            entry.title, title_end = rest[:stop.start()].strip(" ,."), stop.start()
            if not kind and entry.kind == "other" and imprint_span:
                entry.kind = "book"
    if imprint_span and entry.title:
        # The imprint belongs to the entry's title only if no other title comes between
        # them, bar the container of a chapter or article: in "*Au pays…*, transl. (1940)
        # as *The Russian Enigma* (London: …)" London is the translation's, not the title's.
        between = len(ITALIC.findall(rest[title_end:imprint_span[0]]))
        if between > (1 if entry.kind in ("chapter", "article") else 0):
            entry.place = entry.publisher = ""
    return entry


# The work that holds a titled piece: "in *Journal*", "*Book*", or where the piece was
# first published ("first publ. in Russian in *Bulletin of the Opposition*").
CONTAINER = re.compile(r"\s*,?\s*(?:first publ(?:\.|ished)\s+(?:in\s+[A-Z]\w+\s+)?)?"
                       r"(?:in\s+)?[*A-Z]")


def _container_kind(after: str, publisher: str) -> str:
    """A titled piece inside another work: in a book (an imprint with a publisher) it is
    a chapter; in a journal (volume and number, or no publisher of its own) an article;
    a piece "first publ. in *X*" is in X. ``publisher`` is the publisher of the
    container's imprint, empty when the imprint belongs to a later title (a
    translation's). Without a container the kind is left as 'other'."""
    if not CONTAINER.match(after):
        return "other"
    return "chapter" if publisher else "article"


def _section_titles(segmented: SegmentedSource, top: Unit, unit: Unit) -> list[str]:
    """Printed titles of the sections from below ``top`` down to ``unit``."""
    path = [unit, *segmented.ancestors(unit)]
    below_top = path[:[u.document_id for u in path].index(top.document_id)]
    return [u.title.rstrip(" :") for u in reversed(below_top)]


INFERABLE = ("authors", "year", "title", "place", "publisher")


@dataclass
class BibInference:
    """A field of one bibliography entry that the editors infer: the entry (the start of
    its text as printed), the field, its value and the basis of the inference."""

    entry: str
    field: str
    value: str
    basis: str
    where: str


def bibliography_inferences(sources: Iterable[Any]) -> dict[str, list[BibInference]]:
    """The editors' inferences for bibliography fields, per source id, from each source's
    ``[[bibliography.inferred]]`` entries (``entry``, one field of INFERABLE, ``basis``)."""
    found: dict[str, list[BibInference]] = {}
    for source in sources:
        table = source.extra.get("bibliography", {})
        for i, item in enumerate(table.get("inferred", []) if isinstance(table, dict) else []):
            label = f"bibliography.inferred[{i}]"
            fields = [k for k in item if k in INFERABLE]
            unknown = set(item) - {"entry", "basis", *INFERABLE}
            if unknown or len(fields) != 1 or not item.get("entry") or not item.get("basis"):
                raise PipelineError("needs 'entry', 'basis' and one field of "
                                    f"{', '.join(INFERABLE)}" +
                                    (f" (unknown keys {sorted(unknown)})" if unknown else ""),
                                    file=str(source.metadata_path), field=label)
            found.setdefault(source.source_id, []).append(BibInference(
                item["entry"], fields[0], str(item[fields[0]]), item["basis"],
                f"{source.metadata_path}"))
    return found


def _apply_inferences(rows: list[Row], inferences: list[BibInference]) -> None:
    """Fill the inferred fields: each inference names exactly one entry, whose field the
    print leaves empty (a printed value is never overridden)."""
    for inf in inferences:
        matches = [r for r in rows if r["text"].startswith(inf.entry)]
        if len(matches) != 1:
            raise PipelineError(f"entry {inf.entry!r} matches {len(matches)} bibliography "
                                "entries, not one", file=inf.where, field="bibliography.inferred")
        row = matches[0]
        if row[inf.field]:
            raise PipelineError(f"entry {row['entry_id']} prints its {inf.field} "
                                f"({row[inf.field]!r}): nothing to infer", file=inf.where,
                                field="bibliography.inferred")
        row[inf.field] = inf.value
        row["inferred"] = [*row["inferred"], inf.field]
        row["inference_basis"] = " ".join(filter(None, [row["inference_basis"],
                                                        f"{inf.field}: {inf.basis}"]))


def bibliography_rows(segmented: Segmented,
                      inferences: dict[str, list[BibInference]] | None = None) -> list[Row]:
    """Rows of the ``bibliography`` table: one per printed entry, in printed order.

    Sections are the bibliography unit's sub-units; a section's path is the printed
    titles from below the bibliography down to it ("Primary Sources / Works by Serge").
    ``inferences`` (``bibliography_inferences``) fill fields the print leaves empty,
    each marked in ``inferred`` with its basis.
    """
    rows: list[Row] = []
    for seg in _each(segmented):
        own = _bibliography_rows(seg)
        _apply_inferences(own, (inferences or {}).get(seg.source_id, []))
        rows.extend(own)
    return rows


def _bibliography_rows(segmented: SegmentedSource) -> list[Row]:
    rows: list[Row] = []
    for top in segmented.of_type("bibliography"):
        for unit in segmented.subtree(top):
            titles = _section_titles(segmented, top, unit)
            path = " / ".join(titles)
            # the innermost section whose title names a kind decides it
            kind = next((k for k in map(section_kind, reversed(titles)) if k), "")
            previous_authors = ""
            for n, text in enumerate(bibliography_entries(_body_paragraphs(segmented, unit)),
                                     start=1):
                entry = parse_bibliography_entry(text, kind)
                if entry.ditto:  # "—— (1986) …": the same authors as the entry above
                    entry.authors = previous_authors
                previous_authors = entry.authors
                rows.append({
                    "entry_id": f"{unit.document_id}-{n:02d}", "source_id": segmented.source_id,
                    "document_id": unit.document_id, "section": path, "n": n,
                    "kind": entry.kind, "authors": entry.authors, "year": entry.year,
                    "title": entry.title, "place": entry.place, "publisher": entry.publisher,
                    "text": entry.text, "inferred": [], "inference_basis": "",
                })
    return rows


# --- index -----------------------------------------------------------------------------

SEE = re.compile(r"(?:^|[,.;:(]\s*)\*?(?P<see>see(?: also)?)\*?\s+(?P<target>[^;)]+)\)?", re.I)
# What may stand in a printed entry besides its words and references.
SEPARATORS = " ,;:."


@dataclass
class IndexTerm:
    """One row of an index entry: the headword's own references, or a sub-entry's."""

    sub_entry: str
    references: int = 0
    see: str = ""


def index_references(sources: Iterable[Any]) -> dict[str, re.Pattern[str]]:
    """What a reference looks like in each source's index, from its metadata.

    ``[index] reference`` in a source's ``source.toml`` is a regular expression for one
    printed reference (a page number, or the ebook's 'ref12' tokens): the index parser
    counts it and treats everything else between references as labels. A source
    without an index table gets none (its index units, if any, are a located error).
    """
    found: dict[str, re.Pattern[str]] = {}
    for source in sources:
        table = source.extra.get("index", {})
        if not table:
            continue
        pattern = table.get("reference", "") if isinstance(table, dict) else ""
        try:
            found[source.source_id] = re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])")
        except re.error as exc:
            raise PipelineError(f"not a regular expression: {exc}", file=str(source.metadata_path),
                                field="index.reference") from None
        if not pattern or found[source.source_id].search(""):
            raise PipelineError("must be a regular expression that matches one printed "
                                "reference", file=str(source.metadata_path),
                                field="index.reference")
    return found


def _split_see(label: str) -> tuple[str, str]:
    m = SEE.search(label)
    if not m:
        return label, ""
    return label[:m.start()].strip(" ,;:."), f"{m['see'].lower()} {m['target'].strip(' .,')}"


def _brackets_and_titles_blanked(text: str) -> str:
    """``text`` with bracketed parts and quoted titles blanked out, same length."""
    return re.sub(r"\([^()]*\)|(?<!\w)['‘].*?['’](?!\w)",
                  lambda m: "x" * len(m.group(0)), text)


def _colon_outside_brackets(text: str) -> int:
    """Position of the first colon not inside brackets or a quoted title; -1 if none."""
    return _brackets_and_titles_blanked(text).find(":")


def _semicolon_parts(text: str) -> list[str]:
    """``text`` split at semicolons that are not inside a quoted title or brackets."""
    cuts = [i for i, ch in enumerate(_brackets_and_titles_blanked(text)) if ch == ";"]
    bounds = [-1, *cuts, len(text)]
    return [text[a + 1:b] for a, b in pairwise(bounds)]


def parse_index_entry(entry: str, reference: re.Pattern[str]) -> tuple[str, list[IndexTerm]]:
    """Headword and rows of one printed index entry; the first row is the headword's own.

    ``reference`` matches one printed reference (``index_references``). The entry reads
    "Headword, ref1, ref2; sub-entry, ref3; …". Text between two references starts a
    sub-entry, whether the printer separated it with ';' or, by a slip, with ',' or ':'
    ("in France, ref7, in Spain, ref8"); a sub-entry made only of digits ("1917", under
    "revolution") is a label like any other. A colon in the headword ("Belgian:
    comrades, ref1") introduces the first sub-entry, so the headword's own row then has
    no references. Each row counts its references. A cross-reference ("see also X")
    belongs to the sub-entry it follows without a semicolon, and to the headword when it
    stands after a semicolon on its own.
    """
    entry = " ".join(entry.split())
    pieces = reference.split(entry)
    head = pieces[0].strip(" ,;")
    head, see = _split_see(head)
    terms = [IndexTerm("", 0, see)]
    colon = _colon_outside_brackets(head)
    if colon > 0 and head[colon + 1:].strip():
        head, first_sub = head[:colon].strip(), head[colon + 1:].strip(" ,;")
        terms.append(IndexTerm(first_sub))
    for between in pieces[1:]:
        terms[-1].references += 1  # the reference that precedes ``between``
        for k, part in enumerate(_semicolon_parts(between)):
            label = part.strip(SEPARATORS)
            if not label:
                continue
            label, see = _split_see(label)
            if label:
                terms.append(IndexTerm(label, 0, see))
            elif k == 0:   # "rising, ref3, see also X": the sub-entry's cross-reference
                terms[-1].see = terms[-1].see or see
            else:          # "…, ref4; see also X": the whole entry's
                terms[0].see = terms[0].see or see
    return head, terms


def ends_in_separator(entry: str) -> bool:
    """True when a printed entry ends in a ',' or ';' with nothing after it ("FAI, ref1,
    ref2, ref3,"): a continuation was probably lost in the conversion."""
    return entry.rstrip().endswith((",", ";"))


def unaccounted_index_text(entry: str, headword: str, terms: list[IndexTerm],
                           reference: re.Pattern[str]) -> str:
    """What of a printed entry no row holds: the entry less its references, headword,
    labels and cross-references (in printed order) and separators. Empty when nothing
    printed was dropped."""
    rest = reference.sub(" ", " ".join(entry.split()))
    cursor = 0
    for m, term in enumerate(terms):
        label = term.sub_entry if m else headword
        at = rest.lower().find(label.lower(), cursor) if label else cursor
        if at < 0:
            return label
        rest, cursor = rest[:at] + " " + rest[at + len(label):], at
    for term in terms:   # a cross-reference may close the entry, after its sub-entries
        for part in term.see.split(" ", 2 if term.see.startswith("see also ") else 1):
            found = re.search(rf"(?i)(?<!\w){re.escape(part)}(?!\w)", rest) if part else None
            if part and not found:
                return part
            if found:
                rest = rest[:found.start()] + " " + rest[found.end():]
    return "".join(ch for ch in rest if ch not in SEPARATORS + "()*")


def index_rows(segmented: Segmented, references: dict[str, re.Pattern[str]]) -> list[Row]:
    """Rows of the ``index_terms`` table: per printed entry, a row for the headword and
    one per sub-entry, in printed order.

    ``references`` maps a source id to its reference pattern (``index_references``).
    Each index is checked as it is read: its rows' references must add up to the
    references printed in the unit, and every printed label must be a row; otherwise a
    located PipelineError (a parser slip must not publish a wrong table).
    """
    return [row for seg in _each(segmented) for row in _index_rows(seg, references)]


def _index_rows(segmented: SegmentedSource, references: dict[str, re.Pattern[str]]) -> list[Row]:
    rows: list[Row] = []
    for unit in segmented.of_type("index"):
        where = f"sources/{segmented.source_id}/source.toml"
        reference = references.get(segmented.source_id)
        if reference is None:
            raise PipelineError(f"index unit {unit.document_id}: no [index] reference pattern "
                                "says what a printed reference looks like", file=where,
                                field="index.reference")
        counted = 0
        for n, para in enumerate(_body_paragraphs(segmented, unit), start=1):
            headword, terms = parse_index_entry(para, reference)
            lost = unaccounted_index_text(para, headword, terms, reference)
            if lost:
                raise PipelineError(f"index entry {n} ({headword!r}): printed text {lost!r} "
                                    "is in no row", file=where, field="index")
            counted += sum(t.references for t in terms)
            open_end = ends_in_separator(para)
            for m, term in enumerate(terms):
                rows.append({
                    "term_id": f"{unit.document_id}-{n:04d}" + (f"-{m:02d}" if m else ""),
                    "source_id": segmented.source_id, "document_id": unit.document_id,
                    "entry_n": n, "headword": headword, "sub_entry": term.sub_entry,
                    "references": term.references, "see": term.see,
                    "ends_in_separator": open_end,
                })
        printed = len(reference.findall(segmented.own_text(unit)))
        if counted != printed:
            raise PipelineError(f"index unit {unit.document_id}: its rows count {counted} "
                                f"references, the text prints {printed}", file=where,
                                field="index.reference")
    return rows


# --- glossary of organisations -----------------------------------------------------------

GLOSSARY_ENTRY = re.compile(r"^(?P<abbr>[A-Z][A-Z0-9&/-]+)\s+(?P<rest>\S.*)$", re.S)
ORGANISATION_FIELDS = tuple(f["name"] for f in table_schema("organisations")["fields"])


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


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
        """The entry as a row of the organisations table; its evidence (the index entries
        that list it) is for registers.build_organisations to fill."""
        return {name: [] if name == "evidence" else getattr(self, name)
                for name in ORGANISATION_FIELDS}


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
    slug = re.sub(r"[^a-z0-9]+", "-", fold(m["abbr"])).strip("-")
    return Organisation(slug, source_id, m["abbr"], name, english, description)


def read_glossary(seg: SegmentedSource) -> tuple[list[Organisation], list[str]]:
    """The entries of every ``glossary`` unit of a source, and the lines not understood.
    A paragraph that does not open with an abbreviation continues the entry above it."""
    orgs: list[Organisation] = []
    problems: list[str] = []
    for unit in seg.of_type("glossary"):
        start, end = seg.body_span(unit)
        paras = [seg.text[start + s:start + e] for s, e in paragraphs(seg.text[start:end])]
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


def printed_organisation_rows(segmented: dict[str, SegmentedSource]) -> list[dict[str, Any]]:
    """Rows of the ``organisations`` table from every source's glossary units, as printed.
    Raises a PipelineError on an entry it cannot read or an abbreviation defined twice."""
    rows: list[dict[str, Any]] = []
    seen: dict[str, Organisation] = {}
    for source_id in sorted(segmented):
        orgs, problems = read_glossary(segmented[source_id])
        if problems:
            raise PipelineError("; ".join(problems), file=source_id, field="glossary")
        for org in orgs:
            first = seen.get(org.org_id)
            if first is None:
                seen[org.org_id] = org
                rows.append(org.row())
            elif _printed(first) != _printed(org):
                # two glossaries that print one abbreviation differently: a human decides
                raise PipelineError(f"organisation {org.abbreviation!r} defined twice, "
                                    f"differently (also in {first.source_id})", file=source_id,
                                    field="glossary")
            # printed again word for word (another edition of the glossary): one entry,
            # the first source's
    return rows


def _printed(org: Organisation) -> tuple[str, str, str, str]:
    return org.abbreviation, org.name, org.name_english, org.description



# The glossary's rule: ``name`` is the name an entry prints (its first sentence);
# ``name_english`` the English name it prints for a name in another language (in brackets,
# or as the sentence that follows the name); ``description`` what it says of the
# organisation. An entry whose first sentence describes the organisation without naming
# it has no name. The parser (parse_glossary_entry) reads the printed form; which
# entries need the two other readings is the editors' decision, in each source's
# ``[glossary]`` table: ``describes`` and ``english_name_follows`` list abbreviations.
LEADING_QUOTED = re.compile(r"^[‘'\"“](?P<english>[^’'\"”]+)[’'\"”]\s*[,.;:]?\s*")


def _read_as_description(row: Row) -> Row:
    """"GPU The Soviet security police, absorbed …": the first sentence is a description."""
    if row["name_english"]:
        raise ValueError("prints a translation in brackets, so its first sentence is a name")
    first = f"{row['name']}."
    return {**row, "name": "", "description": f"{first} {row['description']}".strip()}


def _read_english_name(row: Row) -> Row:
    """"PCE Partido Comunista de España. The Communist Party of Spain.": the sentence after
    the name is its English name; "RP … ‘The Proletarian Revolution’, newspaper …": the
    quoted words that open it are."""
    if row["name_english"] or not row["description"]:
        raise ValueError("has no sentence after its name, or already an English name")
    quoted = LEADING_QUOTED.match(row["description"])
    if quoted:
        english, rest = quoted["english"].strip(), row["description"][quoted.end():]
    else:
        english, _, rest = row["description"].partition(". ")
        english = english.rstrip(".")
    return {**row, "name_english": english, "description": rest.strip()}


def organisation_rows(segmented: dict[str, SegmentedSource], sources: Iterable[Any]) -> list[Row]:
    """Rows of the ``organisations`` table: each glossary entry as the parser reads it
    (``printed_organisation_rows``), with the editors' readings of each source's
    ``[glossary]`` table applied (see the rule above). An abbreviation listed there that
    the glossary does not print, or whose entry does not have the form the reading
    needs, is a located error."""
    readings = {s.source_id: (s.extra.get("glossary", {}), s.metadata_path) for s in sources}
    rows = printed_organisation_rows(segmented)
    applied: set[tuple[str, str]] = set()   # an entry two glossaries print is read once
    for source_id, (table, path) in readings.items():
        printed = ({o.abbreviation for o in read_glossary(segmented[source_id])[0]}
                   if table and source_id in segmented else set())
        for key, read in (("describes", _read_as_description),
                          ("english_name_follows", _read_english_name)):
            for abbreviation in table.get(key, []):
                at = [i for i, r in enumerate(rows) if r["abbreviation"] == abbreviation
                      and (r["source_id"] == source_id or abbreviation in printed)]
                if not at:
                    raise PipelineError(f"{abbreviation!r} is not an entry of the glossary",
                                        file=str(path), field=f"glossary.{key}")
                if (rows[at[0]]["org_id"], key) in applied:
                    continue
                applied.add((rows[at[0]]["org_id"], key))
                try:
                    rows[at[0]] = read(rows[at[0]])
                except ValueError as exc:
                    raise PipelineError(f"{abbreviation!r} {exc}", file=str(path),
                                        field=f"glossary.{key}") from None
    return rows
