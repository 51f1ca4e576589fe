"""Conversion defects: candidates found with the corpus's own vocabulary, for review.

The cleaner repairs a conversion defect only by an explicit emendation (``sic``/``corr``
with a reason in the source's ``source.toml``). This module finds the candidates
systematically, in the cleaned texts (so that an emended defect is no longer one):

- ``run-together``: a word the corpus uses nowhere else that splits into two words the
  corpus uses often and prints elsewhere as a phrase ("inwhich" = "in which"), the
  method the hyphen decisions use;
- ``hyphen-space``: a hyphen followed by a space inside a line ("state- owned"), unless
  a suspended compound ("pre- and post-war");
- ``digit-pronoun``: a digit glued to a pronoun ("1I", "we2").

A candidate that review keeps as printed is listed in the source's ``source.toml``
(``[defects] kept``, the token as printed); ``sergetrotsky defects`` lists the rest, and
the dataset's tests require that list to be empty.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

from .clean import CleanedSource, lowered_words, vocabulary
from .conventions import ALPHABETIC_WORD
from .sources import Source

COMMON = 25          # a part must occur this often in the corpus to count as a word
MIN_PART = 2         # ... and be this long (one-letter parts: "a", "I" are too easy)
SHORT_COMMON = {"a", "i"}
HYPHEN_SPACE = re.compile(r"(?<=[^\W\d_])- (?=[^\W\d_]+)")
SUSPENDED = re.compile(r"- (?:and|or|to|nor|und|et|ou)\b")
PRONOUN = r"(?:I|me|he|him|she|her|it|we|us|they|them|you)"
DIGIT_PRONOUN = re.compile(rf"(?<![\w^{{])(?:\d+{PRONOUN}|{PRONOUN}\d+)\b")


@dataclass(frozen=True)
class Candidate:
    """A token that may be a conversion defect, where it is and what it may be."""

    source_id: str
    line: int
    kind: str
    token: str
    suggestion: str
    context: str

    def __str__(self) -> str:
        return (f"{self.source_id}:{self.line}: {self.kind}: {self.token!r} "
                f"(perhaps {self.suggestion!r}): …{self.context}…")


def _pairs(texts: Iterable[str]) -> Counter[str]:
    """Two-word phrases the corpus prints ("in which"), lowercased."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(map(" ".join, pairwise(lowered_words(text))))
    return counts


def _split(word: str, vocab: Counter[str], pairs: Counter[str]) -> str | None:
    """The best split of a word into two common words that the corpus also prints as a
    phrase ("inwhich": "in which"), or None ("overturn": "over turn" is printed nowhere)."""
    best = None
    for i in range(1, len(word)):
        left, right = word[:i].lower(), word[i:].lower()
        ok = pairs[f"{left} {right}"] > 0 and all(
            (len(part) >= MIN_PART or part in SHORT_COMMON) and vocab[part] >= COMMON
            for part in (left, right))
        if ok:
            score = min(vocab[left], vocab[right])
            if best is None or score > best[0]:
                best = (score, f"{word[:i]} {word[i:]}")
    return best[1] if best else None


def _context(text: str, start: int, end: int) -> str:
    return " ".join(text[max(0, start - 30):end + 30].split())


def candidates(sources: Iterable[Source], cleaned: dict[str, CleanedSource]
               ) -> list[Candidate]:
    """Every candidate defect in the cleaned texts, source by source, in text order, less
    those the source's ``[defects] kept`` lists as reviewed and printed so."""
    sources = list(sources)
    vocab = vocabulary(cleaned[s.source_id].text for s in sources)
    pairs = _pairs(cleaned[s.source_id].text for s in sources)
    found: list[Candidate] = []
    for source in sources:
        text = cleaned[source.source_id].text
        kept = set(source.extra.get("defects", {}).get("kept", [])) \
            if isinstance(source.extra.get("defects"), dict) else set()
        hits: list[tuple[int, int, str, str]] = []
        for m in ALPHABETIC_WORD.finditer(text):
            word = m.group()
            if len(word) < 5 or "-" in word or "'" in word or "’" in word \
                    or vocab[word.lower()] > 1 or word.isupper():
                continue
            split = _split(word, vocab, pairs)
            if split:
                hits.append((m.start(), m.end(), "run-together", split))
        for m in HYPHEN_SPACE.finditer(text):
            if not SUSPENDED.match(text, m.start()):
                start = text.rfind(" ", 0, m.start()) + 1
                after = ALPHABETIC_WORD.match(text, m.end())   # HYPHEN_SPACE's lookahead: a word
                end = after.end() if after else m.end()
                token = text[start:end]
                hits.append((start, end, "hyphen-space", token.replace("- ", "-")))
        for m in DIGIT_PRONOUN.finditer(text):
            hits.append((m.start(), m.end(), "digit-pronoun",
                         re.sub(r"(\d+)", r" \1 ", m.group()).strip()))
        for start, end, kind, suggestion in sorted(hits):
            token = text[start:end]
            if token in kept:
                continue
            found.append(Candidate(source.source_id, text.count("\n", 0, start) + 1, kind,
                                   token, suggestion, _context(text, start, end)))
    return found
