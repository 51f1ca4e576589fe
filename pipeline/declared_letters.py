"""Letters declared in a source's outline: a letter from any source, whatever its heading.

The letters stage reads a letter from what a book like the Papers prints ("Letter 12:
Serge to Trotsky (in French)"). A letter that starts with its dateline ("Paris, 12 March
1938 / Dear Pierre,"), a typescript, a letter quoted in an article, is declared instead,
in the source's ``segment.toml``, each fact with the printed words that support it::

    [[letter]]
    unit = "letter-1"            # the outline's unit (relative id); omitted: the top unit
    sender = "pierre-example"    # a persons.toml id …
    sender_words = "Pierre"      # … and the words of the letter that name the sender
    addressee = "jean-example"   # (or addressees = [...]: letters.addressee_ids holds them all)
    addressee_words = "Dear Jean,"
    date = "1938-03-12"          # ISO 8601
    date_words = "12 March 1938"
    place = "paris"              # a places.toml id
    place_words = "Paris"
    # optional: form (letter | telegram | postcard | open-letter), language (ISO 639-1), n

Every ``*_words`` must be printed in the letter's own text: a fact without its words is
an error, never a guess. The encoding of the letter (opener, closer) follows from where
those words stand.
"""

from __future__ import annotations

from typing import Any

from .anatomy import Anatomy
from .conventions import strip_marks
from .dates import ISO_DATE
from .errors import PipelineError
from .segment import SegmentedSource, Unit
from .sources import Source, read_toml

KEYS = {"unit", "sender", "sender_words", "addressee", "addressees", "addressee_words", "date",
        "date_words", "place", "place_words", "form", "language", "n"}
REQUIRED = ("sender", "sender_words")
INCIPIT_WORDS = 10
CLOSING_MAX_WORDS = 15


def declarations(source: Source) -> list[dict[str, Any]]:
    """The ``[[letter]]`` entries of the source's outline file (segment.toml)."""
    path = source.folder / "segment.toml"
    if not path.is_file():
        return []
    entries = read_toml(path).get("letter", [])
    if not isinstance(entries, list):
        raise PipelineError("letters are declared as [[letter]] tables", file=str(path),
                            field="letter")
    return entries


def declared_letters(source: Source, seg: SegmentedSource, persons: list[dict[str, Any]],
                     places: list[dict[str, Any]]) -> dict[str, Any]:
    """The declared letters of a source, by document id (Letter objects of the letters
    stage). A wrong declaration is a located PipelineError."""
    from .anatomy import CLOSING, SALUTATION
    from .letters import Letter, _words, forms  # no import cycle
    path = source.folder / "segment.toml"
    person_ids = {p["person_id"] for p in persons}
    place_ids = {p["place_id"]: p for p in places}
    found: dict[str, Any] = {}
    for i, entry in enumerate(declarations(source)):
        where = f"letter[{i}]"

        def fail(message: str, key: str = "", where: str = where) -> PipelineError:
            return PipelineError(message, file=str(path), field=f"{where}.{key}" if key else where)

        unknown = set(entry) - KEYS
        if unknown:
            raise fail(f"unknown keys {sorted(unknown)} (known: {', '.join(sorted(KEYS))})")
        for key in REQUIRED:
            if not entry.get(key):
                raise fail("required", key)
        unit_id = f"{source.source_id}-{entry['unit']}" if entry.get("unit") else source.source_id
        unit: Unit | None = seg.get(unit_id)
        if unit is None or unit.type != "letter":
            raise fail(f"{unit_id!r} is not a unit of type 'letter' in the outline", "unit")
        if unit_id in found:
            raise fail(f"{unit_id!r} declared twice", "unit")
        text = seg.text[unit.start:unit.own_end]
        for key in ("sender_words", "addressee_words", "date_words", "place_words"):
            if entry.get(key) and " ".join(str(entry[key]).split()) not in " ".join(text.split()):
                raise fail(f"{entry[key]!r} is not printed in the letter", key)
        for fact in ("date", "place"):
            if entry.get(fact) and not entry.get(f"{fact}_words"):
                raise fail(f"{fact} needs {fact}_words: the words of the letter that state it",
                           f"{fact}_words")
        addressees = entry.get("addressees") or ([entry["addressee"]] if entry.get("addressee")
                                                 else [])
        if addressees and not entry.get("addressee_words"):
            raise fail("addressees need addressee_words", "addressee_words")
        for key, value in (("sender", entry["sender"]), *(("addressee", a) for a in addressees)):
            if value not in person_ids:
                raise fail(f"{value!r} is not in sources/_registry/persons.toml", key)
        if entry.get("place") and entry["place"] not in place_ids:
            raise fail(f"{entry['place']!r} is not in sources/_registry/places.toml", "place")
        date = str(entry.get("date", ""))
        if date and not _iso(date):
            raise fail("must be an ISO 8601 date (YYYY, YYYY-MM or YYYY-MM-DD)", "date")
        form = entry.get("form", "letter")
        if form not in forms():
            raise fail(f"must be one of {', '.join(forms())}", "form")
        found[unit_id] = _letter(Letter, entry, unit, seg, addressees, date, form,
                                 SALUTATION, CLOSING, _words)
    return found


def _iso(value: str) -> bool:
    return bool(ISO_DATE.match(value))


def _letter(letter_class: Any, entry: dict[str, Any], unit: Unit, seg: SegmentedSource,
            addressees: list[str], date: str, form: str, salutation: Any, closing: Any,
            count_words: Any) -> Any:
    """The Letter, with the layout its declared words give: the opening lines that hold
    the place, the date or the salutation make the opener; the last line, if it holds the
    sender's words, is the signature, and a short farewell above it the closing."""
    from .segment import paragraphs
    spans = [(unit.start + s, unit.start + e)
             for s, e in paragraphs(seg.text[unit.start:unit.own_end])]
    texts = [" ".join(seg.text[s:e].split()) for s, e in spans]

    def holds(i: int, key: str) -> bool:
        return bool(entry.get(key)) and " ".join(str(entry[key]).split()) in texts[i]

    roles: list[str] = ["p"] * len(spans)
    body = 0
    while body < len(spans) - 1 and (holds(body, "date_words") or holds(body, "place_words")
                                     or salutation.match(strip_marks(texts[body]))):
        roles[body] = "salute" if salutation.match(strip_marks(texts[body])) else "dateline"
        body += 1
    if len(spans) - 1 > body and holds(len(spans) - 1, "sender_words") \
            and count_words(texts[-1]) <= CLOSING_MAX_WORDS:
        roles[-1] = "signed"
        if len(spans) - 2 > body and closing.search(texts[-2]) \
                and count_words(texts[-2]) <= CLOSING_MAX_WORDS:
            roles[-2] = "closing"
    opener = range(body)
    date_position = "head" if any(holds(i, "date_words") for i in opener) else (
        "foot" if date else "")
    place_position = "head" if any(holds(i, "place_words") for i in opener) else (
        "foot" if entry.get("place") else "")
    salute = next((strip_marks(texts[i]) for i in opener if roles[i] == "salute"), "")
    words = strip_marks(texts[body]).split() if body < len(texts) else []
    return letter_class(
        letter_id=unit.document_id, number=entry.get("n"), sender_id=entry["sender"],
        addressee_id=addressees[0] if addressees else "", addressee_ids=tuple(addressees),
        salutation=salute,
        date=date, date_as_written=str(entry.get("date_words", "")),
        date_cert="high" if date else "", date_source="printed" if date else "",
        place_id=entry.get("place", ""), place_as_written=str(entry.get("place_words", "")),
        place_cert="printed" if entry.get("place") else "", place_reason="",
        language=entry.get("language", unit.language), form=form, extract=False,
        publication="", incipit=" ".join(words[:INCIPIT_WORDS]),
        date_position=date_position, date_notes=(), place_position=place_position,
        headnote="", anatomy=Anatomy(tuple(zip((s for s, _ in spans), roles, strict=True))),
    )
