"""Letter anatomy: the printed parts of a letter, read once and used by every stage.

A letter, as the book prints it, is::

    heading              Letter 21: Trotsky to Serge (in Russian)
    opener               address lines, a dateline ("Hurum, Sept 6, 1936"), the salutation
    body                 the paragraphs
    closer               farewell formulas ("Friendliest greetings." / "Yours,"), the
                         signature ("LT"), then what is printed under it: a dateline, an
                         address, an attestation (Letter 32)
    postscripts          each "PS" with its paragraphs and, when signed, its own closer
                         (farewell formulas and signature)

Enclosures and the editor's headnote are units of their own (segment stage) and are
not part of the anatomy. The same reading gives the ``letters`` table its date and place
(opener or foot) and the TEI stage its ``opener``/``closer``/``postscript``.

Chapter documents that are signed or dated at the foot (an article signed "Victor
Serge" with "Paris, April 28, 1938" above the signature) get the same closer: it closes
the document, even when the book prints it at the end of the document's last
sub-section (``document_closers``).

What the text alone cannot decide is a decision in the source's ``letters.toml`` (the
lines of an attestation, a line that says a copy is unsigned), each quoted from the book.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .conventions import NOTE_MARK, SUPERSCRIPTS
from .conventions import strip_marks as plain
from .dates import DATE, DATE_PATTERN, MONTHS, iso_date
from .segment import SegmentedSource, paragraphs

CLOSING_MAX_WORDS = 15
SHORT_LINE_WORDS = 10
# How far from the end of a letter its signature may stand (postscripts and an address
# under it included).
FOOT_WINDOW = 8
# A farewell above a signature ("I shake your hand firmly", "Fraternal greetings").
CLOSING = re.compile(r"\b(?:greetings?|regards|yours|hand|hand-shake|handshake|embrace|"
                     r"fraternal(?:ly)?|salut\w*|salud|wish(?:es)?|love|kisses|friendship|"
                     r"cordially)\b", re.I)
# "PS.", "PS –", "PSs.", "PPS.", "P.S.", "NB."
POSTSCRIPT = re.compile(r"^(?:(?:P\.?\s?){1,2}S(?:s)?\.?|N\.?\s?B\.?)(?=[\s–—-]|$)")
SALUTATION = re.compile(r"^(?:My\s+)?(?:Dear(?:est)?|Esteemed)\b.{0,80},$")
DATELINE = re.compile(r"^(?P<pre>[^\d]{0,60}?)[\s,]*(?P<date>" + DATE_PATTERN + r")"
                      r"(?P<post>[\s,–—-]+[^\d]{1,60})?\.?$")
# A month and year alone at the foot of a signed text ("London, November 1993").
MONTH_DATELINE = re.compile(r"^(?P<pre>[^\d]{0,60}?)[\s,]*(?P<date>[A-Z][a-z]{2,8}\.?\s+\d{4})"
                            r"\.?$")

OPENER_ROLES = ("address", "dateline", "salute")
CLOSER_ROLES = ("closing", "signed", "unsigned", "foot-dateline", "foot-address",
                "attestation")
POSTSCRIPT_ROLES = ("postscript", "ps-closing", "ps-signed")


@dataclass(frozen=True)
class Paragraph:
    """One printed paragraph: its span in the cleaned text and its text as printed."""

    start: int
    end: int
    text: str

    @property
    def plain(self) -> str:
        return plain(self.text)

    @property
    def words(self) -> int:
        return len(self.plain.split())


@dataclass(frozen=True)
class Dateline:
    """A printed date, with the place printed on the same line or above it."""

    date_as_written: str
    date: str
    place_as_written: str
    position: str   # "head", "foot" or "heading"
    notes: tuple[int, ...] = ()   # note marks printed on the dateline ("May 27, 1934¹⁵⁰")


def note_marks(text: str) -> set[int]:
    """The note numbers marked in a text (superscript digits or ``^{n}``)."""
    marks = set()
    for m in NOTE_MARK.finditer(text):
        digits = re.sub(r"\D", "", m.group().translate(SUPERSCRIPTS))
        if digits:
            marks.add(int(digits))
    return marks


def parse_dateline(text: str) -> Dateline | None:
    """A paragraph that is a dateline ("Hurum, Sept 6, 1936", "25/4/36",
    "June 6, 1936 – Brussels"), or None."""
    line = plain(text)
    m = DATELINE.match(line)
    if not m or len(line) > 90:
        return None
    pre = (m["pre"] or "").strip(" ,")
    post = (m["post"] or "").strip().lstrip(",–—-").strip()
    if len(pre.split()) > 5 or len(post.split()) > 5 or (pre and post):
        return None
    # A date that cannot be read (31/13/36, or 5/4/36: day or month first?) is still a
    # dateline, with no ISO date: the caller reports it.
    iso = iso_date(DATE.fullmatch(m["date"]))
    return Dateline(m["date"], iso or "", pre or post, "head", tuple(sorted(note_marks(text))))


def _is_foot_dateline(text: str) -> bool:
    """A dateline, or a place and month at the foot of a signed text."""
    return parse_dateline(text) is not None or (
        len(plain(text)) <= 60 and MONTH_DATELINE.match(plain(text)) is not None)


@dataclass(frozen=True)
class AnatomyDecision:
    """What a source's letters.toml says about a letter's parts, in the book's words."""

    attestation: str = ""   # the first line of an attestation under the signature
    unsigned: str = ""      # the line printed where a signature would be ("[copy unsigned]")
    no_closer: str = ""     # why the letter has no closer (the book prints none)


@dataclass(frozen=True)
class Anatomy:
    """The parts of one letter: every paragraph's role, in printed order.

    Roles: ``head``; the opener's ``address``, ``dateline``, ``salute``; the body's ``p``;
    the closer's ``closing`` (a farewell formula), ``signed``, ``unsigned`` (the editor's
    line where a signature would be), ``foot-dateline``, ``foot-address`` and
    ``attestation``; the postscripts' ``postscript`` paragraphs and their own
    ``ps-closing`` and ``ps-signed``. ``postscript_starts`` are the paragraphs that open
    a postscript.
    """

    parts: tuple[tuple[int, str], ...]
    postscript_starts: frozenset[int] = frozenset()
    no_closer: str = ""

    def offsets(self, *roles: str) -> list[int]:
        """The offsets of the paragraphs with one of these roles, in printed order."""
        return [offset for offset, role in self.parts if role in roles]

    @property
    def roles(self) -> dict[int, str]:
        return dict(self.parts)

    @property
    def has_closer(self) -> bool:
        return any(role in CLOSER_ROLES for _, role in self.parts)

    def postscripts(self) -> list[list[tuple[int, str]]]:
        """The postscripts, each as its paragraphs' (offset, role)."""
        groups: list[list[tuple[int, str]]] = []
        for offset, role in self.parts:
            if role in POSTSCRIPT_ROLES:
                if offset in self.postscript_starts or not groups:
                    groups.append([])
                groups[-1].append((offset, role))
        return groups


def _closings_above(paras: list[Paragraph], signature: int, floor: int) -> list[int]:
    """The farewell formulas printed just above a signature, down to ``floor`` (excluded:
    the body or postscript keeps at least the paragraph at ``floor``)."""
    found = []
    k = signature - 1
    while k > floor and paras[k].words <= CLOSING_MAX_WORDS and CLOSING.search(paras[k].plain):
        found.append(k)
        k -= 1
    return found


def _is_footnote(p: Paragraph) -> bool:
    """The author's footnote printed under the text ("* A monthly")."""
    return p.text.lstrip().startswith("*")


def _opens_foot(p: Paragraph) -> bool:
    """What may follow a signature: a dateline, a short line, a postscript, a footnote."""
    return (parse_dateline(p.text) is not None or p.words <= SHORT_LINE_WORDS
            or POSTSCRIPT.match(p.plain) is not None or _is_footnote(p))


def read_anatomy(paras: list[Paragraph], at: int, body: int, is_sender: Callable[[str], bool],
                 decision: AnatomyDecision = AnatomyDecision()) -> Anatomy:
    """The anatomy of a letter whose heading is ``paras[:at]``, opener ``paras[at:body]``.

    The letter's signature is the first line of the sender's name near the end that is
    followed only by what may stand under a signature; the farewell formulas just above
    it are the closer's; short lines and a dateline under it are the closer's too; what
    follows is postscripts, each opened by "PS"/"PPS", whose last line may be the
    sender's signature (with farewell formulas above it).
    """
    roles: dict[int, str] = {p.start: "head" for p in paras[:at]}
    for p in paras[at:body]:
        roles[p.start] = ("salute" if SALUTATION.match(p.plain)
                          else "dateline" if parse_dateline(p.text) else "address")
    n = len(paras)
    signature = next((j for j in range(max(body, n - FOOT_WINDOW), n)
                      if is_sender(paras[j].text) and (j == n - 1 or _opens_foot(paras[j + 1]))),
                     None)
    signature_role = "signed"
    if signature is None and decision.unsigned:
        signature = next((j for j in range(body, n)
                          if plain(decision.unsigned) == paras[j].plain), None)
        signature_role = "unsigned"
    end = n if signature is None else signature
    if signature is None and n - 1 > body and parse_dateline(paras[-1].text):
        end = n - 1
    closings = set(_closings_above(paras, signature, body)) if signature is not None else set()
    for j in range(body, end):
        roles[paras[j].start] = "closing" if j in closings else "p"
    ps_starts: set[int] = set()
    if signature is not None:
        roles[paras[signature].start] = signature_role
    foot = list(range(end + (signature is not None), n))
    in_attestation = False
    while foot:
        p = paras[foot[0]]
        if decision.attestation and plain(decision.attestation) == p.plain:
            in_attestation = True
        if in_attestation and not POSTSCRIPT.match(p.plain):
            roles[p.start] = "attestation"
        elif parse_dateline(p.text):
            roles[p.start] = "foot-dateline"
        elif p.words <= SHORT_LINE_WORDS and not POSTSCRIPT.match(p.plain) \
                and not _is_footnote(p):
            roles[p.start] = "foot-address"
        else:
            break
        foot.pop(0)
    if foot:
        last = foot[-1]
        ps_signature = last if (len(foot) > 1 and is_sender(paras[last].text)) else None
        ps_closings = set(_closings_above(paras, ps_signature, foot[0])) \
            if ps_signature is not None else set()
        current_has_text = False
        for j in foot:
            p = paras[j]
            if j == ps_signature:
                roles[p.start] = "ps-signed"
            elif j in ps_closings:
                roles[p.start] = "ps-closing"
            else:
                roles[p.start] = "postscript"
                if j == foot[0] or (POSTSCRIPT.match(p.plain) and current_has_text):
                    ps_starts.add(p.start)
                    current_has_text = False
                current_has_text = current_has_text or not _is_footnote(p)
    return Anatomy(tuple((p.start, roles[p.start]) for p in paras), frozenset(ps_starts),
                   decision.no_closer)


# --- documents --------------------------------------------------------------------------

# Units whose foot may carry a signature and a dateline: the chapter documents.
SIGNED_TYPES = {"document", "extract", "introduction", "article", "review", "section"}
DOCUMENT_FOOT_LINES = 3


def document_closers(seg: SegmentedSource, is_person: Callable[[str, str], bool],
                     letter_ids: Iterable[str] = ()) -> dict[str, tuple[tuple[int, int, str], ...]]:
    """For every signed or dated document (not a letter: letters have their anatomy), the
    lines at its foot that close it: {document_id: ((start, end, role), …)} with role
    ``signed`` or ``foot-dateline``, in printed order. The lines may be printed at the end
    of the document's last sub-section; they close the document all the same."""
    inside_letter = {u.document_id for letter_id in letter_ids
                     if (letter := seg.get(letter_id)) is not None for u in seg.subtree(letter)}
    found: dict[str, tuple[tuple[int, int, str], ...]] = {}
    claimed: set[int] = set()
    for unit in seg.units:
        if unit.type not in SIGNED_TYPES or unit.document_id in inside_letter \
                or not unit.author_id:
            continue
        # The unit whose own text ends the document: itself or its last sub-unit.
        holder = seg.subtree(unit)[-1]
        body, body_end = seg.body_span(holder)      # the heading is not a foot line
        spans = [(body + s, body + e) for s, e in paragraphs(seg.text[body:body_end])]
        lines: list[tuple[int, int, str]] = []
        for s, e in reversed(spans[-DOCUMENT_FOOT_LINES:]):
            text = seg.text[s:e]
            if s in claimed or len(lines) + 1 >= len(spans):
                break
            if is_person(text, unit.author_id):
                role = "signed"
            elif _is_foot_dateline(text):
                role = "foot-dateline"
            else:
                break
            lines.insert(0, (s, e, role))
        if any(role == "signed" for _, _, role in lines) or (
                lines and holder is unit and len(lines) == 1):
            found[unit.document_id] = tuple(lines)
            claimed.update(s for s, _, _ in lines)
    return found


def document_dateline(text: str) -> Dateline | None:
    """The date (and place) printed on a document's foot line, or None."""
    d = parse_dateline(text)
    if d:
        return d
    m = MONTH_DATELINE.match(plain(text))
    if not m:
        return None
    month, year = m["date"].rstrip(".").split()
    number = MONTHS.get(month.casefold())
    return Dateline(m["date"], f"{year}-{number:02d}" if number else "",
                    (m["pre"] or "").strip(" ,"), "foot")
