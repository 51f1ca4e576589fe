"""Contributions end to end: a new source folder (the test sample under tests/contrib/) and
a copy of an existing source under a new id go through the whole build and the dataset
validator with no change outside sources/, and leave every other source's published text
byte-identical."""

from __future__ import annotations

import csv
import io
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sergetrotsky import publish
from sergetrotsky.cache import CACHE_ENV
from sergetrotsky.cli import main

from .conftest import ROOT, SOURCES, register_key

CONTRIB = Path(__file__).resolve().parent / "contrib"
SAMPLE = "sample-review"
LETTER = "sample-letter"     # a typescript letter, declared in its outline
COPY = "copy-of-review"   # a copy of an existing source under a new id


def _add_samples(sources: Path) -> None:
    """The sample contributions, as a contributor adds them: their folders, and their
    correspondents appended to the registry (unless already there)."""
    for name in (SAMPLE, LETTER):
        shutil.copytree(CONTRIB / name, sources / name, dirs_exist_ok=True)
        (sources / name / "hyphens.lock.toml").unlink(missing_ok=True)   # as first sent
    persons = sources / "_registry" / "persons.toml"
    if 'id = "pierre-example"' not in persons.read_text(encoding="utf-8"):
        with persons.open("a", encoding="utf-8") as out:
            out.write("\n" + (CONTRIB / "_registry" / "persons.toml").read_text(encoding="utf-8"))


def _rows(folder: Path, table: str) -> list[dict[str, str]]:
    text = (folder / "data" / f"{table}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _originals() -> list[str]:
    return sorted(p.name for p in SOURCES.iterdir() if (p / "source.toml").is_file())


@dataclass
class Contribution:
    """The contributed corpus, built and written: its sources folder, the dataset, the
    build's output, the version the dataset was bumped to, and ``validate``'s verdict."""

    sources: Path
    out: Path
    output: str
    version: str
    validated: Result


@pytest.fixture(scope="module")
def contributed(tmp_path_factory, seeded_cache) -> Contribution:
    """A contribution as CONTRIBUTING describes it, built once for the module: sources/
    plus the sample contribution, a copy of the review under a new id (its lock along), a
    copy of every source under a new id with its hyphen lock left behind (as a
    contributor would send it), and the version bumped (new data: a minor version) with
    its CHANGELOG.md entry; written, then validated. The build cache is the one a
    contributor's clone holds after a build of sources/ (a copy of the run's): the new
    sources, and every text whose hyphen words they count again, are built anew."""
    work = tmp_path_factory.mktemp("contribution")
    sources = work / "sources"
    shutil.copytree(SOURCES, sources)
    _add_samples(sources)
    shutil.copytree(SOURCES / "review", sources / COPY)
    for name in _originals():
        shutil.copytree(SOURCES / name, sources / f"{name}-copy")
        (sources / f"{name}-copy" / "hyphens.lock.toml").unlink(missing_ok=True)
    dataset = sources / "dataset.toml"
    text = dataset.read_text(encoding="utf-8")
    old = re.search(r'^version = "(\d+)\.(\d+)\.(\d+)"$', text, re.M)
    assert old, "dataset.toml states no version"
    bumped = f"{old[1]}.{int(old[2]) + 1}.0"
    dataset.write_text(text.replace(old[0], f'version = "{bumped}"'), encoding="utf-8")
    head, rest = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").split("\n## ", 1)
    (work / "CHANGELOG.md").write_text(
        f"{head}\n## {bumped} — 2026-12-01\n\n- A new source.\n\n## {rest}", encoding="utf-8")
    out = work / "dist"
    # the fixture's own copy of the cache: the --check and release builds below reuse it
    shutil.copytree(seeded_cache.folder, work / "cache")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(CACHE_ENV, str(work / "cache"))
        result = CliRunner().invoke(main, ["build", "--sources", str(sources), "--out",
                                           str(out)])
    assert result.exit_code == 0, result.output
    return Contribution(sources, out, result.output, bumped,
                        CliRunner().invoke(main, ["validate", str(out)]))


def test_a_contribution_builds_and_validates(contributed):
    out = contributed.out
    assert contributed.validated.exit_code == 0, contributed.validated.output
    ids = {r["source_id"] for r in _rows(out, "sources")}
    assert {SAMPLE, COPY} <= ids
    text = (out / "text" / f"{SAMPLE}.txt").read_text(encoding="utf-8")
    # the page furniture is gone, logged; the line-end hyphens resolved
    assert "Skip to main content" not in text and "Share this" not in text
    assert "relies on the Internet for a date" in text and "the letters were written" in text
    removed = [r for r in _rows(out, "removals") if r["source_id"] == SAMPLE]
    assert any("Skip to main content" in r["removed"] for r in removed)
    copy = (out / "text" / f"{COPY}.txt").read_bytes()
    assert copy == (ROOT / "dist" / "text" / "review.txt").read_bytes()


def test_a_reviews_metadata_reaches_the_table_and_the_tei(contributed, tei_all):
    from lxml import etree
    out = contributed.out
    row = next(r for r in _rows(out, "sources") if r["source_id"] == SAMPLE)
    assert (row["journal"], row["volume"], row["issue"], row["season"], row["date"]) == (
        "Sample Review", "2", "94", "Spring 2002", "2002")
    assert row["reviewed_work"].startswith("An Example Editor (ed.), Letters Across the Border")
    assert row["title_supplied"] == "false"
    tree = etree.parse(str(out / "tei" / f"{SAMPLE}.xml"))
    assert tei_all.validate(tree), tei_all.error_log
    ns = {"t": "http://www.tei-c.org/ns/1.0"}
    bibl = tree.find(".//t:sourceDesc/t:bibl", ns)
    assert bibl.findtext("t:title[@level='j']", namespaces=ns) == "Sample Review"
    assert [(b.get("unit"), b.text) for b in bibl.findall("t:biblScope", ns)] == [
        ("volume", "2"), ("issue", "94")]
    assert bibl.find("t:date", ns).attrib == {"when": "2002"}
    assert bibl.findtext("t:relatedItem[@type='reviewOf']/t:bibl", namespaces=ns) == \
        row["reviewed_work"]
    div = tree.find(".//t:body/t:div", ns)
    assert [(etree.QName(c).localname, c.text) for c in div[:3]] == [
        ("head", "TEST SAMPLE: Letters Across the Border"),
        ("byline", "Reviewed by A. N. Example"),
        ("p", row["reviewed_work"])]


def test_the_reviews_supplied_title_and_reviewed_book_are_published(built):
    from lxml import etree
    row = next(r for r in csv.DictReader(io.StringIO(built.files["data/sources.csv"].decode()))
               if r["source_id"] == "review")
    assert row["title_supplied"] == "true" and row["journal"] == "Anarcho-Syndicalist Review"
    assert row["reviewed_work"].startswith("Victor Serge and Natalia Sedova Trotsky, The Life")
    tree = etree.fromstring(built.files["tei/review.xml"])
    ns = {"t": "http://www.tei-c.org/ns/1.0"}
    assert tree.findtext(".//t:sourceDesc/t:bibl/t:title[@type='supplied']", namespaces=ns) \
        == row["title"]
    papers = etree.fromstring(built.files["tei/papers.xml"])
    assert papers.findtext(".//t:sourceDesc/t:bibl/t:idno[@type='ISBN']", namespaces=ns) == \
        "0-7453-0515-6"


def test_a_declared_byline_that_is_not_printed_there_is_located(corpus_with_sample):
    outline = corpus_with_sample / SAMPLE / "segment.toml"
    outline.write_text(outline.read_text().replace('byline = "Reviewed by A. N. Example"',
                                                   'byline = "Reviewed by Someone Else"'))
    result = CliRunner().invoke(main, ["validate", str(corpus_with_sample / SAMPLE)])
    assert result.exit_code == 1
    assert f"E604 {outline}:6 field segment.byline: byline 'Reviewed by Someone Else' is not " \
        "the paragraph printed there" in result.output


def test_a_declared_letter_is_in_letters_cmif_and_its_own_tei_file(contributed, tei_all):
    from lxml import etree
    out = contributed.out
    source = next(r for r in _rows(out, "sources") if r["source_id"] == LETTER)
    assert (source["kind"], source["origin"]) == ("letter", "typescript")
    [row] = [r for r in _rows(out, "letters") if r["letter_id"] == LETTER]
    assert (row["sender_id"], row["addressee_id"], row["date"], row["date_as_written"],
            row["place_id"], row["place_as_written"], row["salutation"]) == (
        "pierre-example", "jean-example", "1938-03-12", "12 March 1938", "paris", "Paris",
        "Dear Jean,")
    ns = {"t": "http://www.tei-c.org/ns/1.0"}
    letter = etree.parse(str(out / row["tei_path"]))
    assert tei_all.validate(letter), tei_all.error_log
    sent = letter.find(".//t:correspDesc/t:correspAction[@type='sent']", ns)
    assert register_key(sent.find("t:persName", ns)) == "pierre-example"
    assert sent.find("t:date", ns).get("when") == "1938-03-12"
    div = letter.find(".//t:body/t:div", ns)
    assert [etree.QName(c).localname for c in div] == ["opener", "p", "p", "p", "closer"]
    assert div.xpath("string(t:closer/t:signed)", namespaces=ns) == "Pierre"
    cmif = etree.parse(str(out / "cmif.xml"))
    [desc] = [d for d in cmif.iter(f"{{{ns['t']}}}correspDesc")
              if d.get("ref", "").endswith(row["tei_path"]) or "Pierre Example" in "".join(
                  d.itertext())]
    bibl = cmif.find(f".//t:sourceDesc/t:bibl[@xml:id='{desc.get('source')[1:]}']",
                     {**ns, "xml": "http://www.w3.org/XML/1998/namespace"})
    assert bibl.get("type") == "online"     # a typescript first published here
    assert desc.find("t:correspAction[@type='sent']/t:date", ns).get("when") == "1938-03-12"


def test_a_declared_fact_without_its_printed_words_is_located(corpus_with_sample):
    outline = corpus_with_sample / LETTER / "segment.toml"
    text = outline.read_text(encoding="utf-8")
    outline.write_text(text.replace('date_words = "12 March 1938"', 'date_words = "13 March 1938"'),
                       encoding="utf-8")
    line = 1 + next(i for i, row in enumerate(text.splitlines()) if row.startswith("date_words"))
    result = CliRunner().invoke(main, ["validate", str(corpus_with_sample / LETTER)])
    assert result.exit_code == 1
    assert f"E606 {outline}:{line} field letter[0].date_words: '13 March 1938' is not printed " \
        "in the letter" in result.output


def test_adding_sources_leaves_the_published_texts_byte_identical(contributed):
    out = contributed.out
    for folder in sorted(p for p in SOURCES.iterdir() if (p / "source.toml").is_file()):
        name = f"{folder.name}.txt"
        assert (out / "text" / name).read_bytes() == (ROOT / "dist" / "text" / name).read_bytes(), \
            name


def test_the_build_summary_has_a_row_per_source_that_fits_80_columns(contributed):
    sources, output = contributed.sources, contributed.output
    ids = sorted(p.name for p in sources.iterdir() if (p / "source.toml").is_file())
    lines = output.splitlines()
    tables = lines[next(i for i, line in enumerate(lines) if line.startswith("Build summary")):
                   next(i for i, line in enumerate(lines) if line.startswith("Notes untied"))]
    assert max(len(line) for line in tables) <= 80
    at = next(i for i, line in enumerate(lines) if "unaccounted" in line)
    assert lines[at].split() == ["source", "in", "published", "removed", "inserted",
                                 "unaccounted"]
    body = lines[at + 2:next(i for i in range(at + 2, len(lines)) if not lines[i].strip())]
    rows = {line.split()[0]: line.split() for line in body}
    assert sorted(rows) == ids
    assert all(row[-1] == "0" for row in rows.values())      # unaccounted


# --- stability: the hyphen lock ---------------------------------------------------------------

def test_committed_hyphen_locks_are_the_builds(built):
    """Every lock the build would write is the committed one (`build --check` says so too)."""
    for path, data in built.locks.items():
        assert path.is_file() and path.read_bytes() == data, path
    review_lock = SOURCES / "review" / "hyphens.lock.toml"
    assert review_lock in built.locks
    assert '{ line = 27, form = "In-|ternet", decision = "join"' in review_lock.read_text()


def _synthetic_source(folder: Path, body: str, furniture: str) -> None:
    """A tiny test-only source: a body paragraph and a removed block of page furniture."""
    folder.mkdir()
    (folder / "original.txt").write_text(f"MENU\n{furniture}\nEND MENU\n\n{body}\n",
                                         encoding="utf-8")
    (folder / "source.toml").write_text('''original = "original.txt"
[bibliographic]
title = "Synthetic test source"
kind = "article"
origin = "web page"
language = "en"
rights = "Test material."
[bibliographic.inferred]
title = "Supplied by the test: the text prints no title."
rights = "The test's statement: the text prints no rights."
[clean]
[[clean.remove]]
first_line = "MENU"
last_line = "END MENU"
reason = "page-furniture"
why = "test furniture"
''', encoding="utf-8")
    (folder / "segment.toml").write_text('[segment]\ntop_type = "article"\nunits = []\n')


def test_a_new_source_cannot_flip_a_published_hyphen_and_furniture_is_not_vocabulary(
        tmp_path, built, build_cache):
    from sergetrotsky import build
    from sergetrotsky.cache import BuildCache
    sources = tmp_path / "sources"
    shutil.copytree(SOURCES, sources)
    # the body uses "au-thorship" (the review joins "au-|thorship" at its line 14, locked);
    # the furniture alone uses "bol-shevism" more often than the corpus uses "bolshevism".
    _synthetic_source(sources / "zz-synthetic", "The au-thorship is au-thorship, au-thorship.",
                      " ".join(["Bol-shevism"] * 500))
    # through the run's cache: a text whose hyphen words the new source counts again is
    # cleaned again (its recorded counts differ), the others are reused
    result = build.assemble(sources, cache=BuildCache(build_cache))
    assert result.files["text/review.txt"] == built.files["text/review.txt"]
    assert result.files["data/removals.csv"].startswith(
        built.files["data/removals.csv"].rstrip(b"\n"))   # other rows unchanged, new ones after
    lock = sources / "review" / "hyphens.lock.toml"
    drift = [w for w in result.warnings if w.startswith(f"W601 {lock}:")]
    assert len(drift) == 1, result.warnings
    assert "au-|thorship (original line 14) is published joined" in drift[0]
    assert "would now keep it (corpus: 'au-thorship' 3x, 'authorship' 1x)" in drift[0]
    lock_line = int(drift[0].split(":", 2)[1])
    assert "au-|thorship" in (sources / "review" / "hyphens.lock.toml").read_text() \
        .splitlines()[lock_line - 1]


# --- validate sources/<id>: a contribution checked before it is sent ---------------------------

@pytest.fixture()
def corpus_with_sample(tmp_path):
    sources = tmp_path / "sources"
    shutil.copytree(SOURCES, sources)
    _add_samples(sources)
    return sources


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_validate_a_source_folder_reports_figures_and_writes_nothing(corpus_with_sample):
    import time

    from sergetrotsky import contribution
    before = _snapshot(corpus_with_sample.parent)
    result = CliRunner().invoke(main, ["validate", str(corpus_with_sample / SAMPLE)])
    assert result.exit_code == 0, result.output
    assert _snapshot(corpus_with_sample.parent) == before
    lines = result.output.splitlines()
    assert "  characters: 1351 in, 1062 published, 297 removed, 8 inserted, 0 unaccounted" in lines
    assert "  units: 1 (review 1)" in lines
    # the sample's hyphen decisions are new: the build would record them
    assert any(line.startswith(f"W602 {corpus_with_sample / SAMPLE / 'hyphens.lock.toml'}: 3 ")
               for line in lines)
    assert lines[-1].endswith("valid, 1 warning(s) (nothing written)")
    timings = []
    for _ in range(2):   # the better of two runs: the machine may be busy
        started = time.perf_counter()
        report = contribution.check_source(corpus_with_sample / SAMPLE)
        timings.append(time.perf_counter() - started)
    assert min(timings) < 2
    assert report.valid


def test_validate_locates_a_planted_mistake_in_the_metadata(corpus_with_sample):
    toml = corpus_with_sample / SAMPLE / "source.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace('kind = "review"', 'kind = "pamphlet"'), encoding="utf-8")
    line = 1 + next(i for i, row in enumerate(text.splitlines()) if row.startswith("kind = "))
    result = CliRunner().invoke(main, ["validate", str(corpus_with_sample / SAMPLE)])
    assert result.exit_code == 1
    # the build's own code and sentence (schema/sources/source.json), at the key's line
    assert f"E104 {toml}:{line} field bibliographic.kind: 'pamphlet' is not allowed; one of: " \
        in result.output
    assert "Traceback" not in result.output


def test_validate_locates_a_stale_cleaning_rule_and_a_wrong_heading(corpus_with_sample):
    folder = corpus_with_sample / SAMPLE
    toml = folder / "source.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        'last_line = "Sample Review 2:94, Spring 2002"', 'last_line = "Sample Review 3"'))
    result = CliRunner().invoke(main, ["validate", str(folder), "--format", "json"])
    assert result.exit_code == 1
    import json
    report = json.loads(result.output)
    [problem] = [p for p in report["problems"] if p["severity"] == "error"]
    assert (problem["code"], problem["field"]) == ("E602", "clean.remove[0].last_line")
    assert toml.read_text().splitlines()[problem["line"] - 1].startswith("last_line = ")
    shutil.copy(CONTRIB / SAMPLE / "source.toml", toml)
    outline = folder / "segment.toml"
    outline.write_text(
        outline.read_text().replace(
            "units = []",
            'units = [\n  { level = 1, type = "section", heading = "No such heading" },\n]',
        )
    )
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1
    line = 1 + next(i for i, row in enumerate(outline.read_text().splitlines())
                    if "No such heading" in row)
    assert f"E604 {outline}:{line} field segment.units[0].heading: heading 'No such heading' " \
        "not found in order" in result.output


def test_the_real_sources_validate_as_contributions():
    from sergetrotsky import contribution
    names = _originals()
    for name, report in zip(names, contribution.check_sources([SOURCES / n for n in names]),
                            strict=True):
        assert [f.render() for f in report.findings] == [], name
        assert any(line.endswith(" 0 unaccounted") for line in report.figures)


def test_contribution_codes_are_documented_in_their_own_section():
    import re

    from sergetrotsky import contribution
    doc = (ROOT / "docs" / "validation-codes.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Contributions and the hyphen lock"):]
    rows = re.findall(r"^\| \*\*([EW]6\d\d)\*\* \| (error|warning) \| (.*?) \|", section, re.M)
    assert [code for code, _, _ in rows] == list(contribution.CODES)
    for code, severity, sentence in rows:
        assert sentence == contribution.CODES[code]
        assert severity == ("warning" if code[0] == "W" else "error")


# --- the paragraph model: paragraph_break_before on any text -----------------------------------

def _one_source(tmp_path, original: str, clean_table: str):
    from sergetrotsky.sources import load_source
    folder = tmp_path / "para-test"
    folder.mkdir()
    (folder / "original.txt").write_text(original, encoding="utf-8")
    (folder / "source.toml").write_text(f'''original = "original.txt"
[bibliographic]
title = "Paragraph test"
kind = "article"
origin = "web page"
language = "en"
rights = "Test material."
[clean]
{clean_table}
''', encoding="utf-8")
    return load_source(folder)


def test_paragraph_break_before_works_without_hard_wraps_and_says_why(tmp_path):
    from sergetrotsky import clean
    source = _one_source(tmp_path, "A first paragraph.\nA second one, on the next line.\n"
                                   "Still the second.\n",
                         'paragraph_break_before = ["A second one"]')
    result = clean.clean(source)
    assert result.text == ("A first paragraph.\n\nA second one, on the next line.\n"
                           "Still the second.\n")
    [entry] = [e for e in result.log() if e.inserted == "\n"]
    assert (entry.reason, entry.original_line) == ("paragraph-break", 2)
    assert entry.detail == "paragraph break declared before 'A second one' (paragraph_break_before)"
    assert clean.restore(result) == result.original


def test_a_stale_paragraph_break_names_its_list_and_why(tmp_path):
    from sergetrotsky import clean
    from sergetrotsky.errors import PipelineError
    source = _one_source(tmp_path, "A first paragraph.\n\nA second one.\n",
                         'paragraph_break_before = ["A second one"]')
    with pytest.raises(PipelineError) as caught:
        clean.clean(source)
    assert caught.value.field == "clean.paragraph_break_before"
    assert "a blank line already separates it" in caught.value.message


def test_the_reviews_page_top_paragraphs_are_logged_as_page_breaks(cleaned):
    breaks = [e for e in cleaned["review"].log() if e.inserted == "\n" and e.removed == ""
              and e.pass_name == "join"]
    assert len(breaks) == 4
    assert {(e.reason, e.detail) for e in breaks} == {
        ("page-break", "paragraph begins at the top of a page")}


# --- the version-bump path of CONTRIBUTING ------------------------------------------------------

def test_bumping_the_version_as_contributing_says_names_the_release(contributed, tmp_path):
    """The contribution bumped the version in dataset.toml and wrote its CHANGELOG entry
    (CONTRIBUTING: new data is a minor version): the dataset and its release are named
    after it."""
    import json
    out, bumped = contributed.out, contributed.version
    assert json.loads((out / "datapackage.json").read_text())["version"] == bumped
    assert f"## {bumped}" in (out / "CHANGELOG.md").read_text(encoding="utf-8")
    assert contributed.validated.exit_code == 0, contributed.validated.output
    # the release of the dataset (the command's check that the dataset is the build of its
    # sources is tested in tests/test_publish.py; here that would be a build of the
    # thirteen sources again)
    publish.release(out, tmp_path / "release")
    assert [p.name for p in sorted((tmp_path / "release").iterdir())] == [
        "SHA256SUMS", f"serge-trotsky-papers-{bumped}.sqlite",
        f"serge-trotsky-papers-{bumped}.zip"]


def test_dist_is_marked_generated_with_a_merge_driver():
    import subprocess
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    out = subprocess.run(
        [
            "git",
            "check-attr",
            "linguist-generated",
            "merge",
            "--",
            "dist/datapackage.json",
            "dist/data/documents.csv",
            "sources/dataset.toml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out == ["dist/datapackage.json: linguist-generated: true",
                   "dist/datapackage.json: merge: dist-rebuild",
                   "dist/data/documents.csv: linguist-generated: true",
                   "dist/data/documents.csv: merge: dist-rebuild",
                   "sources/dataset.toml: linguist-generated: unspecified",
                   "sources/dataset.toml: merge: unspecified"]


def test_build_records_the_lock_and_check_fails_without_it(contributed, monkeypatch):
    sources, out, output = contributed.sources, contributed.out, contributed.output
    monkeypatch.setenv(CACHE_ENV, str(sources.parent / "cache"))    # the fixture's cache
    lock = sources / SAMPLE / "hyphens.lock.toml"
    assert "recorded the hyphen decisions in" in output and lock.is_file()
    assert '{ line = 22, form = "In-|ternet", decision = "join", basis = "neither form ' \
        'elsewhere in the corpus: soft hyphen" },' in lock.read_text(encoding="utf-8")
    runner = CliRunner()
    check = ["build", "--sources", str(sources), "--out", str(out), "--check"]
    result = runner.invoke(main, check)
    assert result.exit_code == 0, result.output
    saved = lock.read_bytes()
    lock.unlink()
    try:
        result = runner.invoke(main, check)
        assert result.exit_code == 1
        assert f"not recorded: {lock}" in result.output
    finally:
        lock.write_bytes(saved)


def test_a_copy_of_every_source_under_a_new_id_builds_and_validates(contributed):
    """Issue 19's promise for any source: each existing source, copied under a new id (its
    hyphen lock left behind, as a contributor would send it), builds with the corpus and
    validates; a glossary printed again word for word is one set of organisations, and
    no published text of the originals changes."""
    out = contributed.out
    assert contributed.validated.exit_code == 0, contributed.validated.output
    for name in _originals():
        assert (out / "text" / f"{name}.txt").read_bytes() == \
            (ROOT / "dist" / "text" / f"{name}.txt").read_bytes(), name
        assert (out / "text" / f"{name}-copy.txt").read_bytes() == \
            (ROOT / "dist" / "text" / f"{name}.txt").read_bytes(), name
    organisations = _rows(out, "organisations")
    assert len({r["org_id"] for r in organisations}) == len(organisations)
