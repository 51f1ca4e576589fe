"""The reading edition: a static web site built from a dataset folder alone.

The site reads what a user of the dataset reads — ``datapackage.json`` and its tables,
the TEI files (``tei/*.xml``, ``tei/letters/*.xml``) and ``letters.jsonl`` — and never the
pipeline's internal stages, so the published dataset is its single source of truth.

Layout (every link relative, so the folder can be served from anywhere or opened as files):
``index.html`` (the edition, its sources, how to cite it, downloads with SHA-256),
``letters/index.html`` (the correspondence as a table that sorts and filters in the page),
``letters/<letter_id>.html`` and ``.json``, ``texts/index.html`` (contents) and
``texts/<unit>.html`` (one page per chapter, article, review or other top unit, with its
notes), ``registers/{persons,places,organisations}.html``, ``chronology.html``,
``bibliography.html``, ``search.html`` (with a prebuilt index, ``static/search-index.js``),
``downloads/`` and ``dataset/`` (a copy of the dataset folder, for the TEI and JSON links).
No page loads anything from elsewhere: no web fonts, scripts or styles.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import posixpath
import re
import shutil
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.resources import files as package_files
from pathlib import Path
from typing import Any

import jinja2
from lxml import etree
from markupsafe import Markup

from . import publish
from .errors import PipelineError
from .sqlite import Dataset, read_dataset

TEI_NS = "http://www.tei-c.org/ns/1.0"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MARKER = ".sergetrotsky-site"
REGISTERS = {
    "persons": ("person_id", "Persons"),
    "places": ("place_id", "Places"),
    "organisations": ("org_id", "Organisations"),
}
# A TEI ref attribute ("person:serge") names a register by one of these prefixes.
REF_PREFIXES = {"person": "persons", "place": "places", "org": "organisations"}
NAME_REGISTERS = {"persName": "persons", "placeName": "places", "orgName": "organisations"}
STANDOFF_ENTRIES = {
    "person": "persons",
    "personGrp": "persons",
    "place": "places",
    "org": "organisations",
}
# A mentions table's entity_type column names the register.
ENTITY_TYPES = {
    "person": "persons",
    "place": "places",
    "organisation": "organisations",
    "org": "organisations",
}
# Top units of these types are read whole on one page; a book gets a page per part.
BOOK_TYPES = {"book"}
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
# ISO 639-1 codes the letters' headings use, named for readers; others show as codes.
LANGUAGE_NAMES = {
    "en": "English",
    "fr": "French",
    "ru": "Russian",
    "es": "Spanish",
    "de": "German",
    "ca": "Catalan",
    "it": "Italian",
}
ROLE_LABELS = {
    ("letters", "sender_id"): "Letters sent",
    ("letters", "addressee_id"): "Letters received",
    ("letters", "place_id"): "Letters written here",
    ("documents", "author_id"): "Texts by this author",
    ("documents", "place_id"): "Texts written here",
}


@dataclass
class SiteSummary:
    """What a site build wrote."""

    pages: int
    letters: int
    units: int
    files: int
    search_entries: int


@dataclass
class Link:
    """A link to a page (or a place in one), relative to the site's root."""

    url: str
    title: str
    kind: str = ""

    @property
    def page(self) -> str:
        return self.url.split("#", 1)[0]


@dataclass
class Rendered:
    """A TEI fragment as HTML with what the walk found in it."""

    html: Markup
    text: str
    has_heading: bool = True
    notes: list[str] = field(default_factory=list)
    calls: dict[str, list[str]] = field(default_factory=dict)
    mentions: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _RenderedLetter:
    """What a letter page needs, gathered while the letters are rendered (the pages are
    written once every letter's notes and neighbours are known)."""

    row: dict[str, Any]
    rendered: Rendered
    correction: dict[str, Any] | None
    remarks: list[str]
    note_ids: list[str]
    prev_id: str | None
    next_id: str | None
    thread: dict[str, str | None]
    has_json: bool


def build_site(dataset_dir: Path, out_dir: Path) -> SiteSummary:
    """Build the static site for the dataset at DATASET_DIR into OUT_DIR (atomically).

    OUT_DIR is replaced only when it is absent, empty or an earlier site (it holds
    the marker file ``.sergetrotsky-site``); anything else is refused.
    """
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise PipelineError(
            "refusing to replace a folder that is not a site built by "
            "this tool (no .sergetrotsky-site marker)",
            file=str(out_dir),
        )
    dataset = read_dataset(dataset_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".site-", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a site is for reading
    try:
        summary = Site(dataset, tmp).build()
        (tmp / MARKER).write_text(
            "Built by `sergetrotsky site`; replaced by each build.\n", encoding="utf-8"
        )
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return summary


def tokens(text: str) -> list[str]:
    """Search tokens: diacritics folded, lower case, runs of letters and digits.

    ``static/search.js`` tokenises queries the same way.
    """
    folded = _COMBINING.sub("", unicodedata.normalize("NFD", text)).lower()
    return _TOKEN.findall(folded)


# The combining diacritical marks (U+0300–U+036F) that NFD splits off a letter.
_COMBINING = re.compile("[\u0300-\u036f]+")
_TOKEN = re.compile(r"[^\W_]+")


def human_date(iso: str | None) -> str:
    """'1936-04-22' → '22 April 1936'; '1936-07' → 'July 1936'; '1936' → '1936'."""
    if not iso:
        return ""
    parts = iso.split("-")
    if len(parts) == 3:
        return f"{int(parts[2])} {MONTHS[int(parts[1]) - 1]} {parts[0]}"
    if len(parts) == 2:
        return f"{MONTHS[int(parts[1]) - 1]} {parts[0]}"
    return parts[0]


def italics(text: str | None) -> Markup:
    """Text with the dataset's *italics* markup as HTML <em>, everything else escaped."""
    escaped = html.escape(text or "", quote=False)
    return Markup(re.sub(r"\*([^*\n]+)\*", r"<em>\1</em>", escaped))


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _fragment(target: str | None) -> str:
    return (target or "").rsplit("#", 1)[-1]


def _standoff_entries(tree: etree._ElementTree) -> dict[str, tuple[str, str]]:
    """The person, place and organisation entries a TEI file lists (in its standOff or
    anywhere else): xml:id → (register, the entry's dataset idno)."""
    entries = {}
    for element, register in STANDOFF_ENTRIES.items():
        for entry in tree.iter(f"{{{TEI_NS}}}{element}"):
            idno = entry.find(f"{{{TEI_NS}}}idno[@type='dataset']")
            if entry.get(XML_ID) and idno is not None and (idno.text or "").strip():
                entries[entry.get(XML_ID)] = (register, idno.text.strip())
    return entries


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def _templates() -> jinja2.Environment:
    """The page templates, compiled once per process (a template is compiled when first
    rendered, and a process that builds several sites, as the tests do, reuses them)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(package_files("sergetrotsky") / "site_templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["human_date"] = human_date
    env.filters["italics"] = italics
    return env


class Site:
    """Everything one build needs: the dataset's tables, its TEI, and the page plan."""

    def __init__(self, dataset: Dataset, out: Path) -> None:
        self.dataset = dataset
        self.out = out
        self.meta = dataset.descriptor
        self.docs = {d["document_id"]: d for d in dataset.rows("documents")}
        self.children: dict[str, list[str]] = defaultdict(list)
        for doc in self.docs.values():
            if doc.get("parent_id"):
                self.children[doc["parent_id"]].append(doc["document_id"])
        self.letters = {row["letter_id"]: row for row in dataset.rows("letters")}
        self.letter_order = list(self.letters)
        self.notes = {n["note_id"]: n for n in dataset.rows("notes")}
        self.registers = {
            name: {row[key]: row for row in dataset.rows(name)}
            for name, (key, _) in REGISTERS.items()
        }
        self.records = self._read_jsonl()
        self.tei_files = self._read_tei()
        self.note_elements: dict[str, etree._Element] = {}
        # A letter's own TEI file holds copies of its notes under ids of its own, each
        # pointing by @corresp to the book's note: the site shows them under the book's ids.
        self.note_copies: dict[str, str] = {}
        # A standOff list's entry (its xml:id) → the register entry its dataset idno names.
        self.standoff_entries: dict[str, tuple[str, str]] = {}
        for tree in self.tei_files.values():
            for note in tree.iter(f"{{{TEI_NS}}}note"):
                if note.get(XML_ID):
                    self.note_elements[note.get(XML_ID)] = note
            self.standoff_entries.update(_standoff_entries(tree))
        for tree in self.tei_files.values():
            for note in tree.iter(f"{{{TEI_NS}}}note"):
                own, book = note.get(XML_ID), _fragment(note.get("corresp"))
                if own and own not in self.notes and book in self.notes:
                    self.note_copies[own] = book
        self.unit_elements: dict[str, etree._Element] = {}
        for doc in self.docs.values():
            tree = self.tei_files.get(doc["tei_path"])
            if tree is None:
                raise PipelineError(
                    "TEI file of a unit is missing",
                    file=str(dataset.file(doc["tei_path"])),
                    field=f"documents.tei_path [{doc['document_id']}]",
                )
        for tree in self.tei_files.values():
            for div in tree.iter(f"{{{TEI_NS}}}div"):
                if div.get(XML_ID) in self.docs:
                    self.unit_elements[div.get(XML_ID)] = div
        self.pages = self._plan_pages()
        self.note_pages: dict[str, str] = {}
        # Register entry → pages that name it: in the TEI (named_in) or in any table too.
        self.mentions: dict[tuple[str, str], dict[str, Link]] = defaultdict(dict)
        self.named_in: dict[tuple[str, str], dict[str, Link]] = defaultdict(dict)
        self.search_entries: list[dict[str, str]] = []
        self.env = _templates()
        self.written = 0
        self._letters_rendered: dict[str, _RenderedLetter] = {}
        self._units_rendered: dict[str, Rendered] = {}

    # ---- reading -------------------------------------------------------------------

    def _read_jsonl(self) -> dict[str, dict[str, Any]]:
        path = self.dataset.file("letters.jsonl")
        records = {}
        if path.is_file():
            for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise PipelineError(
                            f"invalid JSON: {exc.msg}", file=str(path), line=line_no
                        ) from None
                    records[record["letter_id"]] = record
        return records

    def _read_tei(self) -> dict[str, etree._ElementTree]:
        paths = sorted(
            {d["tei_path"] for d in self.docs.values()}
            | {row["tei_path"] for row in self.letters.values() if row.get("tei_path")}
        )
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
        trees = {}
        for relative in paths:
            path = self.dataset.file(relative)
            if not path.is_file():
                raise PipelineError("TEI file is missing", file=str(path))
            try:
                trees[relative] = etree.parse(str(path), parser)
            except etree.XMLSyntaxError as exc:
                raise PipelineError(
                    f"not well-formed XML: {exc.msg}", file=str(path), line=exc.lineno
                ) from None
        return trees

    # ---- where things are ----------------------------------------------------------

    def _plan_pages(self) -> dict[str, str]:
        """Unit id → the page unit that shows it (a letter is its own page)."""
        pages: dict[str, str] = {}

        def assign(unit_id: str, page: str) -> None:
            if unit_id in self.letters:
                page = unit_id
            pages[unit_id] = page
            for child in self.children.get(unit_id, []):
                assign(child, page)

        for doc in self.docs.values():
            if doc.get("parent_id"):
                continue
            pages[doc["document_id"]] = doc["document_id"]
            if doc["type"] in BOOK_TYPES:
                for child in self.children.get(doc["document_id"], []):
                    assign(child, child)
            else:
                for child in self.children.get(doc["document_id"], []):
                    assign(child, doc["document_id"])
        return pages

    def page_path(self, page_unit: str) -> str:
        if page_unit in self.letters:
            return f"letters/{page_unit}.html"
        return f"texts/{page_unit}.html"

    def url_for(self, unit_id: str) -> str:
        """The site-root-relative URL where a unit is shown."""
        page = self.pages.get(unit_id, unit_id)
        path = self.page_path(page)
        return path if page == unit_id else f"{path}#{unit_id}"

    def note_url(self, note_id: str) -> str:
        """Where a note is read: the page that calls it, else the printed notes list."""
        if note_id in self.note_pages:
            return f"{self.note_pages[note_id]}#{note_id}"
        note = self.notes.get(note_id)
        printed_in = note["printed_in_id"] if note else ""
        return f"{self.page_path(self.pages.get(printed_in, printed_in))}#{note_id}"

    def book_note(self, note_id: str) -> str:
        """The book's note id for a note or a letter file's copy of it."""
        return self.note_copies.get(note_id, note_id)

    def title_of(self, unit_id: str) -> str:
        doc = self.docs.get(unit_id)
        return (doc.get("title") or unit_id) if doc else unit_id

    def register_entry(self, element: str, ref: str) -> tuple[str | None, str]:
        """The register entry a name's reference points to: 'person:serge' (a prefixDef),
        '#serge' or 'file.xml#person-serge' (a list in the file or elsewhere), or 'serge'.
        An id listed in a TEI file's standOff ('#papers-letter-1-person-serge') is read
        through that list's entry, whose dataset idno names the register entry."""
        first = ref.split()[0] if ref.split() else ""
        prefix, colon, rest = first.partition(":")
        listed = (
            getattr(self, "standoff_entries", {}).get(_fragment(first)) if "#" in first else None
        )
        if listed and listed[1] in self.registers[listed[0]]:
            return listed
        register: str | None
        if colon and prefix in REF_PREFIXES:
            register, entry_id = REF_PREFIXES[prefix], rest
        else:
            register = NAME_REGISTERS.get(element)
            entry_id = _fragment(first)
        if register is None:
            return None, ""
        for candidate in (entry_id, entry_id.split("-", 1)[-1]):
            if candidate in self.registers[register]:
                return register, candidate
        return None, ""

    def person_name(self, person_id: str | None) -> str:
        row = self.registers["persons"].get(person_id or "")
        return row["name"] if row else (person_id or "")

    def place_name(self, place_id: str | None) -> str:
        row = self.registers["places"].get(place_id or "")
        return row["name"] if row else (place_id or "")

    def note_label(self, note_id: str) -> str:
        note = self.notes.get(note_id)
        if not note:
            return note_id
        number = note.get("n") if note.get("n") is not None else (note.get("mark") or "*")
        kind = "Author's note" if note.get("kind") == "author" else "Note"
        return f"{kind} {number} ({self.title_of(note['chapter_id'])})"

    # ---- output --------------------------------------------------------------------

    def write(self, relative: str, template: str, **context: Any) -> None:
        depth = relative.count("/")
        context.setdefault("lang", "en")
        page = self.env.get_template(template).render(
            root="../" * depth,
            site_title=self.meta.get("title", ""),
            version=self.meta.get("version", ""),
            current=relative,
            **context,
        )
        path = self.out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        self.written += 1

    def build(self) -> SiteSummary:
        self._copy_static()
        shutil.copytree(
            self.dataset.root, self.out / "dataset", ignore=shutil.ignore_patterns(".*")
        )
        letter_pages, unit_pages = self.write_reading_pages()
        downloads = self._downloads()
        self._home(downloads)
        self.write("search.html", "search.html", title="Search")
        self._search_index()
        files = sum(1 for p in self.out.rglob("*") if p.is_file())
        return SiteSummary(self.written, letter_pages, unit_pages, files, len(self.search_entries))

    def write_reading_pages(self) -> tuple[int, int]:
        """The pages of the letters and texts, the letters table, the contents, the
        registers, the chronology and the bibliography: every page but the home page, the
        downloads (a release of the dataset) and the search. Returns the number of letter
        and unit pages."""
        # First render every text (to learn where each note is called and what each page
        # names), then write the pages that link to them.
        letter_pages = self._render_letters()
        unit_pages = self._render_units()
        self.search_entries += self._index_notes()
        self._register_links()
        self._write_letter_pages()
        self._write_unit_pages()
        self._letters_table()
        self._contents()
        self._registers()
        self._chronology()
        self._bibliography()
        return letter_pages, unit_pages

    def _copy_static(self) -> None:
        static = package_files("sergetrotsky").joinpath("site_static")
        target = self.out / "static"
        target.mkdir(parents=True)
        for item in static.iterdir():
            if item.is_file() and not item.name.startswith("."):
                (target / item.name).write_bytes(item.read_bytes())

    # ---- letters -------------------------------------------------------------------

    def _render_letters(self) -> int:
        for i, letter_id in enumerate(self.letter_order):
            row = self.letters[letter_id]
            tree = self.tei_files.get(row.get("tei_path") or "")
            div = None
            if tree is not None:
                div = next(
                    (d for d in tree.iter(f"{{{TEI_NS}}}div") if d.get("type") == "letter"), None
                )
            if div is None:
                div = self.unit_elements.get(letter_id)
            if div is None:
                raise PipelineError(
                    "no TEI div for the letter",
                    file=row.get("tei_path") or "",
                    field=f"letters [{letter_id}]",
                )
            page = f"letters/{letter_id}.html"
            rendered = TeiRenderer(self, page, top=letter_id).render_page(div)
            correction = self._date_correction(row)
            note_ids = list(rendered.notes)
            if correction and correction["note_id"] and correction["note_id"] not in note_ids:
                note_ids.append(correction["note_id"])
            for note_id in note_ids:
                self.note_pages.setdefault(note_id, page)
            remarks = []
            if tree is not None:
                # The date and place notes say what the metadata panel already shows.
                remarks = [
                    " ".join("".join(n.itertext()).split())
                    for desc in tree.iter(f"{{{TEI_NS}}}correspDesc")
                    for n in desc.iter(f"{{{TEI_NS}}}note")
                    if n.get("type") not in ("date", "place")
                ]
            record = self.records.get(letter_id)
            if record is not None:
                json_path = self.out / "letters" / f"{letter_id}.json"
                json_path.parent.mkdir(parents=True, exist_ok=True)
                json_path.write_text(
                    json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
                )
            context = self._corresp_context(row, tree)
            # The TEI's correspContext says the neighbours in the edition; else the table's order.
            prev_id = context.get(("prev", "edition"), self.letter_order[i - 1] if i > 0 else None)
            next_id = context.get(
                ("next", "edition"),
                self.letter_order[i + 1] if i + 1 < len(self.letter_order) else None,
            )
            # Between the same correspondents, where that is not the edition's neighbour.
            thread = {
                "prev": context.get(("prev", "correspondence")),
                "next": context.get(("next", "correspondence")),
            }
            thread = {
                key: other
                for key, other in thread.items()
                if other and other != {"prev": prev_id, "next": next_id}[key]
            }
            self._mentions_of(rendered, page, self.title_of(letter_id), "letter")
            self.search_entries.append(
                {
                    "t": self.title_of(letter_id),
                    "u": page,
                    "k": "letter",
                    "x": row.get("incipit") or "",
                    "text": rendered.text,
                }
            )
            self._letters_rendered[letter_id] = _RenderedLetter(
                row, rendered, correction, remarks, note_ids, prev_id, next_id, thread,
                has_json=record is not None)
        return len(self.letter_order)

    def _corresp_context(
        self, row: dict[str, Any], tree: etree._ElementTree | None
    ) -> dict[tuple[str, str], str]:
        """The letter's neighbours its correspContext names: (type, subtype) → letter id.
        A ref's target is the neighbour's TEI file, relative to this letter's file."""
        if tree is None:
            return {}
        by_path = {
            r["tei_path"]: letter_id for letter_id, r in self.letters.items() if r.get("tei_path")
        }
        found: dict[tuple[str, str], str] = {}
        for context in tree.iter(f"{{{TEI_NS}}}correspContext"):
            for ref in context.iter(f"{{{TEI_NS}}}ref"):
                target = (ref.get("target") or "").split("#", 1)[0]
                path = posixpath.normpath(
                    posixpath.join(posixpath.dirname(row["tei_path"]), target)
                )
                if target and path in by_path:
                    found.setdefault(
                        (ref.get("type") or "", ref.get("subtype") or "edition"), by_path[path]
                    )
        return found

    def _date_correction(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The note that corrects a printed date, for 'corrected by note N'."""
        match = re.fullmatch(r"corrected by note (\d+)", row.get("date_source") or "")
        if not match:
            return None
        number = int(match.group(1))
        ancestors = set()
        unit = row["letter_id"]
        while unit:
            ancestors.add(unit)
            unit = (self.docs.get(unit) or {}).get("parent_id")
        note_id = next(
            (
                n["note_id"]
                for n in self.notes.values()
                if n.get("n") == number and n["chapter_id"] in ancestors
            ),
            None,
        )
        return {"n": number, "note_id": note_id}

    def _write_letter_pages(self) -> None:
        for letter_id, done in self._letters_rendered.items():
            row, rendered, thread = done.row, done.rendered, done.thread
            prev_id, next_id = done.prev_id, done.next_id
            page = f"letters/{letter_id}.html"
            people = self._letter_mentions(letter_id, page, row)
            self.write(
                page,
                "letter.html",
                title=self.title_of(letter_id),
                letter=row,
                letter_id=letter_id,
                body=rendered.html,
                notes=self._note_items(done.note_ids, rendered.calls, page),
                correction=done.correction,
                remarks=done.remarks,
                sender=self.person_name(row["sender_id"]),
                addressee=self.person_name(row["addressee_id"]),
                place=self.place_name(row.get("place_id")),
                prev=prev_id and Link(f"letters/{prev_id}.html", self.title_of(prev_id)),
                next=next_id and Link(f"letters/{next_id}.html", self.title_of(next_id)),
                thread={
                    key: Link(f"letters/{other}.html", self.title_of(other))
                    for key, other in thread.items()
                    if other
                },
                unit=self.docs.get(letter_id, {}),
                mentions=people,
                has_json=done.has_json,
                has_heading=rendered.has_heading,
                language_names=LANGUAGE_NAMES,
                context=self._breadcrumbs(letter_id),
            )

    def _letter_mentions(
        self, letter_id: str, page: str, row: dict[str, Any]
    ) -> dict[str, list[Link]]:
        """Register entries that this letter names, as far as the tables and TEI say."""
        found: dict[str, dict[str, Link]] = {name: {} for name in REGISTERS}
        for (register, entry_id), links in self.mentions.items():
            if any(link.page == page for link in links.values()):
                found[register][entry_id] = self._register_link(register, entry_id)
        return {
            name: sorted(entries.values(), key=lambda link: link.title.lower())
            for name, entries in found.items()
            if entries
        }

    def _register_link(self, register: str, entry_id: str) -> Link:
        row = self.registers[register].get(entry_id, {})
        title = row.get("name") or row.get("abbreviation") or entry_id
        if register == "organisations" and row.get("abbreviation"):
            title = f"{row['abbreviation']} ({row['name']})"
        return Link(f"registers/{register}.html#{entry_id}", title, register)

    def _note_items(
        self, note_ids: Iterable[str], calls: dict[str, list[str]], page: str
    ) -> list[dict[str, Any]]:
        items = []
        for note_id in note_ids:
            element = self.note_elements.get(note_id)
            note = self.notes.get(note_id, {})
            if element is not None:
                body = TeiRenderer(self, page, top=None).render_inline(element).html
            else:
                body = italics(note.get("text"))
            label = note.get("n") if note.get("n") is not None else (note.get("mark") or "*")
            items.append(
                {
                    "id": note_id,
                    "label": label,
                    "html": body,
                    "calls": calls.get(note_id, []),
                    "author": note.get("kind") == "author",
                }
            )
        return items

    def _breadcrumbs(self, unit_id: str) -> list[Link]:
        trail = []
        unit = (self.docs.get(unit_id) or {}).get("parent_id")
        while unit:
            trail.append(Link(self.url_for(unit), self.title_of(unit)))
            unit = (self.docs.get(unit) or {}).get("parent_id")
        return list(reversed(trail))

    # ---- texts ---------------------------------------------------------------------

    def _render_units(self) -> int:
        order = list(self.docs)
        # Printed lists of notes last: they link each note to the page that calls it.
        page_units = sorted(
            {p for p in self.pages.values() if p not in self.letters},
            key=lambda u: (self.docs[u]["type"] == "notes", order.index(u)),
        )
        for unit_id in page_units:
            div = self.unit_elements.get(unit_id)
            if div is None:
                continue
            page = self.page_path(unit_id)
            rendered = TeiRenderer(self, page, top=unit_id).render_page(div)
            for note_id in rendered.notes:
                self.note_pages.setdefault(note_id, page)
            self._mentions_of(rendered, page, self.title_of(unit_id), "text")
            self.search_entries.append(
                {
                    "t": self.title_of(unit_id),
                    "u": page,
                    "k": "text",
                    "x": " ".join(rendered.text.split()[:30]),
                    "text": rendered.text,
                }
            )
            self._units_rendered[unit_id] = rendered
        return len(self._units_rendered)

    def _write_unit_pages(self) -> None:
        order = list(self.docs)
        ids = sorted(self._units_rendered, key=order.index)
        for i, unit_id in enumerate(ids):
            rendered = self._units_rendered[unit_id]
            doc = self.docs[unit_id]
            source = next(
                (s for s in self.dataset.rows("sources") if s["source_id"] == doc["source_id"]), {}
            )
            prev_id = (
                ids[i - 1]
                if i > 0 and self.docs[ids[i - 1]]["source_id"] == doc["source_id"]
                else None
            )
            next_id = (
                ids[i + 1]
                if i + 1 < len(ids) and self.docs[ids[i + 1]]["source_id"] == doc["source_id"]
                else None
            )
            self.write(
                self.page_path(unit_id),
                "text.html",
                title=self.title_of(unit_id),
                unit=doc,
                source=source,
                body=rendered.html,
                lang=doc.get("language") or "en",
                has_heading=rendered.has_heading,
                notes=self._note_items(rendered.notes, rendered.calls, self.page_path(unit_id)),
                context=self._breadcrumbs(unit_id),
                prev=prev_id and Link(self.page_path(prev_id), self.title_of(prev_id)),
                next=next_id and Link(self.page_path(next_id), self.title_of(next_id)),
            )

    def _tree(self, unit_id: str) -> list[dict[str, Any]]:
        return [
            {
                "link": Link(self.url_for(child), self.title_of(child), self.docs[child]["type"]),
                "children": self._tree(child),
            }
            for child in self.children.get(unit_id, [])
        ]

    def _contents(self) -> None:
        sources = []
        for source in self.dataset.rows("sources"):
            tops = [
                d
                for d in self.docs.values()
                if d["source_id"] == source["source_id"] and not d.get("parent_id")
            ]
            sources.append(
                {
                    "source": source,
                    "units": [
                        {
                            "link": Link(
                                self.url_for(t["document_id"]),
                                self.title_of(t["document_id"]),
                                t["type"],
                            ),
                            "children": self._tree(t["document_id"]),
                        }
                        for t in tops
                    ],
                }
            )
        self.write("texts/index.html", "contents.html", title="Texts", sources=sources)

    def _index_notes(self) -> list[dict[str, str]]:
        entries = []
        for note_id, note in self.notes.items():
            text = note.get("text") or ""
            entries.append(
                {
                    "t": self.note_label(note_id),
                    "u": self.note_url(note_id),
                    "k": "note",
                    "x": re.sub(r"\*", "", text)[:240],
                    "text": text,
                }
            )
        return entries

    # ---- registers -----------------------------------------------------------------

    def _mentions_of(self, rendered: Rendered, page: str, title: str, kind: str) -> None:
        for register, entry_id in rendered.mentions:
            self.mentions[(register, entry_id)].setdefault(page, Link(page, title, kind))
            self.named_in[(register, entry_id)].setdefault(page, Link(page, title, kind))

    def _row_link(self, table: str, row: dict[str, Any]) -> Link | None:
        """Where a row of any table is read on the site, if anywhere."""
        if table == "letters":
            return Link(
                f"letters/{row['letter_id']}.html", self.title_of(row["letter_id"]), "letter"
            )
        if table == "documents":
            return Link(self.url_for(row["document_id"]), self.title_of(row["document_id"]), "text")
        if table == "notes":
            return Link(self.note_url(row["note_id"]), self.note_label(row["note_id"]), "note")
        if table == "chronology":
            return Link(
                f"chronology.html#{row['event_id']}",
                f"Chronology: {row.get('date_as_written') or row.get('date') or ''}".strip(),
                "chronology",
            )
        if table == "bibliography":
            return Link(f"bibliography.html#{row['entry_id']}", "Bibliography", "bibliography")
        # Any other table (a `mentions` table, say): the first key that points to a letter,
        # a unit or a note says where the row is read.
        known = {
            "letters": ("letter_id", self.letters),
            "documents": ("document_id", self.docs),
            "notes": ("note_id", self.notes),
        }
        for fields, resource, _ in self.dataset.tables[table].foreign_keys():
            value = row.get(fields[0]) if len(fields) == 1 else None
            if resource in known and value in known[resource][1]:
                if resource == "documents" and value in self.letters:
                    resource = "letters"
                return self._row_link(resource, {known[resource][0]: value})
        return None

    def _register_links(self) -> None:
        """Every table row that names a register entry (a foreign key to persons, places or
        organisations, or a list field named after a register) links the entry to the row's
        page. Works for any table, so a `mentions` table is used when the dataset has one."""
        self.roles: dict[tuple[str, str], dict[str, dict[str, Link]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        self.typed_mentions = False
        for name, table in self.dataset.tables.items():
            if name in REGISTERS:
                continue
            title = (
                next(
                    (
                        r.get("title")
                        for r in self.meta.get("resources", [])
                        if r.get("name") == name
                    ),
                    None,
                )
                or name
            )
            pairs = [
                (fields[0], resource)
                for fields, resource, _ in table.foreign_keys()
                if len(fields) == 1 and resource in REGISTERS
            ]
            pairs += [
                (f["name"], f["name"])
                for f in table.fields
                if f.get("type") == "list" and f["name"] in REGISTERS
            ]
            for field_name, register in pairs:
                label = ROLE_LABELS.get((name, field_name), title)
                for row in table.rows:
                    value = row.get(field_name)
                    if not value or (name == "documents" and row["document_id"] in self.letters):
                        continue  # a letter's sender and place: the letters table says them
                    link = self._row_link(name, row)
                    if link is None:
                        continue
                    for entry_id in str(value).split(";") if register == field_name else [value]:
                        entry_id = entry_id.strip()
                        if entry_id:
                            self.roles[(register, entry_id)][label].setdefault(link.url, link)
                            self.mentions[(register, entry_id)].setdefault(link.page, link)
            if name == "mentions" and not pairs:
                self._untyped_mentions(name, table, title)
        # With the dataset's own mentions table, the names tagged in the TEI (the same
        # mentions) add only the pages the table does not list, under the same heading.
        label = "Named in" if self.typed_mentions else "Named in the text (TEI)"
        for (register, entry_id), pages in self.named_in.items():
            links = self.roles[(register, entry_id)][label]
            listed = {link.page for link in links.values()}
            for link in pages.values():
                if link.page not in listed:
                    links.setdefault(link.url, link)

    def _untyped_mentions(self, name: str, table: Any, title: str) -> None:
        """A mentions table whose entity column points to any register (no foreign key to
        one): an id found in exactly one register, or a prefixed ref ('person:nin'), counts."""
        keyed = {fields[0] for fields, _, _ in table.foreign_keys() if len(fields) == 1}
        columns = [
            f["name"]
            for f in table.fields
            if f["name"] not in keyed
            and (f["name"].endswith("_id") or f["name"] in ("entity", "ref", "target", "key"))
        ]
        typed = any(f["name"] == "entity_type" for f in table.fields)
        label = "Named in" if typed else title
        self.typed_mentions = self.typed_mentions or typed
        for row in table.rows:
            link = self._row_link(name, row)
            if link is None:
                continue
            for column in columns:
                value = str(row.get(column) or "")
                prefix, colon, rest = value.partition(":")
                if typed and column == "entity_id":
                    # The row says which register (the dataset's own mentions table).
                    register = ENTITY_TYPES.get(str(row.get("entity_type") or ""))
                    found = [register] if register and value in self.registers[register] else []
                elif colon and prefix in REF_PREFIXES:
                    found = (
                        [REF_PREFIXES[prefix]]
                        if rest in self.registers[REF_PREFIXES[prefix]]
                        else []
                    )
                    value = rest
                else:
                    found = [r for r in REGISTERS if value in self.registers[r]]
                if len(found) == 1:
                    self.roles[(found[0], value)][label].setdefault(link.url, link)
                    self.mentions[(found[0], value)].setdefault(link.page, link)

    def _registers(self) -> None:
        for register, (_key, title) in REGISTERS.items():
            entries = []
            for entry_id, row in sorted(
                self.registers[register].items(), key=lambda item: _sort_name(item[1], register)
            ):
                roles = self.roles.get((register, entry_id), {})
                entries.append(
                    {
                        "id": entry_id,
                        "row": row,
                        "roles": [
                            (label, list(links.values())) for label, links in roles.items() if links
                        ],
                    }
                )
            glossaries = {
                d["source_id"]: d["document_id"]
                for d in self.docs.values()
                if d["type"] == "glossary"
            }
            self.write(
                f"registers/{register}.html",
                "register.html",
                title=title,
                register=register,
                entries=entries,
                glossaries={
                    s: Link(self.url_for(g), self.title_of(g)) for s, g in glossaries.items()
                },
            )

    def _chronology(self) -> None:
        rows = self.dataset.rows("chronology")
        events = [
            {
                "row": row,
                "persons": [
                    self._register_link("persons", p.strip())
                    for p in (row.get("persons") or "").split(";")
                    if p.strip() in self.registers["persons"]
                ],
                "unit": Link(self.url_for(row["document_id"]), self.title_of(row["document_id"])),
            }
            for row in rows
        ]
        self.write("chronology.html", "chronology.html", title="Chronology", events=events)

    def _bibliography(self) -> None:
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in self.dataset.rows("bibliography"):
            groups[(row["document_id"], row.get("section") or "")].append(row)
        sections = [
            {
                "unit": Link(self.url_for(unit), self.title_of(unit)),
                "section": section,
                "entries": rows,
            }
            for (unit, section), rows in groups.items()
        ]
        self.write(
            "bibliography.html", "bibliography.html", title="Bibliography", sections=sections
        )

    def _letters_table(self) -> None:
        rows = [
            {
                "id": letter_id,
                "row": row,
                "title": self.title_of(letter_id),
                "sender": self.person_name(row["sender_id"]),
                "addressee": self.person_name(row["addressee_id"]),
                "place": self.place_name(row.get("place_id"))
                or (row.get("place_as_written") or ""),
            }
            for letter_id, row in self.letters.items()
        ]
        self.write("letters/index.html", "letters.html", title="Letters", rows=rows)

    # ---- home, downloads, search ---------------------------------------------------

    def _downloads(self) -> list[dict[str, Any]]:
        target = self.out / "downloads"
        target.mkdir(parents=True)
        # released inside the site being built (one file system): the files are moved
        with tempfile.TemporaryDirectory(dir=self.out) as tmp:
            archive, _ = publish.release(self.dataset.root, Path(tmp))
            database = archive.with_suffix(".sqlite")
            os.replace(archive, target / archive.name)
            os.replace(database, target / database.name)
        items = [
            ("Dataset (zip): tables, TEI, CMIF, JSONL, texts, originals", target / archive.name),
            ("SQLite database with full-text search", target / database.name),
        ]
        for relative, label in (
            ("cmif.xml", "Correspondence metadata (CMIF)"),
            ("letters.jsonl", "Letters as JSON Lines"),
        ):
            if self.dataset.file(relative).is_file():
                shutil.copyfile(self.dataset.file(relative), target / relative)
                items.append((label, target / relative))
        downloads = [
            {
                "label": label,
                "url": path.relative_to(self.out).as_posix(),
                "name": path.name,
                "bytes": path.stat().st_size,
                "sha256": _sha256(path),
            }
            for label, path in items
        ]
        (target / "SHA256SUMS").write_text(
            "".join(f"{d['sha256']}  {d['name']}\n" for d in downloads), encoding="utf-8"
        )
        return downloads

    def _home(self, downloads: list[dict[str, Any]]) -> None:
        citation = self.dataset.file("CITATION.cff")
        sources = [
            {
                "row": s,
                "link": next(
                    (
                        Link(self.url_for(d["document_id"]), s["title"])
                        for d in self.docs.values()
                        if d["source_id"] == s["source_id"] and not d.get("parent_id")
                    ),
                    None,
                ),
            }
            for s in self.dataset.rows("sources")
        ]
        counts = {
            "letters": len(self.letters),
            "units": len(self.docs),
            "notes": len(self.notes),
            "persons": len(self.registers["persons"]),
            "places": len(self.registers["places"]),
            "organisations": len(self.registers["organisations"]),
        }
        self.write(
            "index.html",
            "home.html",
            title="Home",
            meta=self.meta,
            sources=sources,
            downloads=downloads,
            counts=counts,
            citation=citation.read_text(encoding="utf-8") if citation.is_file() else "",
        )

    def _search_index(self) -> None:
        """An inverted index, prebuilt: term → [entry, count, entry, count, ...]; one
        entry per letter, per text page and per note."""
        postings: dict[str, dict[int, int]] = defaultdict(dict)
        docs = []
        for i, entry in enumerate(self.search_entries):
            words = [
                t for t in tokens(entry["t"] + " " + entry["text"]) if len(t) > 1 or t.isdigit()
            ]
            # Title, URL, kind, excerpt and length (search.js ranks by BM25).
            docs.append([entry["t"], entry["u"], entry["k"], entry["x"], len(words)])
            for token in words:
                postings[token][i] = postings[token].get(i, 0) + 1
        index = {
            "docs": docs,
            "terms": {
                term: [x for pair in sorted(p.items()) for x in pair]
                for term, p in sorted(postings.items())
            },
        }
        payload = json.dumps(index, ensure_ascii=False, separators=(",", ":"))
        (self.out / "static" / "search-index.js").write_text(
            f"window.SEARCH_INDEX = {payload};\n", encoding="utf-8"
        )


def _sort_name(row: dict[str, Any], register: str) -> str:
    if register == "organisations":
        return (row.get("abbreviation") or "").lower()
    name = row.get("name") or ""
    return (name.split()[-1] if name.split() else name).lower()


class TeiRenderer:
    """TEI to HTML by a walk over the tree; one renderer per page.

    Note calls (``ref type="note"``) link to the page's notes and each note links back to
    its calls; cross-references link to the unit's page; persons, places and organisations
    named with ``@ref`` link to the registers; ``xml:lang`` becomes ``lang``.
    """

    BLOCKS = {
        "p": "p",
        "opener": "div",
        "closer": "div",
        "postscript": "div",
        "address": "div",
        "dateline": "p",
        "salute": "p",
        "signed": "span",
        "byline": "p",
        "argument": "div",
        "epigraph": "div",
        "trailer": "p",
        "label": "span",
        "body": "div",
        "text": "div",
        "front": "div",
        "back": "div",
    }

    def __init__(self, site: Site, page: str, top: str | None) -> None:
        self.site = site
        self.page = page
        self.top = top
        self.root = "../" * page.count("/")
        self.notes: list[str] = []
        self.calls: dict[str, list[str]] = {}
        self.mentions: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.inline_notes: set[str] = set()

    def render_page(self, div: etree._Element) -> Rendered:
        out = self._element(div, level=0, in_note=False)
        notes = [n for n in self.notes if n not in self.inline_notes]
        return Rendered(
            Markup(out),
            " ".join(" ".join(self.text).split()),
            div.find(f"{{{TEI_NS}}}head") is not None,
            notes,
            self.calls,
            self.mentions,
        )

    def render_inline(self, element: etree._Element) -> Rendered:
        out = self._children(element, level=6, in_note=True)
        return Rendered(Markup(out), "", False, [], {}, [])

    def _children(self, element: etree._Element, level: int, in_note: bool) -> str:
        parts = [self._text(element.text, in_note)]
        for child in element:
            if isinstance(child.tag, str):
                parts.append(self._element(child, level, in_note))
            parts.append(self._text(child.tail, in_note))
        return "".join(parts)

    def _text(self, text: str | None, in_note: bool) -> str:
        if not text:
            return ""
        if not in_note:
            self.text.append(text)
        return html.escape(text, quote=False)

    @staticmethod
    def _attrs(**attrs: str | None) -> str:
        return "".join(
            f' {name.rstrip("_").replace("_", "-")}="{html.escape(value)}"'
            for name, value in attrs.items()
            if value
        )

    def _element(self, el: etree._Element, level: int, in_note: bool) -> str:
        name = _local(el)
        lang = el.get(XML_LANG)
        if name == "TEI" or name == "teiHeader":
            return ""
        if name == "div":
            return self._div(el, level, in_note, lang)
        if name == "head":
            tag = f"h{min(level, 6)}"
            return f"<{tag}{self._attrs(lang=lang)}>{self._children(el, level, in_note)}</{tag}>"
        if name == "p":
            only_quote = (
                not (el.text or "").strip()
                and len(el) == 1
                and _local(el[0]) == "quote"
                and not (el[0].tail or "").strip()
            )
            cls = "blockquote" if only_quote else None
            return (
                f"<p{self._attrs(class_=cls, lang=lang)}>{self._children(el, level, in_note)}</p>"
            )
        if name == "ref":
            return self._ref(el, level, in_note)
        if name == "note":
            return self._note(el, level, in_note)
        if name == "hi":
            rend = el.get("rend") or ""
            tag = {"italic": "em", "superscript": "sup", "subscript": "sub", "bold": "strong"}.get(
                rend, "span"
            )
            cls = None if tag != "span" else f"hi-{rend}" if rend else "hi"
            inner = self._children(el, level, in_note)
            return f"<{tag}{self._attrs(class_=cls, lang=lang)}>{inner}</{tag}>"
        if name == "title":
            return f"<cite{self._attrs(lang=lang)}>{self._children(el, level, in_note)}</cite>"
        if name in ("quote", "q", "said"):
            return (
                f'<q class="quote"{self._attrs(lang=lang)}>{self._children(el, level, in_note)}</q>'
            )
        if name == "foreign":
            return f"<i{self._attrs(lang=lang)}>{self._children(el, level, in_note)}</i>"
        if name == "list":
            tag = "ol" if el.get("type") == "ordered" else "ul"
            return f"<{tag}{self._attrs(lang=lang)}>{self._children(el, level, in_note)}</{tag}>"
        if name == "item":
            value = el.get("n") if (el.get("n") or "").isdigit() else None
            inner = self._children(el, level, in_note)
            return f"<li{self._attrs(value=value, lang=lang)}>{inner}</li>"
        if name == "lb":
            return "<br>"
        if name == "choice":
            return self._choice(el, level, in_note)
        if name in ("persName", "placeName", "orgName", "name"):
            return self._name(el, level, in_note, lang)
        if name == "date":
            when = el.get("when")
            inner = self._children(el, level, in_note)
            return f"<time{self._attrs(datetime=when, lang=lang)}>{inner}</time>"
        if name == "addrLine":
            inner = self._children(el, level, in_note)
            return f'<span class="addrLine"{self._attrs(lang=lang)}>{inner}</span><br>'
        if name == "floatingText":
            kind = el.get("type") or "text"
            label = "Enclosure" if kind == "enclosure" else kind.capitalize()
            return (
                f'<aside class="floating {html.escape(kind)}" aria-label="{html.escape(label)}">'
                f'<p class="floating-label">{html.escape(label)}</p>'
                f"{self._children(el, level + 1, in_note)}</aside>"
            )
        if name in self.BLOCKS:
            tag = self.BLOCKS[name]
            inner = self._children(el, level, in_note)
            return f'<{tag} class="{name}"{self._attrs(lang=lang)}>{inner}</{tag}>'
        inner = self._children(el, level, in_note)
        return f'<span class="tei-{name}"{self._attrs(lang=lang)}>{inner}</span>'

    def _div(self, el: etree._Element, level: int, in_note: bool, lang: str | None) -> str:
        # A letter's own TEI file points to the unit by @corresp instead of @xml:id.
        unit_id = el.get(XML_ID) or (_fragment(el.get("corresp")) or None)
        kind = el.get("type") or "div"
        if unit_id and unit_id in self.site.letters and unit_id != self.top:
            return self._letter_card(unit_id, level + 1)
        if unit_id and self.site.pages.get(unit_id) == unit_id and unit_id != self.top:
            return self._unit_card(unit_id, level + 1)
        if kind == "notes" and self.top in self.site.letters:
            return ""  # a letter's own list of notes: the page's notes section shows them
        inner = self._children(el, level + 1, in_note)
        tag = "article" if kind in ("letter", "enclosure") else "section"
        return f"<{tag}{self._attrs(id=unit_id, class_=f'div {kind}', lang=lang)}>{inner}</{tag}>"

    def _unit_card(self, unit_id: str, level: int) -> str:
        """A unit that has its own page, in the page of the unit that holds it."""
        site = self.site
        heading = f"h{min(level, 6)}"
        doc = site.docs[unit_id]
        self.text.append(site.title_of(unit_id))
        return (
            f'<section class="unit-card" id="{html.escape(unit_id)}">'
            f'<{heading}><a href="{self.root}{html.escape(site.page_path(unit_id))}">'
            f"{html.escape(site.title_of(unit_id))}</a></{heading}>"
            f'<p class="meta">{html.escape(doc["type"])} · {doc["words"]:,} words</p></section>'
        )

    def _letter_card(self, letter_id: str, level: int) -> str:
        site = self.site
        row = site.letters[letter_id]
        heading = f"h{min(level, 6)}"
        meta = " · ".join(
            x
            for x in (
                human_date(row.get("date")),
                f"{site.person_name(row['sender_id'])} to {site.person_name(row['addressee_id'])}",
                site.place_name(row.get("place_id")) or (row.get("place_as_written") or ""),
            )
            if x
        )
        self.text.append(site.title_of(letter_id))
        return (
            f'<article class="letter-card" id="{html.escape(letter_id)}">'
            f'<{heading}><a href="{self.root}letters/{html.escape(letter_id)}.html">'
            f"{html.escape(site.title_of(letter_id))}</a></{heading}>"
            f'<p class="meta">{html.escape(meta)}</p>'
            f'<p class="incipit">{html.escape(row.get("incipit") or "")}…</p></article>'
        )

    def _ref(self, el: etree._Element, level: int, in_note: bool) -> str:
        target = self.site.book_note(_fragment(el.get("target")))
        inner = self._children(el, level, in_note)
        if el.get("type") == "note" or target in self.site.notes:
            if in_note:
                return f'<a href="{self.root}{html.escape(self.site.note_url(target))}">{inner}</a>'
            calls = self.calls.setdefault(target, [])
            call_id = f"call-{target}" + (f"-{len(calls) + 1}" if calls else "")
            calls.append(call_id)
            if target not in self.notes:
                self.notes.append(target)
            label = self.site.note_label(target)
            return (
                f'<a class="noteref" id="{html.escape(call_id)}" href="#{html.escape(target)}" '
                f'role="doc-noteref" aria-label="{html.escape(label)}"><sup>{inner}</sup></a>'
            )
        if target in self.site.docs:
            url = self.site.url_for(target)
            href = (
                f"#{target}"
                if url.split("#")[0] == self.page and "#" in url
                else f"{self.root}{url}"
            )
            if url == self.page:
                href = "#main"
            return f'<a class="xref" href="{html.escape(href)}">{inner}</a>'
        return f'<span class="ref">{inner}</span>'

    def _note(self, el: etree._Element, level: int, in_note: bool) -> str:
        note_id = self.site.book_note(el.get(XML_ID) or _fragment(el.get("corresp")))
        label = html.escape(el.get("n") or "*")
        body = self._children(el, level, True)
        parent = el.getparent()
        if parent is not None and _local(parent) == "div" and parent.get("type") == "notes":
            # The printed list of notes: each note says where it is called.
            called = self.site.note_pages.get(note_id)
            back = ""
            if called:
                target = f"{self.root}{html.escape(called)}#call-{html.escape(note_id)}"
                back = f' <a class="called-from" href="{target}">read in context</a>'
            return (
                f'<div class="note-entry" id="{html.escape(note_id)}">'
                f'<span class="note-n">{label}</span> {body}{back}</div>'
            )
        self.inline_notes.add(note_id)
        back = "".join(
            f' <a class="backref" href="#{c}" aria-label="Back to the text">↩</a>'
            for c in self.calls.get(note_id, [])
        )
        kind = "Author's note" if el.get("type") == "author" else "Note"
        return (
            f'<aside class="note-inline" id="{html.escape(note_id)}" role="doc-footnote" '
            f'aria-label="{kind} {label}"><span class="note-n">{label}</span> {body}{back}</aside>'
        )

    def _choice(self, el: etree._Element, level: int, in_note: bool) -> str:
        sic = el.find(f"{{{TEI_NS}}}sic")
        corr = el.find(f"{{{TEI_NS}}}corr")
        if sic is None or corr is None:
            return self._children(el, level, in_note)
        printed = "".join(sic.itertext())
        return (
            f'<span class="emendation" tabindex="0" title="Printed: {html.escape(printed)}">'
            f"{self._children(corr, level, in_note)}"
            f'<span class="sic"> [printed: {html.escape(printed, quote=False)}]</span></span>'
        )

    def _name(self, el: etree._Element, level: int, in_note: bool, lang: str | None) -> str:
        inner = self._children(el, level, in_note)
        register, entry_id = self.site.register_entry(
            _local(el), el.get("ref") or el.get("key") or ""
        )
        if register:
            if not in_note:
                self.mentions.append((register, entry_id))
            return (
                f'<a class="name {register}" href="{self.root}registers/{register}.html#'
                f'{html.escape(entry_id)}"{self._attrs(lang=lang)}>{inner}</a>'
            )
        return f'<span class="name"{self._attrs(lang=lang)}>{inner}</span>'
