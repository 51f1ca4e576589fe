"""Registers built from the book itself: the persons its notes identify and its index lists.

Why: the hand-made registry (``sources/_registry/persons.toml``) holds the correspondents
and authors; the book names hundreds more, and its editor identifies them one by one in
the notes ("Boris Mikhailovich Eltsin, a comrade of Serge's in internal exile at
Orenburg", note 83 of Chapter 2). This module reads those identifications, and the index
the back-matter stage parsed (``index_terms``), into register entries, each with the note
or index entry that is its evidence. Nothing comes from memory: a name, a form, a date
or a description is in the book or it is not in the register.

Three sources of entries, merged in this order (the first wins a field):

1. the hand-made registry (curated; its entries are never changed, only given evidence);
2. **note identifications**: a note that opens with a name and then describes the person:
   ``Name, description``, ``Name (1886–1937), description``, ``Name was/had been a …``,
   ``Name: description``, or ``N. is Pierre Naville, …`` (an initial the letter uses).
   A note whose predicate names a place (``Vexhall was the village …``), an organisation
   (``Gosizdat was the Soviet state publishing agency``) or a thing (``Taylorism: A
   system``) identifies a place or organisation, not a person; a citation
   (``Werth, *Twilight of France*``) identifies nobody;
3. **index entries** printed ``Surname, Forenames`` (``André, Edgar``), joined to a note
   person with the same surname whose forenames agree, else entries of their own.

Decisions a program must not take (two people with one surname, a pseudonym, an index
form that spells a name differently from the notes, an index entry that is not a name)
are read from ``sources/_registry/decisions.toml`` where a person has recorded them with
their evidence; :func:`open_questions` lists those the file does not settle yet.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any

from .conventions import literal_matches, without_accents
from .errors import PipelineError
from .sources import locate, read_checked

Row = Mapping[str, Any]
DECISIONS_FILE = "decisions.toml"

# A name: capitalised words or initials, with the particles of Romance and Germanic names.
_WORD = r"(?:[A-ZÀ-ÖØ-Þ][\w'’-]*\.?|(?:[A-Z]\.){1,3}[A-Z]?)"
_PARTICLE = r"(?:de|del|van|von|y|da|di|la|le)"
NAME = rf"{_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_WORD}){{0,5}}"
DATES = r"\((\d{4})\s*[–-]\s*(\d{4})\)"
IDENTIFYING = re.compile(
    rf"^\*?\s*(?P<name>{NAME})\s*(?:{DATES}|\((?P<alias>[^)\d]+)\))?\s*"
    r"(?P<link>,|:|\s+(?:was|is|had been|has been)\b)\s*(?P<what>.+)", re.S)
# "N. is Pierre Naville, a former Surrealist …"; "This is Vsevolod Volkov (Seva), …"
REFERENT = re.compile(rf"^(?P<form>(?:[A-Z]\.)+|This) is (?P<name>{NAME})"
                      r"(?:\s*\((?P<alias>[^)]+)\))?,\s*(?P<what>.+)", re.S)
ALIAS = re.compile(rf"\balias\s+(?P<alias>{NAME})")
PSEUDONYM = re.compile(r"^the pseudonym of\b")
# Words that open a note but are no name; honorifics that are not part of one.
NOT_NAMES = {
    "This",
    "That",
    "It",
    "There",
    "Again",
    "See",
    "Compare",
    "Both",
    "The",
    "A",
    "An",
    "In",
    "On",
    "For",
    "He",
    "She",
    "They",
    "We",
    "Cf.",
    "Ibid.",
    "Note",
    "Letter",
}
HONORIFICS = {"Dr.", "Dr", "General", "Colonel", "Comrade", "Snr", "Mr.", "Mme", "Madame"}
# A predicate that starts with these is no description of the subject (a citation, a remark).
NOT_DESCRIPTIONS = re.compile(
    r"^(?:[*'‘’“\"(\d]|p\.|pp\.|with\b|private\b|unpublished\b|here\b|obviously\b|in\b|"
    r"actually\b|of course\b|for example\b|letter\b|to\b|and\b|introduction\b|see\b|"
    r"chapter\b|ed\.|eds\.|trans\.)", re.I)
# The head of a description tells what is described (its words before of/who/in/…).
PLACE_WORDS = {"village", "town", "city", "region", "province", "port", "island", "district",
               "suburb", "country", "river", "camp"}
ORG_WORDS = {"agency", "party", "union", "organisation", "organization", "group", "paper",
             "newspaper", "journal", "review", "magazine", "committee", "federation",
             "publisher", "league", "movement", "bureau", "council", "press"}
# A role noun in the head makes it a person whatever else it names ("a Paris railway
# union secretary").
PERSON_WORDS = {"secretary", "member", "leader", "founder", "delegate", "militant", "comrade",
                "writer", "journalist", "editor", "minister", "president", "general",
                "commissar", "wife", "son", "daughter", "sister", "brother", "husband",
                "companion", "novelist", "poet", "historian", "critic", "professor",
                "lawyer", "engineer", "anarchist", "socialist", "communist", "bolshevik",
                "menshevik", "trotskyist", "oppositionist", "syndicalist", "organiser"}
THING_WORDS = {"system", "term", "measure", "doctrine", "policy", "book", "pamphlet",
               "article", "draft", "frame-up", "thesis", "novel"}
HEAD_END = re.compile(r"\b(?:of|who|which|that|in|at|for|from|whose|whom|with|and|to|on)\b|[,;(]")
INDEX_NAME = re.compile(
    rf"^(?P<surname>{_WORD}(?:[ -]{_WORD})*), (?P<forenames>{_WORD}(?:\s+{_WORD})*)"
    r"(?:\s*\((?P<alias>[^)]*)\))?$"
)


@dataclass
class Identification:
    """What one note says a name is."""

    note_id: str
    n: str
    name: str
    kind: str                     # person, place, org, thing
    sentence: str
    forms: list[str] = field(default_factory=list)
    birth: str = ""
    death: str = ""
    pseudonym: bool = False


def _sentence(text: str) -> str:
    """The note's first sentence, on one line (the note's own words, never shortened
    inside a word: a note the book breaks off is quoted as printed)."""
    flat = " ".join(text.split())
    m = re.search(r"(?<![A-Z])(?<!\b[A-Z][a-z])\.(?=\s+[A-Z])", flat)
    return flat[:m.end()] if m else flat


def _kind(what: str) -> str:
    """person, place, org or thing, from the head of a description."""
    head = HEAD_END.split(what, 1)[0].lower()
    words = set(re.findall(r"[\w-]+", head))
    if words & PERSON_WORDS:
        return "person"
    for kind, vocabulary in (("place", PLACE_WORDS), ("org", ORG_WORDS),
                             ("thing", THING_WORDS)):
        if words & vocabulary:
            return kind
    return "person"


def _strip_honorific(name: str) -> str:
    words = name.split()
    while len(words) > 1 and words[0] in HONORIFICS:
        words = words[1:]
    return " ".join(words)


def identify(note: Row) -> Identification | None:
    """What a note identifies, or None when it opens with no identification."""
    if str(note.get("kind", "editorial")) not in ("editorial", ""):
        return None
    text = " ".join(str(note["text"]).split())
    note_id, n = str(note["note_id"]), str(note.get("n", ""))
    m = REFERENT.match(text)
    if m:
        forms = [f for f in (m["form"] if m["form"] != "This" else "", m["alias"] or "") if f]
        return Identification(note_id, n, _strip_honorific(m["name"]), _kind(m["what"]),
                              _sentence(text), forms=forms)
    m = IDENTIFYING.match(text)
    if not m or m["name"].split()[0] in NOT_NAMES or NOT_DESCRIPTIONS.match(m["what"]):
        return None
    printed = m["name"]
    name = _strip_honorific(printed)
    if name.endswith((" to", "'s")) or not re.search(r"[a-z]", name):
        return None
    what = m["what"]
    forms = [printed] if printed != name else []
    forms += [a["alias"] for a in ALIAS.finditer(what)] + ([m["alias"]] if m["alias"] else [])
    return Identification(note_id, n, name, _kind(what), _sentence(text), forms=forms,
                          birth=m[2] or "", death=m[3] or "",
                          pseudonym=bool(PSEUDONYM.match(what)) or "alias" in what)


# --- persons a note names after its opening, or several at once -------------------------

# A nationality or role noun that makes an apposition a person's ("Valentin Oldberg, a
# Russian of Menshevik background"; "Karl Liebknecht, the German internationalist …").
NATIONALITIES = {"russian", "french", "german", "spanish", "belgian", "dutch", "italian",
                 "polish", "american", "mexican", "british", "english", "norwegian",
                 "czech", "austrian", "swiss", "catalan", "georgian", "ukrainian"}
# Nouns a note puts before a name to say who it is ("The novelist André Gide became …").
ROLE_TITLES = {"novelist", "writer", "poet", "journalist", "historian", "critic",
               "painter", "philosopher", "lawyer", "militant", "anarchist", "translator"}
_FULL_NAME = rf"{_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_WORD}){{1,4}}"
_START = r"(?<![\w'’‘“\".*-])(?<!\bthe )(?<!\bThe )"   # a name, not a title
# "Lilia (Eliana) Ginsberg was …", "M.M. (Adolf) Yoffe, an Old Bolshevik …": a forename,
# its other form in brackets, the surname.
BRACKETED_FORENAME = re.compile(
    rf"^(?P<given>{_WORD})\s*\((?P<alias>[^)\d]+)\)\s*(?P<family>{_WORD}(?:\s+{_WORD})?)"
    rf"(?:\s+or\s+(?P<other>{_WORD}))?(?P<link>,|\s+(?:was|had been)\b)\s*(?P<what>.+)", re.S)
# "Walter Dauge had come into …", "Marceau Pivert inspired …": a full name that opens the
# note as the subject of a past-tense verb.
SUBJECT = re.compile(rf"^(?P<name>{_FULL_NAME})(?:\s*\((?P<alias>[^)\d]+)\))?\s+"
                     r"(?P<what>(?:had\s+(?!been\b)[a-z]+|"
                     r"became|inspired|returned|founded|led|edited)\b.+)", re.S)
# "Valentin Oldberg, a Russian of …", "Mark Zborowski, who had infiltrated …" anywhere.
APPOSITION = re.compile(rf"{_START}(?P<name>{_FULL_NAME}),\s+(?:(?:a|an|the)\s+(?P<what>[^.;]+)"
                        r"|(?P<who>who\s+(?:had|was|has)\b))")
# "The novelist André Gide became …"
TITLED = re.compile(rf"\b[Tt]he\s+(?P<title>[a-z]+)\s+(?P<name>{_FULL_NAME})(?P<what>\s.+)",
                    re.S)
# "Jean Longuet of the French SFIO and Georg Lebedour of the German SPD": a name and the
# party it belonged to, by its capitalised abbreviation.
MEMBER_OF = re.compile(rf"{_START}(?P<name>{_FULL_NAME})\s+of\s+the\s+"
                       r"(?P<what>(?:[A-Z][a-z]+\s+)*[A-Z]{2,}\b)")
# "P. Chevalier, J. Gorkin, M. Pivert and V. Serge": three or more initialled names.
_INITIALLED = r"(?:[A-Z]\.\s?){1,3}[A-Z][a-zà-ÿ'’-]+"
INITIALLED_LIST = re.compile(rf"{_START}(?P<list>{_INITIALLED}(?:,\s+{_INITIALLED}){{1,}}"
                             rf",?\s+and\s+{_INITIALLED})")


SENTENCE_OPENERS = {"When", "While", "Whereas", "After", "Before", "Since", "Although", "If"}


def _is_person_head(what: str) -> bool:
    """The head of a description names a person's role or nationality."""
    head = HEAD_END.split(what, 1)[0].lower()
    words = set(re.findall(r"[\w-]+", head))
    return bool(words & (PERSON_WORDS | NATIONALITIES))


def _named(name: str) -> str:
    """A name without the words that open a sentence or honour a person; '' if none is left."""
    words = name.split()
    while words and (words[0] in NOT_NAMES or words[0] in HONORIFICS
                     or words[0] in SENTENCE_OPENERS):
        words = words[1:]
    return " ".join(words) if len(words) >= 2 and re.search(r"[a-z]", words[-1]) else ""


def identify_all(note: Row) -> list[Identification]:
    """Every person a note identifies: the one it opens with (:func:`identify`), and those
    it names further on or several at once, by the patterns the book uses: a bracketed
    other forename ("Lilia (Eliana) Ginsberg was …"), a name as the subject of a
    past-tense verb ("Walter Dauge had come into …", "Maurice Parijanine (Donzel) had
    lived …"), an apposition anywhere ("Valentin Oldberg, a Russian of Menshevik
    background"; "Mark Zborowski, who had infiltrated …"), a title before a name ("The novelist
    André Gide"), a name and its party ("Jean Longuet of the French SFIO"), and a list of
    initialled names ("P. Chevalier, J. Gorkin, M. Pivert and V. Serge"). Each carries
    the note's first sentence, or the sentence that names it, as its words."""
    if str(note.get("kind", "editorial")) not in ("editorial", ""):
        return []
    first = identify(note)
    found = [first] if first else []
    text = " ".join(str(note["text"]).split())
    note_id, n = str(note["note_id"]), str(note.get("n", ""))
    seen = {first.name} if first else set()

    def add(name: str, what: str, at: int, forms: Sequence[str] = (), kind: str = "person"):
        if name.split()[0] in ("The", "A", "An"):
            return                           # a title ('The New Constitution of the USSR')
        name = _named(name)
        if not name or name in seen or any(name in f or f in name for f in seen):
            return
        seen.add(name)
        found.append(Identification(note_id, n, name, kind, _sentence_at(text, at),
                                    forms=[f for f in forms if f]))

    if not first:
        m = BRACKETED_FORENAME.match(text)
        if m and not NOT_DESCRIPTIONS.match(m["what"]):
            add(f"{m['given']} {m['family']}", m["what"], 0,
                forms=[f"{m['alias'].strip()} {m['family']}"
                       if " " not in m["alias"].strip() else "",
                       f"{m['given']} {m['other']}" if m["other"] else ""])
        m = SUBJECT.match(text)
        if m:
            add(m["name"], m["what"], 0, forms=[(m["alias"] or "").strip()])
    for m in APPOSITION.finditer(text):
        if m["who"] or _is_person_head(m["what"]):
            add(m["name"], m["what"], m.start())
    for m in TITLED.finditer(text):
        if m["title"] in ROLE_TITLES:
            add(m["name"], m["what"], m.start("name"))
    for m in MEMBER_OF.finditer(text):
        add(m["name"], m["what"], m.start())
    for m in INITIALLED_LIST.finditer(text):
        for item in re.split(r",\s+|,?\s+and\s+", m["list"]):
            add(item.strip(), "", m.start())
    return found


def _sentence_at(text: str, at: int) -> str:
    """The sentence of ``text`` that holds offset ``at`` (quoted as printed)."""
    start = 0
    for m in re.finditer(r"(?<![A-Z])(?<!\b[A-Z][a-z])\.\s+(?=[A-Z])", text):
        if m.end() > at:
            break
        start = m.end()
    return _sentence(text[start:])


# --- ids and matching ---------------------------------------------------------------------

def slug(text: str) -> str:
    """A readable id from a name: ASCII, lower case, hyphens."""
    ascii_text = without_accents(text)
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def surname(name: str, families: Mapping[str, str] | None = None) -> str:
    """The family name: as decided (decisions.toml), else the name's last word."""
    if families and name in families:
        return families[name]
    return name.split()[-1] if name.split() else name


def _initials(forenames: str) -> str:
    """'Boris Mikhailovich' → 'BM'; 'BM' → 'BM'; 'G.K.' → 'GK'."""
    parts = [p for p in re.split(r"[\s.]+", forenames) if p]
    if len(parts) == 1 and parts[0].isupper() and len(parts[0]) <= 4:
        return parts[0]
    return "".join(p[0] for p in parts if p[0].isupper())


def _forenames_agree(a: str, b: str) -> bool:
    """Two forename strings of one surname name the same person: equal, or one the other's
    initials (``BM`` and ``Boris Mikhailovich``), or one a prefix of the other."""
    a, b = a.strip(), b.strip()
    if not a or not b:
        return True
    if a.split()[0] == b.split()[0]:
        return True
    ia, ib = _initials(a), _initials(b)
    return bool(ia) and bool(ib) and (ia.startswith(ib) or ib.startswith(ia)) and \
        (len(ia) <= 4 and a.replace(".", "").replace(" ", "").isupper()
         or len(ib) <= 4 and b.replace(".", "").replace(" ", "").isupper())


# --- decisions ----------------------------------------------------------------------------

@dataclass
class Decisions:
    """``sources/_registry/decisions.toml``: what a person decided, with the evidence."""

    index_entries: dict[str, str | None] = field(default_factory=dict)  # headword → name
    family_names: dict[str, str] = field(default_factory=dict)        # name → family name
    distinct_surnames: set[str] = field(default_factory=set)
    pseudonyms: set[str] = field(default_factory=set)
    index_places: list[str] = field(default_factory=list)           # index headwords
    form_owners: dict[str, str] = field(default_factory=dict)       # form → person id
    index_organisations: dict[str, str] = field(default_factory=dict)  # headword → org id or ''


def load_decisions(sources_dir: Path) -> Decisions:
    """Read the decisions file (absent: no decisions). Each entry must give its evidence."""
    path = sources_dir / "_registry" / DECISIONS_FILE
    if not path.is_file():
        return Decisions()
    data = read_checked(path, "decisions")   # schema/sources/decisions.json: E101-E106
    decided = Decisions()
    for table, keys in (("index_entry", ("index",)), ("family_name", ("name", "family")),
                        ("distinct_surname", ("surname",)), ("pseudonym", ("name",))):
        for i, entry in enumerate(data.get(table, [])):
            label = f"{table}[{i}]"
            missing = [k for k in (*keys, "evidence") if not str(entry.get(k, "")).strip()]
            if missing:
                raise locate(PipelineError(f"needs {', '.join(missing)}", file=str(path),
                                           field=label, code="E101"))
            if table == "index_entry":
                if bool(entry.get("not_a_person")) == bool(entry.get("name")):
                    raise locate(PipelineError("needs either name or not_a_person = true",
                                               file=str(path), field=label, code="E101"))
                decided.index_entries[entry["index"]] = entry.get("name") or None
            elif table == "family_name":
                decided.family_names[entry["name"]] = entry["family"]
            elif table == "distinct_surname":
                decided.distinct_surnames.add(entry["surname"])
            else:
                decided.pseudonyms.add(entry["name"])
    for i, entry in enumerate(data.get("form_owner", [])):
        missing = [k for k in ("form", "person", "evidence") if not str(entry.get(k, "")).strip()]
        if missing:
            raise locate(PipelineError(f"needs {', '.join(missing)}", file=str(path),
                                       field=f"form_owner[{i}]", code="E101"))
        decided.form_owners[entry["form"]] = entry["person"]
    for i, entry in enumerate(data.get("index_organisation", [])):
        missing = [k for k in ("index", "evidence") if not str(entry.get(k, "")).strip()]
        if missing:
            raise locate(PipelineError(f"needs {', '.join(missing)}", file=str(path),
                                       field=f"index_organisation[{i}]", code="E101"))
        decided.index_organisations[entry["index"]] = str(entry.get("org") or "")
    for i, entry in enumerate(data.get("index_places", [])):
        if not str(entry.get("evidence", "")).strip() or not entry.get("indexes"):
            raise locate(PipelineError("needs indexes and evidence", file=str(path),
                                       field=f"index_places[{i}]", code="E101"))
        decided.index_places += [str(h) for h in entry["indexes"]]
    return decided


# --- building the persons register ---------------------------------------------------------

@dataclass
class _Person:
    person_id: str
    name: str
    forms: list[str]
    birth: str = ""
    death: str = ""
    description: str = ""
    is_group: bool = False
    wikidata: str = ""
    viaf: str = ""
    evidence: list[str] = field(default_factory=list)
    curated: bool = False

    def row(self) -> dict[str, Any]:
        return {"person_id": self.person_id, "name": self.name,
                "forms": _unique(self.forms), "birth": self.birth, "death": self.death,
                "description": self.description, "is_group": self.is_group,
                "wikidata": self.wikidata, "viaf": self.viaf,
                "evidence": _unique(self.evidence)}


def _unique(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item and item not in seen:
            seen.append(item)
    return seen


def _note_label(ident: Identification) -> str:
    chapter = re.search(r"-ch(\d+)-", ident.note_id)
    where = f" of Chapter {int(chapter[1])}" if chapter else ""
    return f"note {ident.n}{where}" if ident.n else ident.note_id


def build_persons(curated: Sequence[Row], notes: Sequence[Row], index: Sequence[Row],
                  decisions: Decisions | None = None) -> list[dict[str, Any]]:
    """The persons table: the curated registry, then every person a note identifies, then
    every ``Surname, Forenames`` index entry; each derived row with its ``evidence`` (note
    ids, index term ids). Curated rows come first, in their order; the others follow in
    the order the book gives them (notes, then index)."""
    decisions = decisions or Decisions()
    people = [_Person(str(p["person_id"]), str(p["name"]), list(p.get("forms") or []),
                      str(p.get("birth") or ""), str(p.get("death") or ""),
                      str(p.get("description") or ""), bool(p.get("is_group")),
                      str(p.get("wikidata") or ""), str(p.get("viaf") or ""),
                      list(p.get("evidence") or []), curated=True) for p in curated]
    for note in notes:
        for k, ident in enumerate(identify_all(note)):
            if ident.kind == "person":
                _add_identified(people, ident, decisions.family_names, by_surname=k > 0
                                or identify(note) is None)
    for term in index:
        if str(term.get("sub_entry") or ""):
            continue
        headword = str(term["headword"])
        if headword in decisions.index_entries:
            name = decisions.index_entries[headword]
            if name is None:
                continue                      # decided: not a person
            person = _find(people, name, [])
        else:
            m = INDEX_NAME.match(headword)
            if not m:
                continue
            forenames = " ".join(w for w in m["forenames"].split() if w not in HONORIFICS)
            name = f"{forenames} {m['surname']}".strip() if forenames else m["surname"]
            person = _find_by_surname(people, m["surname"], forenames, decisions.family_names)
        if person is None:
            person = _Person("", name, [name],
                             description=f"Listed in the book's index as '{headword}'.")
            people.append(person)
        elif not person.curated and _only_initials(person.name) and \
                not _only_initials(name) and name.endswith(person.name.split()[-1]):
            person.forms.append(name)        # the index spells out a note's initials
            person.name = name
        alias = re.search(r"\(([^)]*)\)$", headword)
        person.forms += [headword] + ([alias[1]] if alias else [])
        person.evidence.append(str(term["term_id"]))
    _assign_ids(people, decisions.family_names)
    return [p.row() for p in people]


def _add_identified(people: list[_Person], ident: Identification,
                    families: Mapping[str, str], by_surname: bool) -> None:
    """Enter one note identification: into the person of that name or form, else (for a
    person named after a note's opening, often by initials) the one person of that surname
    whose forenames agree, else a new person."""
    person = _find(people, ident.name, ident.forms)
    if person is None and by_surname:
        given = " ".join(ident.name.split()[:-1])
        person = _find_by_surname(people, surname(ident.name, families), given, families)
    if person is None:
        person = _Person("", ident.name, [ident.name])
        people.append(person)
    person.forms += [ident.name, *ident.forms] if by_surname and person.name != ident.name \
        else ident.forms
    person.evidence.append(ident.note_id)
    if not person.curated:
        person.birth = person.birth or ident.birth
        person.death = person.death or ident.death
        if not person.description:
            person.description = f"{ident.sentence} ({_note_label(ident)})"


def _only_initials(name: str) -> bool:
    """'J. Gorkin', 'M.M. Yoffe': the forenames are initials only."""
    given = name.split()[:-1]
    return bool(given) and all(re.fullmatch(r"(?:[A-Z]\.)+", g) for g in given)


def _find(people: list[_Person], name: str, forms: Sequence[str]) -> _Person | None:
    for person in people:
        if name == person.name or name in person.forms or \
                any(f and (f == person.name) for f in forms):
            return person
    return None


def _find_by_surname(people: list[_Person], family: str, forenames: str,
                     families: Mapping[str, str]) -> _Person | None:
    found = [p for p in people if not p.is_group and surname(p.name, families) == family
             and _forenames_agree(" ".join(p.name.split()[:-1]), forenames)]
    return found[0] if len(found) == 1 else None


def _assign_ids(people: list[_Person], families: Mapping[str, str]) -> None:
    """Readable ids for derived entries: the family name, or family name + forenames when
    another person shares it or the id is taken."""
    taken = {p.person_id for p in people if p.person_id}
    counts: dict[str, int] = {}
    for p in people:
        key = slug(surname(p.name, families))
        counts[key] = counts.get(key, 0) + 1
    for p in people:
        if p.person_id:
            continue
        family = surname(p.name, families)
        given = p.name[:-len(family)].strip() if p.name.endswith(family) else \
            p.name.replace(family, "").strip()
        candidate = slug(family) if counts[slug(family)] == 1 and slug(family) not in taken \
            else slug(f"{family} {given}")
        base, i = candidate, 2
        while candidate in taken:
            candidate, i = f"{base}-{i}", i + 1
        p.person_id = candidate
        taken.add(candidate)


# --- what a person must decide -------------------------------------------------------------

def open_questions(persons: Sequence[Row], notes: Sequence[Row],
                   decisions: Decisions, index: Sequence[Row] | None = None
                   ) -> list[dict[str, str]]:
    """Cases the decisions file does not settle: a surname several persons share, a note
    that speaks of a pseudonym or an alias; and, given the index, decisions about index
    headwords the index no longer has (stale after a change to the index parser)."""
    questions = []
    if index is not None:
        headwords = {str(t["headword"]) for t in index}
        for headword in [*decisions.index_entries, *decisions.index_places,
                         *decisions.index_organisations]:
            if headword not in headwords:
                questions.append({"kind": "stale_decision", "subject": headword,
                                  "evidence": "the index has no such headword"})
    by_surname: dict[str, list[Row]] = {}
    for p in persons:
        if not p.get("is_group"):
            by_surname.setdefault(surname(str(p["name"]), decisions.family_names),
                                  []).append(p)
    for family, members in sorted(by_surname.items()):
        if len(members) > 1 and family not in decisions.distinct_surnames:
            questions.append({"kind": "distinct_surname", "subject": family, "evidence": "; ".join(
                f"{m['person_id']} ({', '.join(m.get('evidence') or []) or 'registry'})"
                for m in members)})
    for ident in (i for i in (identify(n) for n in notes) if i and i.pseudonym):
        if ident.name not in decisions.pseudonyms:
            questions.append({"kind": "pseudonym", "subject": ident.name,
                              "evidence": f"{ident.note_id}: {ident.sentence}"})
    return questions


# --- places -------------------------------------------------------------------------------

# "in Barcelona", "from the Hague": a preposition not inside a word, spaces (and "the"), the
# name as a whole word. The pieces are also used apart, by _named_locatives.
_NOT_IN_A_WORD = r"(?<![\w'’-])"
_PREPOSITION = r"(?:in|at|from|to|near)\s"
_GAP = _PREPOSITION + r"+(?:the\s+)?"
_NAME_END = r"(?![^\W⁰¹²³⁴⁵⁶⁷⁸⁹]|-)"
LOCATIVE = _NOT_IN_A_WORD + _GAP + "{name}" + _NAME_END


def build_places(curated: Sequence[Row], index: Sequence[Row], segmented: Mapping[str, Any],
                 place_headwords: Sequence[str]) -> list[dict[str, Any]]:
    """The places table: the hand-made registry, then every index headword that
    decisions.toml lists as a place (``index_places``), each with its ``evidence``: the
    index entry, and the first passage of the texts that uses it as a place ("in
    Barcelona"), as ``document_id@offset`` (offset in ``text/<source_id>.txt``). A listed
    headword the texts never use so is an error: the decision would have no evidence.
    Nothing is added that the book does not give: new places have no country or
    coordinates (the book does not state them)."""
    rows = [{**p, "evidence": list(p.get("evidence") or [])} for p in curated]
    by_name = {without_accents(str(p["name"])): p for p in rows}
    terms = {str(t["headword"]): str(t["term_id"]) for t in index
             if not str(t.get("sub_entry") or "")}
    term_source = {str(t["headword"]): str(t.get("source_id") or "") for t in index}
    for headword in place_headwords:
        if headword not in terms:
            continue          # a stale decision: open_questions reports it
        # The passage: in the book whose index lists the place, else in any text.
        own = term_source.get(headword, "")
        passage = _first_locative(headword, {own: segmented[own]} if own in segmented else {}) \
            or _first_locative(headword, segmented)
        if passage is None:
            raise PipelineError(f"index_places lists {headword!r}, but no text uses it as a "
                                "place ('in …', 'at …', 'from …')",
                                file=f"_registry/{DECISIONS_FILE}", field="index_places")
        row = by_name.get(without_accents(headword))
        if row is None:
            row = {"place_id": slug(headword), "name": headword, "country": "",
                   "latitude": "", "longitude": "", "part_of": "", "geonames": "",
                   "evidence": []}
            if any(r["place_id"] == row["place_id"] for r in rows):
                raise PipelineError(f"place id {row['place_id']!r} is taken",
                                    file=f"_registry/{DECISIONS_FILE}", field="index_places")
            rows.append(row)
            by_name[without_accents(headword)] = row
        row["evidence"] += [terms[headword], passage]
    return rows


# Where a LOCATIVE match can start: the preposition (the same for every name).
LOCATIVE_START = re.compile(_NOT_IN_A_WORD + _PREPOSITION)


def _last_locative_start(text: str, at: int) -> int | None:
    """Where the last LOCATIVE_START match before ``at`` starts (None if none): searched
    back from ``at`` in growing windows rather than in the whole text (two matches never
    overlap, as a match starts at a word's start and ends at a blank: each is found from
    any point before it as in the whole text's scan)."""
    window = 64
    while True:
        low = max(0, at - window)
        last = None
        for m in LOCATIVE_START.finditer(text, low):
            if m.start() >= at:
                break
            last = m.start()
        if last is not None or low == 0:
            return last
        window *= 8


# What lies between a LOCATIVE match's start and its name as the pattern first tries it
# (greedily: "in the "), and what must follow the name.
LOCATIVE_GAP = re.compile(_GAP)
NAME_END = re.compile(_NAME_END)


def _named_locatives(pattern: Callable[[], re.Pattern[str]], name: str, text: str
                     ) -> Iterator[tuple[int, int]]:
    """The spans of ``pattern().finditer(text)`` for the LOCATIVE pattern of ``name``,
    found from the name's occurrences (``str.find``): a match ends with the name and only
    spaces and "the" lie between it and its preposition, so it can start only at the last
    preposition before an occurrence (a scan per name was 10% of the build, then trying
    the pattern at every preposition 5% of a cached one). Where the name follows the
    preposition as the pattern first tries it (LOCATIVE_GAP), the match is decided
    without the pattern, which is compiled (``pattern()``) only for another case: most
    names never need it (compiling one per place was 5% of an incremental build)."""
    end, at = 0, text.find(name)
    while at != -1:
        start = _last_locative_start(text, at)
        if start is not None and start >= end:
            gap = LOCATIVE_GAP.match(text, start)
            if gap is not None and gap.end() == at:
                # the pattern's first try; if the name is not a whole word there, no other
                # way of matching puts the name at this occurrence
                found = NAME_END.match(text, at + len(name)) is not None
            else:
                m = pattern().match(text, start)
                found = m is not None and m.end() == at + len(name)
            if found:
                end = at + len(name)
                yield start, end
        at = text.find(name, at + 1)


def _first_locative(name: str, segmented: Mapping[str, Any]) -> str | None:
    pattern = cache(lambda: re.compile(LOCATIVE.format(name=re.escape(name))))
    for seg in segmented.values():
        for start, _ in _named_locatives(pattern, name, seg.text):
            units = [u for u in seg.units if u.start <= start < u.end
                     and u.type not in ("index", "bibliography", "glossary")]
            if units:
                unit = max(units, key=lambda u: u.level)
                return f"{unit.document_id}@{start}"
    return None


# --- organisations -------------------------------------------------------------------------

def build_organisations(glossary: Sequence[Row], index: Sequence[Row], notes: Sequence[Row],
                        segmented: Mapping[str, Any], decisions: Decisions | None = None
                        ) -> list[dict[str, Any]]:
    """The organisations table: the glossary's entries, then the organisations the index
    lists, each with its ``evidence``. The rule: an index headword (its words before the
    first comma) that is a glossary organisation's abbreviation, name or English name is
    that organisation ("CNT", "POUM"); a headword a note identifies as an organisation
    ("Gosizdat was the Soviet state publishing agency", :func:`identify`) is one of its
    own, described by the note; any other headword only where decisions.toml says so
    (``index_organisation``, with its evidence): a new organisation named as the index
    prints it, or the existing one its ``org`` names. A new organisation's evidence is
    its index entry and the first passage of the texts that names it
    (``document_id@offset``); a listed headword no text names fails the build."""
    decisions = decisions or Decisions()
    rows = [{**o, "evidence": list(o.get("evidence") or [])} for o in glossary]
    by_id = {str(o["org_id"]): o for o in rows}
    by_form: dict[str, dict[str, Any]] = {}
    for o in rows:
        for key in ("abbreviation", "name", "name_english"):
            if str(o.get(key) or ""):
                by_form.setdefault(str(o[key]), o)
    note_orgs = {i.name: i for i in (identify(n) for n in notes) if i and i.kind == "org"}
    # joins (``org``) after the organisations they may join ("Communist International"
    # joins "Third International", which the index lists later); the index is read twice
    # rather than sorted (its rows may be read from disk as they come: pipeline/spill.py)
    def joins(term: Row) -> bool:
        return bool(decisions.index_organisations.get(str(term["headword"])))

    for term in chain((t for t in index if not joins(t)), (t for t in index if joins(t))):
        if str(term.get("sub_entry") or ""):
            continue
        headword, term_id = str(term["headword"]), str(term["term_id"])
        head = headword.split(", ", 1)[0]
        decided = decisions.index_organisations.get(headword)
        row = by_form.get(head)
        if row is None and decided:
            row = by_id.get(decided)
            if row is None:
                raise PipelineError(f"index_organisation {headword!r}: no organisation "
                                    f"{decided!r}", file=f"_registry/{DECISIONS_FILE}",
                                    field="index_organisation")
        if row is None and (head in note_orgs or decided == ""):
            ident = note_orgs.get(head)
            own = str(term.get("source_id") or "")
            passage = _first_use(head, {own: segmented[own]} if own in segmented else {}) \
                or _first_use(head, segmented)
            if passage is None:
                raise PipelineError(f"index_organisation lists {headword!r}, but no text "
                                    "outside the index names it",
                                    file=f"_registry/{DECISIONS_FILE}",
                                    field="index_organisation")
            org_id = slug(head)
            if org_id in by_id:
                raise PipelineError(f"organisation id {org_id!r} is taken",
                                    file=f"_registry/{DECISIONS_FILE}",
                                    field="index_organisation")
            row = {"org_id": org_id, "source_id": str(term.get("source_id") or ""),
                   "abbreviation": "", "name": head, "name_english": "",
                   "description": f"{ident.sentence} ({_note_label(ident)})" if ident
                   else f"Listed in the book's index as '{headword}'.",
                   "evidence": [term_id, *([ident.note_id] if ident else []), passage]}
            rows.append(row)
            by_id[org_id] = row
            by_form[head] = row
        elif row is not None:
            row["evidence"].append(term_id)
    return rows


def _first_use(name: str, segmented: Mapping[str, Any]) -> str | None:
    """The first passage outside the apparatus that prints ``name`` as whole words."""
    pattern = re.compile(rf"(?<![\w'’-]){re.escape(name)}(?![^\W⁰¹²³⁴⁵⁶⁷⁸⁹]|-)")
    for seg in segmented.values():
        for m in literal_matches(pattern, name, seg.text):
            units = [u for u in seg.units if u.start <= m.start() < u.end
                     and u.type not in ("index", "bibliography", "glossary", "front")]
            if units:
                unit = max(units, key=lambda u: u.level)
                return f"{unit.document_id}@{m.start()}"
    return None
