"""Dataset documentation generated from the same metadata the build uses:
README.md (each table's fields come from its schema), CITATION.cff."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .package import Table, table_schema
from .sources import Source

INTRO = """\
# {title}

Version {version}, released {released}.

{description}

## Files

| path | what |
| --- | --- |
| `datapackage.json` | Frictionless Data Package v2 descriptor: each table with its schema, `hash` (SHA-256) and `bytes` |
{table_lines}| `schema/*.json` | the table schemas |
| `originals/<source_id>/…` | each original file, byte for byte (its SHA-256 is in `data/sources.csv`) |
| `text/<source_id>.txt` | a source's whole cleaned text, exactly as the cleaner published it (note marks and `*italics*` as printed): with `data/removals.csv` it rebuilds the original |
| `text/<source_id>/<document_id>.txt` | reading text of each unit, its sub-units included: note call marks left out, and the author's notes printed inside the running text left out (both are in `data/notes.csv`); `*italics*` kept |
| `tei/<source_id>.xml` | TEI P5 of each source: every unit a `div` whose `xml:id` is its `document_id`, notes as `note` elements where the book prints them, each call a `ref` to its note |
| `tei/letters/<letter_id>.xml` | TEI P5 of each letter, standing alone: `correspDesc` (sender, addressee, place, date with `@when` and the printed form; `correspContext`: the previous and next letter in the book and between the same two correspondents), the letter as a letter (`opener`, `closer`, `postscript`), the notes it calls (in `back`), and the persons, places and organisations it names (in `standOff`) |
| `cmif.xml` | every letter's `correspDesc` in CMIF v1.1, for correspSearch: absolute URLs (`publicationStmt/idno`, each letter's `@ref`), `correspContext` |
| `letters.jsonl` | one JSON object per letter: its row of `letters`, its reading text, the notes called in it |
| `CITATION.cff`, `CHANGELOG.md` | how to cite this dataset; what changed between versions |

## Loading

In Python, the project's loader reads every table into pandas, typed from its schema
(nullable integers, booleans, categoricals for closed lists, dates kept as printed with
a `<field>_parsed` datetime column where complete), with foreign keys as joins and each
letter's text and TEI file. Install it with `pip install 'sergetrotsky[pandas]'`.

```python
import sergetrotsky
dataset = sergetrotsky.load(".")   # this folder, or the release zip it came in
letters = dataset.letters_with_names   # + sender_name, addressee_name, place_name
print(letters[["letter_id", "date", "sender_name", "addressee_name"]].head())
print(dataset.letter_text("papers-letter-12")[:200])
```

With Frictionless alone:

```python
from frictionless import Package, validate
package = Package("datapackage.json")
persons = package.get_resource("persons").to_pandas()
print(validate("datapackage.json").valid)   # schemas, keys, checksums
```

With the command line: `frictionless validate datapackage.json`.

```python
import json
letters = [json.loads(line) for line in open("letters.jsonl", encoding="utf-8")]

from lxml import etree
NS = {{"t": "http://www.tei-c.org/ns/1.0"}}
book = etree.parse("tei/papers.xml")
letter = book.xpath("//t:div[@xml:id='papers-letter-12']", namespaces=NS)[0]
note = book.xpath("//t:note[@xml:id='papers-ch02-n150']", namespaces=NS)[0]
print(letter.findtext("t:head", namespaces=NS), "|", "".join(note.itertext())[:80])
```

Any TEI tool reads the files (they are valid against TEI P5 `tei_all`); the pipeline's
`sergetrotsky validate` checks them against the project's stricter schema
(`schema/tei/` in the repository).

## Editorial principles

- The texts are not rewritten. The cleaner removes web boilerplate and page furniture,
  resolves line-end hyphens (from the words the corpus itself uses), joins hard line
  wraps and paragraphs split by page breaks, puts pages back in reading order, and
  applies explicit emendations (conversion defects only: dropped accented letters,
  words run together by a PDF extraction). Every removed or inserted character is in
  `data/removals.csv`, located in the original with its reason: the originals can be
  rebuilt exactly from the published text and that log.
- Note marks (superscript digits) and `*italics*` are kept in each source's whole text
  (`text/<source_id>.txt`) as printed. The unit texts leave the note marks and the
  author's notes printed in the running text out: every note is in `data/notes.csv`,
  tied to the unit that calls it (`ref_document_id`), and in the TEI at its place.
- In TEI, italics are `title` where the same words are italic in the book's bibliography,
  else `hi rend="italic"`; emendations are `choice/sic/corr`; notes follow the ELTeC model
  (`ref target="#note-id"` at the call, the `note` once where the book prints it).
- Facts come from the texts. What a text does not say is left empty and listed in
  `sources.unknown`; an attribution from outside the text is stated in `sources.attribution`;
  a fact the editors infer is marked as such with its basis (`sources.inferred` and
  `inference_basis`, `bibliography.inferred` and `inference_basis`).

{registers}## Editorial inferences and known limitations

What the dataset holds that the texts do not print, each with its basis, and what of
the originals it cannot recover (from each source's metadata, `sources/<id>/source.toml`).

Editorial inferences:

{inferences}
Known limitations:

{limitations}
## Rights

The dataset's own metadata, segmentation and annotations: {licence}. The texts keep
their own rights, stated per source in `data/sources.csv` (`rights`, as printed, or the
statement that the text states none); they are included for non-commercial scholarly
research.

## Tables
"""


def readme(meta: dict[str, Any], tables: list[Table], sources: list[Source]) -> str:
    """The downloader's README: files, loading, principles, limitations (from each
    source's metadata), and every table's fields (from the schemas)."""
    limitations = "".join(f"- `{s.source_id}`: {item}\n" for s in sources
                          for item in s.extra.get("limitations", [])) or "- None recorded.\n"
    inferences = "".join(f"- `{s.source_id}`: {item}\n" for s in sources
                         for item in editorial_inferences(s)) or "- None recorded.\n"
    editorial = cut = 0         # counted as the rows come (they are not all held)
    for row in (row for t in tables if t.name == "notes" for row in t.rows):
        if row.get("kind") == "editorial":
            editorial += 1
            cut += bool(row.get("truncated"))
    if cut:
        limitations += (f"- Notes cut short: {cut} of the {editorial} editor's notes end "
                        "mid-sentence "
                        "in the texts as published (`truncated` in `data/notes.csv`; "
                        "`<gap reason=\"truncated\"/>` at the note's end in TEI). They are "
                        "kept as printed, never completed.\n")
    table_lines = "".join(f"| `{t.path}` | {table_schema(t.name).get('description', t.title)} |\n"
                          for t in tables)
    licence = "; ".join(f"{lic['name']}" for lic in meta["licenses"])
    registers = _registers_section(tables)
    parts = [INTRO.format(title=meta["title"], version=meta["version"],
                          released=meta["released"], description=meta.get("description", ""),
                          table_lines=table_lines, licence=licence, limitations=limitations,
                          inferences=inferences, registers=registers)]
    for t in tables:
        schema = table_schema(t.name)
        parts.append(f"\n### `{t.path}` ({len(t.rows)} rows)\n\n{schema.get('description', '')}\n\n"
                     "| field | type | description |\n| --- | --- | --- |\n")
        for f in schema["fields"]:
            allowed = f.get("constraints", {}).get("enum")
            note = f.get("description", "") + (f" One of: {', '.join(allowed)}." if allowed else "")
            parts.append(f"| `{f['name']}` | {f['type']} | {note.strip()} |\n")
    return "".join(parts)


def editorial_inferences(source: Source) -> list[str]:
    """A source's editorial inferences as README items: its ``editorial_inferences``, the
    fields of its record in ``[bibliographic.inferred]`` and the bibliography fields in
    ``[[bibliography.inferred]]``, each with its basis."""
    items = list(source.extra.get("editorial_inferences", []))
    for name, basis in source.bibliographic.get("inferred", {}).items():
        value = source.bibliographic.get(name, "")
        items.append(f"`sources.{name}` ({value!r}): {basis}")
    bibliography = source.extra.get("bibliography", {})
    for item in bibliography.get("inferred", []) if isinstance(bibliography, dict) else []:
        for name in (k for k in item if k not in ("entry", "basis")):
            items.append(f"`bibliography.{name}` ({item[name]!r}) of the entry "
                         f"'{item['entry']}…': {item.get('basis', '')}")
    return items


def _registers_section(tables: list[Table]) -> str:
    """Registers, tagged names and authority ids, counted from the tables (issue 16)."""
    rows = {t.name: t.rows for t in tables}
    persons, places = rows.get("persons", []), rows.get("places", [])
    if not persons:
        return ""

    def filled(table: Sequence[dict[str, Any]], column: str) -> int:
        return sum(1 for r in table if str(r.get(column) or "").strip())

    derived = sum(1 for p in persons if p.get("evidence"))
    mentions = rows.get("mentions", [])
    return (
        "## Registers, names and authority ids\n\n"
        f"- `persons` has {len(persons)} entries: the hand-made registry (authors, "
        "correspondents), every person a note of the book identifies and every person its "
        f"index lists; {derived} of them carry `evidence`, the note that identifies the "
        "person or the index entry that lists them. Decisions a program "
        "must not take (two people with one surname, a pseudonym, an index spelling) are "
        "recorded with their evidence in the repository's `sources/_registry/decisions.toml`.\n"
        f"- `places` has {len(places)} entries: the places letters were written from (with "
        "coordinates) and the places the book's index lists and its texts use as places "
        "(`evidence`: the index entry and the first such passage); the book gives no "
        "country or coordinates for the latter, so none is filled in.\n"
        f"- `mentions` lists {len(mentions)} mentions of registered persons, places and "
        "organisations in the texts; a form two entries share is never tagged. The TEI "
        "tags the same mentions (`persName`, `placeName`, `orgName`).\n"
        f"- Authority ids: {filled(persons, 'wikidata')} persons have a Wikidata id and "
        f"{filled(persons, 'viaf')} a VIAF id; {filled(places, 'geonames')} of "
        f"{len(places)} places have a GeoNames id (taken from GeoNames when the places were "
        "registered; no per-entry citation is recorded, so they await checking). No id is "
        "ever added from memory: the columns stay empty until a citable source states "
        "the id.\n\n")


def citation(meta: dict[str, Any]) -> str:
    """CITATION.cff (Citation File Format 1.2.0) for the dataset."""
    authors = "".join(f'  - name: "{c["title"]}"\n' for c in meta.get("contributors", []))
    return (
        "cff-version: 1.2.0\n"
        "message: \"If you use this dataset, please cite it as below.\"\n"
        "type: dataset\n"
        f"title: \"{meta['title']}\"\n"
        f"version: \"{meta['version']}\"\n"
        f"date-released: \"{meta['released']}\"\n"
        f"license: {meta['licenses'][0]['name']}\n"
        f"authors:\n{authors}"
    )
