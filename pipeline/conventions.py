"""The conventions of the cleaned text and of the TEI made from it, defined once.

The cleaner publishes a plain text in which a few marks stand for what the book prints:

- a note call is a superscript number (``²⁷``) or, where the source prints it so,
  ``^{27}`` or ``^{*35}`` (``NOTE_MARK``; ``SUPERSCRIPTS`` reads its digits);
- italics are a pair of asterisks on one line (``*Pravda*``; ``ITALIC``); an unpaired
  asterisk stays as printed, and a lone ``*`` at a paragraph's start is an author's note;
- a word is a run of letters or digits, with inner hyphens and apostrophes (``WORD``);
  the cleaner's vocabulary for line-end hyphens counts alphabetic words only
  (``ALPHABETIC_WORD``).

Every stage reads the marks through this module, so that a change of convention is made
in one place. Names of registered persons, places and organisations are read by one
index with one case rule (as printed) and one normalisation (``strip_marks``):
``pipeline/names.py``; ``fold`` (case and accents ignored) serves a letter's place line
and slugs, never a person's name.

The TEI side: the namespaces, ``tei_element`` (the one element factory) and the ISO 639-1
language names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from lxml import etree

# --- the cleaned text -----------------------------------------------------------------

NOTE_MARK = re.compile(r"\^\{\*?\d+\}|[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
ALPHABETIC_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
# An italic span, as in Markdown: a pair of asterisks on one line around some text (group
# 1), the first before a non-blank, the second after one; so the asterisks of "a call* and
# another*" are not a pair.
ITALIC = re.compile(r"\*(?=[^\s*])([^*\n]*?)(?<=[^\s*])\*")


def strip_marks(text: str) -> str:
    """A heading as a title: note marks and italics markup removed, blanks folded."""
    return " ".join(NOTE_MARK.sub("", text).replace("*", "").split())


def without_accents(text: str) -> str:
    """The text in ASCII: accents dropped ("Coyoacán" → "Coyoacan"), other non-ASCII
    characters removed."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def literal_matches(pattern: re.Pattern[str], literal: str, text: str, start: int = 0,
                    end: int | None = None, lead: int = 0) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text, start, end)`` for a pattern each of whose matches holds
    ``literal`` ``lead`` characters after its start (and looks around it): tried only
    where ``str.find`` sees the literal, not at every position of the text (a pattern
    that opens with a lookbehind is otherwise tried everywhere, a hundred times slower)."""
    end = len(text) if end is None else end
    free = start                # finditer's matches do not overlap
    at = text.find(literal, start + lead, end)
    while at != -1:
        begin = at - lead
        if begin >= free:
            m = pattern.match(text, begin, end)
            if m is not None:
                free = m.end()
                yield m
        at = text.find(literal, at + 1, end)


def fold(text: str) -> str:
    """For matching a letter's place line (``letters.Places``): accents, case, punctuation
    and digits ignored. Person names are matched as printed (``names.NameIndex``)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]|\d|_", " ", text.casefold()).split())


def count_words(text: str) -> int:
    """Words, not counting note marks."""
    return len(WORD.findall(NOTE_MARK.sub("", text)))


# --- languages (ISO 639-1) --------------------------------------------------------------

# The codes the texts' metadata and headings use, named for readers; others show as codes.
LANGUAGE_NAMES = {"en": "English", "fr": "French", "ru": "Russian", "de": "German",
                  "es": "Spanish", "ca": "Catalan", "it": "Italian", "nl": "Dutch",
                  "no": "Norwegian", "yi": "Yiddish", "pl": "Polish"}
# A language as a header names it ("in French", "in Castilian") -> its code.
LANGUAGE_CODES = {name.lower(): code for code, name in LANGUAGE_NAMES.items()} \
    | {"castilian": "es"}

# --- TEI ----------------------------------------------------------------------------------

TEI_NS = "http://www.tei-c.org/ns/1.0"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XML_ID = f"{{{XML_NS}}}id"
XML_LANG = f"{{{XML_NS}}}lang"


def tei_tag(tag: str) -> str:
    """The qualified name of a TEI element: ``{http://www.tei-c.org/ns/1.0}tag``."""
    return f"{{{TEI_NS}}}{tag}"


def tei_element(parent: etree._Element | None, tag: str, text: str | None = None,
                **attrs: str | None) -> etree._Element:
    """A TEI element, appended to ``parent`` when there is one (else a root declaring the
    TEI namespace), with its attributes in the given order; ``xml_id`` and ``xml_lang``
    stand for ``xml:id`` and ``xml:lang``; empty or missing attribute values are left out."""
    name = tei_tag(tag)
    node = etree.Element(name, nsmap={None: TEI_NS}) if parent is None \
        else etree.SubElement(parent, name)
    for key, value in attrs.items():
        if value not in ("", None):
            node.set(XML_ID if key == "xml_id" else XML_LANG if key == "xml_lang" else key,
                     str(value))
    if text:
        node.text = text
    return node
