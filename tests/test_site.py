"""The reading edition: built from a dataset folder alone, checked as files and in a real browser.

The browser tests drive Debian's headless Chromium (/usr/bin/chromium) through its
chromedriver (/usr/bin/chromedriver) with selenium; nothing is downloaded at run time
(the driver's path is given, so selenium-manager never runs). Without the browser they
are skipped with a loud reason; with SERGETROTSKY_REQUIRE_BROWSER=1 (as in .ci/run) they
fail instead. Screenshots of a letter page at phone and desktop widths are kept in
build/artifacts/.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner
from lxml import html as lxml_html
from sergetrotsky.cli import main
from sergetrotsky.errors import PipelineError
from sergetrotsky.site import MARKER, Site, build_site, tokens
from sergetrotsky.sqlite import read_dataset

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "build" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def _version(dataset: Path) -> str:
    """The dataset's version, as its descriptor states it (the release files carry it)."""
    return json.loads((dataset / "datapackage.json").read_text(encoding="utf-8"))["version"]


@pytest.fixture(scope="module")
def site(dist, tmp_path_factory):
    """The site built by the command from a dataset folder written elsewhere, with no
    sources beside it, over an earlier site (a folder holding the marker), which holds a
    page the new build does not make."""
    out = tmp_path_factory.mktemp("site") / "site"
    out.mkdir()
    (out / MARKER).write_text("an earlier build\n", encoding="utf-8")
    (out / "stale.html").write_text("from an earlier build", encoding="utf-8")
    result = CliRunner().invoke(main, ["site", "--dataset", str(dist), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _csv(dist, name):
    with (dist / "data" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _page(path: Path):
    return lxml_html.fromstring(path.read_bytes())


def _pages(site: Path):
    return sorted(p for p in site.rglob("*.html") if "dataset" not in p.relative_to(site).parts)


# ---- the files ----------------------------------------------------------------------


def test_every_internal_link_resolves_to_a_file_and_an_id(site):
    ids: dict[Path, set[str]] = {}
    broken = []
    pages = _pages(site)
    assert len(pages) > 10
    for page in pages:
        doc = _page(page)
        for element, _attribute, link, _ in doc.iterlinks():
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                assert element.tag == "a", f"{page}: {element.tag} loads {link} from elsewhere"
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.is_file():
                broken.append(f"{page.relative_to(site)} → {link}")
                continue
            if parts.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = set(_page(target).xpath("//@id"))
                if parts.fragment not in ids[target]:
                    broken.append(f"{page.relative_to(site)} → {link} (no such id)")
    assert broken == []


def test_ids_are_unique_in_every_page(site):
    for page in _pages(site):
        ids = _page(page).xpath("//@id")
        assert len(ids) == len(set(ids)), (page, sorted({i for i in ids if ids.count(i) > 1}))


def test_nothing_is_loaded_from_elsewhere(site):
    for page in _pages(site):
        doc = _page(page)
        for src in doc.xpath("//script/@src | //link/@href | //img/@src | //iframe/@src"):
            assert not urlsplit(src).scheme and not src.startswith("//"), (page, src)
        assert not doc.xpath("//script[not(@src)][contains(., 'http')]"), page
    css = (site / "static" / "site.css").read_text(encoding="utf-8")
    assert "@import" not in css and "url(" not in css


def test_pages_have_a_language_landmarks_and_one_h1(site):
    for page in _pages(site):
        doc = _page(page)
        assert doc.get("lang"), page
        assert len(doc.xpath("//main")) == 1 and doc.xpath("//header") and doc.xpath("//nav"), page
        assert len(doc.xpath("//h1")) == 1, page
        assert doc.xpath("//a[@class='skip-link'][@href='#main']"), page


def test_every_letter_has_a_page_with_its_tei_json_and_row(dist, site):
    for row in _csv(dist, "letters"):
        page = site / "letters" / f"{row['letter_id']}.html"
        doc = _page(page)
        hrefs = doc.xpath("//aside[@class='letter-meta']//a/@href")
        assert f"../dataset/{row['tei_path']}" in hrefs
        assert f"{row['letter_id']}.json" in hrefs
        assert f"index.html#{row['letter_id']}" in hrefs
        record = json.loads(
            (site / "letters" / f"{row['letter_id']}.json").read_text(encoding="utf-8")
        )
        assert record["letter_id"] == row["letter_id"] and record["date"] == (row["date"] or None)
    table = _page(site / "letters" / "index.html")
    assert table.xpath("//table[@id='letters-table']/tbody/tr/@id") == [
        r["letter_id"] for r in _csv(dist, "letters")
    ]


def test_a_corrected_date_shows_the_printed_form_and_the_note(site):
    # The papers, Letter 12: printed 'May 27, 1934', dated 1936 by note 150 of Chapter 2.
    doc = _page(site / "letters" / "papers-letter-12.html")
    meta = doc.xpath("//aside[@class='letter-meta']")[0].text_content()
    assert "27 May 1936" in meta and "printed: ‘May 27, 1934’" in meta
    link = doc.xpath("//span[@class='correction']/a")[0]
    assert link.text == "note 150" and link.get("href") == "#papers-ch02-n150"
    note = doc.xpath("//li[@id='papers-ch02-n150']")[0]
    assert "1936" in note.text_content()


def test_letter_anatomy_as_printed(site):
    # The papers, Letter 14: a postscript that carries an enclosure.
    doc = _page(site / "letters" / "papers-letter-14.html")
    text = doc.xpath("//div[@class='letter-text']")[0]
    assert text.xpath(".//div[@class='opener']//p[@class='dateline']")
    assert text.xpath(".//div[@class='postscript']//aside[contains(@class, 'enclosure')]")
    assert text.xpath(".//article[@id='papers-letter-14-enclosure-01']")
    # Letter 1: the closer, with its signature.
    doc = _page(site / "letters" / "papers-letter-1.html")
    assert "Louis Morihan" in doc.xpath("//div[@class='closer']")[0].text_content()


def test_note_calls_and_notes_link_both_ways(site):
    doc = _page(site / "letters" / "papers-letter-1.html")
    calls = doc.xpath("//a[@class='noteref']")
    assert [c.get("href") for c in calls][:2] == ["#papers-ch02-n87", "#papers-ch02-n88"]
    for call in calls:
        note = doc.xpath(f"//li[@id='{call.get('href')[1:]}']")[0]
        assert f"#{call.get('id')}" in note.xpath(".//a[@class='backref']/@href")
    assert "Vexhall" in doc.xpath("//li[@id='papers-ch02-n87']")[0].text_content()


TEI = "{http://www.tei-c.org/ns/1.0}"


def test_names_in_a_letter_resolve_through_its_standoff(dist, site):
    """The papers, Letter 1: each name tagged in the letter's own TEI file points to an
    entry of the file's standOff; the page links it to the register entry that the
    standOff entry's dataset idno names, in the order of the text."""
    from lxml import etree

    tree = etree.parse(str(dist / "tei" / "letters" / "papers-letter-1.xml"))
    listed = {}
    for kind, register in (
        ("person", "persons"),
        ("personGrp", "persons"),
        ("place", "places"),
        ("org", "organisations"),
    ):
        for entry in tree.iter(TEI + kind):
            idno = entry.findtext(TEI + "idno[@type='dataset']")
            listed[entry.get("{http://www.w3.org/XML/1998/namespace}id")] = (
                f"../registers/{register}.html#{idno}"
            )
    body = tree.find(f".//{TEI}body")
    expected = [
        listed[name.get("ref").split()[0].lstrip("#")]
        for name in body.iter(TEI + "persName", TEI + "placeName", TEI + "orgName")
    ]
    assert len(expected) > 10 and "../registers/places.html#vexhall" in expected
    page = _page(site / "letters" / "papers-letter-1.html")
    assert (
        page.xpath("//div[@class='letter-text']//a[starts-with(@class, 'name ')]/@href") == expected
    )


def test_registers_link_every_page_the_mentions_table_names(dist, site):
    registers = {"person": "persons", "place": "places", "organisation": "organisations"}
    letters = {r["letter_id"] for r in _csv(dist, "letters")}
    # Each register's links, by the id of the section they are in (read once, not per row).
    links: dict[str, dict[str, list[str]]] = {}
    for name in registers.values():
        by_section = links[name] = {}
        for section in _page(site / "registers" / f"{name}.html").iter("section"):
            if section.get("id") is not None:
                by_section.setdefault(section.get("id"), []).extend(section.xpath(".//a/@href"))
    missing = []
    rows = _csv(dist, "mentions")
    assert any(r["document_id"] == "papers-letter-1" and r["entity_id"] == "sarapul" for r in rows)
    for row in rows:
        hrefs = links[registers[row["entity_type"]]].get(row["entity_id"], [])
        doc = row["document_id"]
        if not any(
            h == f"../letters/{doc}.html"
            if doc in letters
            else h.endswith((f"/{doc}.html", f"#{doc}"))
            for h in hrefs
        ):
            missing.append((row["entity_id"], doc))
    assert missing == []


def test_letter_pages_link_the_neighbours_their_corresp_context_names(dist, site):
    from lxml import etree

    by_path = {r["tei_path"]: r["letter_id"] for r in _csv(dist, "letters") if r["tei_path"]}
    checked = 0
    for path, letter_id in by_path.items():
        hrefs = _page(site / "letters" / f"{letter_id}.html").xpath(
            "//nav[contains(@class, 'pager')]//a/@href"
        )
        for ref in etree.parse(str(dist / path)).iter(TEI + "correspContext"):
            for neighbour in ref.iter(TEI + "ref"):
                other = by_path[str(Path(path).parent / neighbour.get("target"))]
                assert f"../letters/{other}.html" in hrefs, (
                    letter_id,
                    neighbour.get("type"),
                    other,
                )
                checked += 1
    assert checked > 0


def test_emendations_show_the_correction_and_the_printed_form(site):
    doc = _page(site / "texts" / "papers-glossary.html")
    emendation = [
        e for e in doc.xpath("//span[@class='emendation']") if e.get("title") == "Printed: Andrs"
    ]
    assert emendation and emendation[0].text_content() == "Andrés [printed: Andrs]"


def test_units_pages_hold_their_text_and_notes(dist, site):
    # Every unit is on some page, under its own id.
    for row in _csv(dist, "documents"):
        page_ids = None
        for candidate in (
            site / "letters" / f"{row['document_id']}.html",
            site / "texts" / f"{row['document_id']}.html",
        ):
            if candidate.is_file():
                page_ids = candidate
        if page_ids is None:
            continue
        assert _page(page_ids).xpath("//h1"), row["document_id"]
    doc = _page(site / "texts" / "papers-ch01.html")
    assert doc.xpath("//a[@class='noteref'][@href='#papers-ch01-n6']")
    assert doc.xpath("//section[@class='notes']//li[@id='papers-ch01-n6']")
    # An author's note printed in the text stays where it is printed.
    assert doc.xpath("//aside[@class='note-inline'][@id='papers-ch01-star1']")


def test_registers_link_each_entry_to_what_names_it(dist, site):
    persons = _page(site / "registers" / "persons.html")
    for row in _csv(dist, "persons"):
        assert persons.xpath(f"//section[@id='{row['person_id']}']")
    sent = persons.xpath(
        "//section[@id='serge']//h3[starts-with(., 'Letters sent')]"
        "/following-sibling::ul[1]//a/@href"
    )
    expected = {
        f"../letters/{r['letter_id']}.html"
        for r in _csv(dist, "letters")
        if r["sender_id"] == "serge"
    }
    assert set(sent) == expected
    places = _page(site / "registers" / "places.html")
    assert "../letters/papers-letter-1.html" in places.xpath("//section[@id='brussels']//a/@href")
    orgs = _page(site / "registers" / "organisations.html")
    assert orgs.xpath("//section[@id='poum']")


def test_chronology_and_bibliography_pages_hold_every_row(dist, site):
    chronology = _page(site / "chronology.html")
    for row in _csv(dist, "chronology"):
        item = chronology.xpath(f"//li[@id='{row['event_id']}']")[0]
        for person in filter(None, row["persons"].split(";")):
            assert f"registers/persons.html#{person}" in item.xpath(".//a/@href")
    # The papers' chronology opens with Serge's birth, 30 December 1890.
    first = chronology.xpath("//li[@id='papers-chronology-001']//time")[0]
    assert (first.get("datetime"), first.text) == ("1890-12-30", "30 December 1890")
    bibliography = _page(site / "bibliography.html")
    assert len(bibliography.xpath("//ol[@class='bibliography']/li")) == len(
        _csv(dist, "bibliography")
    )


def _declare_mentions(dataset: Path) -> None:
    """Make ``data/mentions.csv`` with ``schema/mentions.json`` the dataset's one
    ``mentions`` resource (the real dataset has one already: it is replaced)."""
    descriptor = json.loads((dataset / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["resources"] = [r for r in descriptor["resources"] if r.get("name") != "mentions"]
    descriptor["resources"].append({"name": "mentions", "type": "table", "title": "Mentions",
                                    "path": "data/mentions.csv",
                                    "schema": "schema/mentions.json"})
    (dataset / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")


def _reading_pages(dataset: Path, out: Path) -> None:
    """The reading pages of a dataset (``Site.write_reading_pages``), which are what a
    mentions table changes: no release, home page or search, as build_site (the module's
    site) adds."""
    Site(read_dataset(dataset), out).write_reading_pages()


def test_a_mentions_table_and_xml_lang_are_used_when_present(dist, tmp_path):
    """A dataset with a `mentions` table (foreign keys to letters and persons) and a TEI
    passage marked xml:lang: the registers and the letter pages use them."""
    dataset = tmp_path / "dataset"
    shutil.copytree(dist, dataset)
    (dataset / "data" / "mentions.csv").write_text(
        "letter_id,person_id\npapers-letter-1,balabanova\n", encoding="utf-8"
    )
    (dataset / "schema" / "mentions.json").write_text(
        json.dumps(
            {
                "fields": [
                    {"name": "letter_id", "type": "string"},
                    {"name": "person_id", "type": "string"},
                ],
                "primaryKey": ["letter_id", "person_id"],
                "foreignKeys": [
                    {
                        "fields": ["letter_id"],
                        "reference": {"resource": "letters", "fields": ["letter_id"]},
                    },
                    {
                        "fields": ["person_id"],
                        "reference": {"resource": "persons", "fields": ["person_id"]},
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    _declare_mentions(dataset)
    tei = dataset / "tei" / "letters" / "papers-letter-1.xml"
    tei.write_text(
        tei.read_text(encoding="utf-8").replace(
            "<p>Can I write", '<p xml:lang="fr">Can I write', 1
        ),
        encoding="utf-8",
    )
    out = tmp_path / "site"
    _reading_pages(dataset, out)
    persons = _page(out / "registers" / "persons.html")
    assert "../letters/papers-letter-1.html" in persons.xpath(
        "//section[@id='balabanova']//h3[starts-with(., 'Mentions')]"
        "/following-sibling::ul[1]//a/@href"
    )
    letter = _page(out / "letters" / "papers-letter-1.html")
    assert "Angelica Balabanova" in letter.xpath("//p[@class='mentions']")[0].text_content()
    assert letter.xpath("//p[@lang='fr']")[0].text_content().startswith("Can I write")


def test_an_untyped_mentions_table_is_used_too(dist, tmp_path):
    """A mentions table whose entity column has no foreign key (one column for persons,
    places and organisations): an id that is in exactly one register counts."""
    dataset = tmp_path / "dataset"
    shutil.copytree(dist, dataset)
    (dataset / "data" / "mentions.csv").write_text(
        "document_id,entity_id,form\npapers-letter-2,nin,Nin\npapers-ch03,poum,POUM\n",
        encoding="utf-8",
    )
    (dataset / "schema" / "mentions.json").write_text(
        json.dumps(
            {
                "fields": [
                    {"name": "document_id", "type": "string"},
                    {"name": "entity_id", "type": "string"},
                    {"name": "form", "type": "string"},
                ],
                "foreignKeys": [
                    {
                        "fields": ["document_id"],
                        "reference": {"resource": "documents", "fields": ["document_id"]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    _declare_mentions(dataset)
    out = tmp_path / "site"
    _reading_pages(dataset, out)
    persons = _page(out / "registers" / "persons.html")
    assert "../letters/papers-letter-2.html" in persons.xpath("//section[@id='nin']//ul//a/@href")
    orgs = _page(out / "registers" / "organisations.html")
    assert "../texts/papers-ch03.html" in orgs.xpath("//section[@id='poum']//ul//a/@href")


def test_name_references_in_the_forms_tei_uses(site):
    class Registers:
        registers = {"persons": {"serge": {}}, "places": {"brussels": {}}, "organisations": {}}

    entry = Site.register_entry
    assert entry(Registers, "persName", "person:serge") == ("persons", "serge")
    assert entry(Registers, "persName", "#serge") == ("persons", "serge")
    assert entry(Registers, "placeName", "../registers.xml#place-brussels") == (
        "places",
        "brussels",
    )
    assert entry(Registers, "persName", "#nobody") == (None, "")
    assert entry(Registers, "name", "serge") == (None, "")


def test_search_index_reaches_every_letter_and_note(dist, site):
    text = (site / "static" / "search-index.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("{") : text.rindex("}") + 1])
    urls = {doc[1].split("#")[0] for doc in index["docs"]}
    for row in _csv(dist, "letters"):
        assert f"letters/{row['letter_id']}.html" in urls
    notes = {doc[1].split("#")[1] for doc in index["docs"] if doc[2] == "note"}
    assert notes == {r["note_id"] for r in _csv(dist, "notes")}
    # 'Sarapul' is in Letter 1 of the papers; the index finds it there.
    postings = index["terms"][tokens("Sarapul")[0]]
    assert "letters/papers-letter-1.html" in {index["docs"][i][1] for i in postings[::2]}


def test_downloads_and_their_checksums(dist, site):
    sums = dict(
        reversed(line.split("  ", 1))
        for line in (site / "downloads" / "SHA256SUMS").read_text().splitlines()
    )
    release = f"serge-trotsky-papers-{_version(dist)}"
    assert {"cmif.xml", "letters.jsonl", f"{release}.zip", f"{release}.sqlite"} <= set(sums)
    home = _page(site / "index.html")
    for name, digest in sums.items():
        assert hashlib.sha256((site / "downloads" / name).read_bytes()).hexdigest() == digest
        assert digest in home.text_content()
    assert (site / "downloads" / "cmif.xml").read_bytes() == (dist / "cmif.xml").read_bytes()
    assert "cff-version" in home.xpath("//pre[@class='citation']")[0].text_content()


def test_site_replaces_an_earlier_site_and_refuses_a_folder_it_did_not_build(dist, site, tmp_path):
    other = tmp_path / "precious"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(PipelineError, match="not a site"):
        build_site(dist, other)
    assert (other / "keep.txt").exists()
    # A site is replaced whole by the next build: the module's site was built over one.
    assert (site / "index.html").is_file() and not (site / "stale.html").exists()
    assert (site / MARKER).read_text(encoding="utf-8") != "an earlier build\n"
    result = CliRunner().invoke(
        main, ["site", "--dataset", str(tmp_path / "nothing"), "--out", str(tmp_path / "t")]
    )
    assert result.exit_code == 1 and "no datapackage.json" in result.output


# ---- in a real browser --------------------------------------------------------------


def _browser_or_skip():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        reason = (
            f"BROWSER TESTS NOT RUN: missing {', '.join(missing)} "
            "(apt-get install -y chromium chromium-driver)"
        )
        if os.environ.get("SERGETROTSKY_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def server(site):
    _browser_or_skip()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never fetch anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout=10):
    """``condition`` once it holds, looked at every 50 ms (WebDriverWait's default is
    every 500 ms; most of what these tests wait for takes a few milliseconds)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


# The crawl loads each round's pages in Chromium, each in a frame (1280×900, the window's
# size) of the page the browser is on, FRAMES at a time, and waits for each frame's load
# event (its stylesheets and scripts loaded and run, as browser.get waits for them). Of
# each page it reads, in the same one round trip for the whole round: the HTTP status of
# the page itself, its title, every resource it loaded, the targets of its links and its
# elements' ids.
FRAMES = 4
LOAD_PAGES = """const [urls, frames, done] = arguments;
const facts = {};
let next = 0;
function loadNext() {
  if (next >= urls.length) return Promise.resolve();
  const url = urls[next++];
  return new Promise(resolve => {
    const frame = document.createElement('iframe');
    frame.style.width = '1280px';
    frame.style.height = '900px';
    frame.onload = () => {
      const page = frame.contentWindow, doc = frame.contentDocument;
      const navigation = page.performance.getEntriesByType('navigation')[0];
      facts[url] = [navigation ? navigation.responseStatus : 0, doc.title,
        page.performance.getEntriesByType('resource').map(e => e.name),
        Array.from(doc.querySelectorAll('a[href]')).map(a => a.href),
        Array.from(doc.querySelectorAll('[id]')).map(e => e.id)];
      frame.remove();
      resolve();
    };
    frame.src = url;
    document.body.appendChild(frame);
  }).then(loadNext);
}
Promise.all(Array.from({length: frames}, loadNext)).then(() => done(facts));"""


def _answers(url: str) -> int:
    with urllib.request.urlopen(url) as response:
        response.read()  # all of it: a body cut short is a broken pipe
        return response.status


@pytest.mark.e2e     # Chromium, as every test with the browser: `make test-e2e`
def test_browser_loads_each_kind_of_page_and_its_links_answer(browser, server, site, dist):
    """Start at the home page and load in Chromium every page it links to, then the
    largest page of each folder linked from those (a letter, a text's part, ...): each
    page answers 200 and has a title, every fragment of a link to a page loaded names an
    element of it as Chromium loaded it, every file linked answers 200, and no page asks
    for anything outside the site.

    Each kind of page, not every page: the pages of a kind come from one template, and a
    page costs Chromium about 40 ms of CPU however small (the whole site was 4 s of the
    suite's). Every page's links, ids, scripts and styles are checked without a browser
    above (``test_every_internal_link_resolves_to_a_file_and_an_id``, ...)."""
    pages: dict[str, set[str]] = {}  # each page loaded: the ids of its elements
    fragments: dict[str, set[str]] = {}
    files: dict[str, str] = {}  # each file linked: the first page that links it
    problems = []

    def largest_of_each_folder(urls: set[str]) -> list[str]:
        largest: dict[str, tuple[int, str]] = {}
        for url in urls:
            path = site / url[len(server):]
            largest[str(path.parent)] = max(largest.get(str(path.parent), (0, "")),
                                            (path.stat().st_size, url))
        return sorted(url for _, url in largest.values())

    browser.get(server + "index.html")
    script_timeout = browser.timeouts.script
    browser.set_script_timeout(120)
    try:
        rounds = [lambda found: [server + "index.html"], sorted, largest_of_each_folder]
        found: set[str] = set()
        for choose in rounds:
            round_ = choose(found - set(pages))
            facts = browser.execute_async_script(LOAD_PAGES, round_, FRAMES)
            found = set()
            for page_url in round_:
                status, title, loaded, links, ids = facts[page_url]
                pages[page_url] = set(ids)
                if status != 200:
                    problems.append(f"{page_url}: {status}")
                if not title:
                    problems.append(f"{page_url}: no title")
                problems += [f"{page_url} loads {url}" for url in loaded
                             if not url.startswith(server)]
                for link in links:
                    if not link.startswith(server):
                        continue
                    target, _, fragment = link.partition("#")
                    target = target.split("?")[0]
                    if target.endswith(".html"):
                        found.add(target)
                        if fragment:
                            fragments.setdefault(target, set()).add(unquote(fragment))
                    else:
                        files.setdefault(target, page_url)
    finally:
        browser.set_script_timeout(script_timeout)
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(_answers, files))
    for (target, page_url), status in zip(files.items(), statuses, strict=True):
        if status != 200:
            problems.append(f"{page_url} → {target}: {status}")
    for page_url, names in sorted(fragments.items()):
        if page_url in pages:
            problems += [f"{page_url}#{name}: no element with that id"
                         for name in sorted(names - pages[page_url])]
    assert problems == []
    folders = {url[len(server):].rpartition("/")[0] for url in pages}
    assert {"", "letters", "texts", "registers"} <= folders
    assert [url for url in pages if "/letters/" in url and not url.endswith("/index.html")]
    assert server + f"downloads/serge-trotsky-papers-{_version(dist)}.sqlite" in files


@pytest.mark.e2e
def test_open_a_note_from_its_call_and_return(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server + "letters/papers-letter-1.html")
    call = browser.find_element(By.CSS_SELECTOR, "a.noteref[href='#papers-ch02-n88']")
    call.send_keys(Keys.ENTER)  # by keyboard
    _wait(browser, lambda d: d.current_url.endswith("#papers-ch02-n88"))
    note = browser.find_element(By.ID, "papers-ch02-n88")
    assert note.is_displayed() and "Dumbadze" in note.text
    assert (
        browser.execute_script("return document.querySelector(':target').id") == "papers-ch02-n88"
    )
    note.find_element(By.CSS_SELECTOR, "a.backref").click()
    _wait(browser, lambda d: d.current_url.endswith("#call-papers-ch02-n88"))
    assert (
        browser.execute_script("return document.querySelector(':target').id")
        == "call-papers-ch02-n88"
    )
    # The call is back in view.
    assert browser.execute_script(
        "var r = document.getElementById('call-papers-ch02-n88').getBoundingClientRect();"
        "return r.top >= 0 && r.bottom <= window.innerHeight"
    )


@pytest.mark.e2e
def test_search_for_a_word_and_reach_its_letter(browser, server):
    from selenium.webdriver.common.by import By

    browser.get(server + "index.html")
    box = browser.find_element(By.ID, "site-q")
    box.send_keys("Sarapul")
    box.submit()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li"))
    assert "result" in browser.find_element(By.ID, "search-status").text
    link = browser.find_element(
        By.CSS_SELECTOR, "#search-results a[href='letters/papers-letter-1.html']"
    )
    link.click()
    _wait(browser, lambda d: d.current_url.endswith("letters/papers-letter-1.html"))
    assert "Sarapul" in browser.find_element(By.TAG_NAME, "main").text
    # A note, found by a word only in it, opens where it is called.
    browser.get(server + "search.html?q=Castilian")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li"))
    link = browser.find_element(By.CSS_SELECTOR, "#search-results a[href$='#papers-ch02-n173']")
    link.click()
    _wait(browser, lambda d: d.current_url.endswith("#papers-ch02-n173"))
    assert "Castilian" in browser.find_element(By.ID, "papers-ch02-n173").text
    # Every word must occur: a nonsense word finds nothing.
    browser.get(server + "search.html?q=Sarapul+zzzqqq")
    _wait(browser, lambda d: "0 results" in d.find_element(By.ID, "search-status").text)


# What the letters-table test reads of the page, in one round trip: the rows a reader sees
# (those laid out, as Selenium's is_displayed judges a table row), each with its text and
# its cells' sort keys; the status line; and each sortable header's aria-sort.
LETTERS_TABLE = """var shown = Array.from(document.querySelectorAll('#letters-table tbody tr'))
        .filter(r => r.getClientRects().length > 0);
    return {rows: shown.map(r => ({text: r.innerText,
                                   sort: Array.from(r.querySelectorAll('td'))
                                       .map(c => c.getAttribute('data-sort'))})),
            status: document.getElementById('letters-status').innerText,
            sorted: Object.fromEntries(Array.from(document.querySelectorAll('th[data-key]'))
                .map(th => [th.dataset.key, th.getAttribute('aria-sort')]))}"""


@pytest.mark.e2e
def test_sort_and_filter_the_letters_table(browser, server, dist):
    from selenium.webdriver.common.by import By

    browser.get(server + "letters/index.html")

    def table():
        return browser.execute_script(LETTERS_TABLE)

    total = len(_csv(dist, "letters"))
    assert len(table()["rows"]) == total
    browser.find_element(By.ID, "letters-filter").send_keys("Balabanova")
    seen = table()
    shown = seen["rows"]
    assert 0 < len(shown) < total
    assert all("Balabanova" in r["text"] for r in shown)
    assert seen["status"] == f"{len(shown)} of {total} letters shown"
    browser.find_element(By.ID, "letters-filter").clear()
    browser.execute_script(
        "document.getElementById('letters-filter').dispatchEvent(new Event('input'))"
    )
    assert len(table()["rows"]) == total
    date_button = browser.find_element(By.CSS_SELECTOR, "th[data-key='date'] button")
    date_button.click()
    seen = table()
    assert seen["sorted"]["date"] == "ascending"
    dates = [r["sort"][1] for r in seen["rows"]]
    assert dates == sorted(dates) and dates[0] < dates[-1]
    date_button.click()
    dates = [r["sort"][1] for r in table()["rows"]]
    assert dates == sorted(dates, reverse=True)
    browser.find_element(By.CSS_SELECTOR, "th[data-key='number'] button").click()
    numbers = [int(r["sort"][0]) for r in table()["rows"] if r["sort"][0]]
    assert numbers == sorted(numbers)


@pytest.mark.e2e
def test_screenshots_of_a_letter_page_at_phone_and_desktop_widths(browser, server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url = server + "letters/papers-letter-14.html"
    for name, width, height in (("phone", 390, 844), ("desktop", 1280, 900)):
        browser.set_window_size(width, height)
        browser.get(url)
        inner = browser.execute_script("return window.innerWidth")
        scroll = browser.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= inner, f"{name}: the page is wider than the screen ({scroll} > {inner})"
        path = ARTIFACTS / f"letter-page-{name}.png"
        assert browser.save_screenshot(str(path))
        assert path.stat().st_size > 10_000
    browser.set_window_size(1280, 900)


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_text_colours_meet_wcag_aa_contrast(site):
    css = (site / "static" / "site.css").read_text(encoding="utf-8")
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", css))
    for fg in ("ink", "muted", "link", "link-visited", "accent"):
        for bg in ("paper", "panel"):
            light, dark = sorted((_luminance(colours[fg]), _luminance(colours[bg])), reverse=True)
            assert (light + 0.05) / (dark + 0.05) >= 4.5, (fg, bg)


@pytest.mark.e2e
def test_keyboard_skip_link_and_print_layout(browser, server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server + "letters/papers-letter-1.html")
    ActionChains(browser).send_keys(Keys.TAB).perform()
    active = browser.switch_to.active_element
    assert active.get_attribute("class") == "skip-link" and active.is_displayed()
    active.send_keys(Keys.ENTER)
    _wait(browser, lambda d: d.current_url.endswith("#main"))
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not browser.find_element(By.CSS_SELECTOR, "header.site-header").is_displayed()
        assert browser.find_element(By.CSS_SELECTOR, ".letter-text").is_displayed()
        assert browser.find_element(By.CSS_SELECTOR, "section.notes").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_a_missing_tei_file_is_one_located_error_and_the_old_site_stays(dist, site, tmp_path):
    broken = tmp_path / "dataset"
    shutil.copytree(dist, broken)
    (broken / "tei" / "letters" / "papers-letter-1.xml").unlink()
    out = tmp_path / "site"
    shutil.copytree(site, out)
    before = (out / "index.html").read_bytes()
    result = CliRunner().invoke(main, ["site", "--dataset", str(broken), "--out", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "papers-letter-1.xml" in result.output and "missing" in result.output
    assert (out / "index.html").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
