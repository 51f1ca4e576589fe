"""A large TEI file's RELAX NG: the grammar without its ``<param name="pattern">`` (run by
libxml2) and the patterns matched in the walk (``validate._PatternTable``) must never call
valid a file the grammar itself rejects, and ``validate`` must report the same problems
whichever way a file is checked. Checked on every TEI file of the dataset, on files with
each pattern's value broken, and on files broken at random. Nothing here is timed.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lxml import etree
from sergetrotsky import validate
from sergetrotsky.conventions import TEI_NS, XML_ID

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "validate" / "dataset" / "tei"
SOURCE_FILE = FIXTURES / "mini.xml"
LETTER_FILE = FIXTURES / "letters" / "mini-letter-01.xml"
RNG = "{http://relaxng.org/ns/structure/1.0}"
TEI = f"{{{TEI_NS}}}"

# values that break one pattern or another, or that only whitespace separates from a good
# one (a datatype that collapses whitespace may accept them: the grammar decides)
VALUES = ["", " ", "X", "Ab", "a b", " a", "a ", "a  b", "a\tb", "a\nb", "1", " 1", "1.2",
          "1.2.3", "*", "**", "#a", "# a", "a:b", "1936", "1936-13", "1936-02-30", "19360",
          "http://x", "http://x y", "#a http://b", "#a  http://b", "#a http://b ",
          "person:x", "person:X", "place:x", "org:x", "data/persons.csv#$1",
          "../data/places.csv#$1", "AB", "ab", "aB", "a\u00a0b", "\u00e9"]


def _verdicts(tree: etree._ElementTree) -> tuple[bool, bool]:
    """The grammar's verdict, and the verdict of the grammar without patterns and the
    patterns matched in the walk (``_quick_verdict``)."""
    return _grammar_verdict(tree), _quick_verdict(tree)


def _grammar_verdict(tree: etree._ElementTree) -> bool:
    return bool(validate.tei_grammar(validate._shape_of(tree)).validate(tree))


def _quick_verdict(tree: etree._ElementTree) -> bool:
    """The grammar without patterns, and the patterns matched in the walk."""
    loose = validate._pattern_free_grammar(validate._shape_of(tree))
    assert loose is not None
    relaxed, table = loose
    held = validate._tei_rules_and_patterns(tree, "test.xml", table)[2]
    return bool(relaxed.validate(tree)) and held


def _reparsed(tree: etree._ElementTree) -> etree._ElementTree | None:
    tree, _ = validate.parse_xml(etree.tostring(tree, encoding="utf-8"), "test.xml")
    return tree


def _bases(dist: Path) -> list[Path]:
    """The fixtures and the dataset's TEI files, smallest first."""
    files = sorted([*(dist / "tei").glob("*.xml"), *(dist / "tei" / "letters").glob("*.xml")],
                   key=lambda p: p.stat().st_size)
    return [SOURCE_FILE, LETTER_FILE, *files]


def test_the_table_has_every_pattern_of_the_grammar():
    grammar = validate._load_schema_tree(validate.TEI_RNG)
    in_grammar = {p.text for p in grammar.iter(f"{RNG}param") if p.get("name") == "pattern"}
    checks = validate.pattern_checks(grammar)
    assert checks is not None
    in_table = {p.pattern for rows in checks.values() for c in rows for p in c.patterns}
    assert in_table == in_grammar and in_grammar
    # a few by hand: what the patterns apply to, and in which definitions
    by = {(tag, c.fixed, c.target): [p.pattern for p in c.patterns]
          for tag, rows in checks.items() for c in rows}
    assert by[(TEI + "div", (), XML_ID)] == [r"[a-z][a-z0-9\-]*"]
    assert by[(TEI + "ref", (("type", "note"),), "n")] == [r"[0-9]+|\*"]
    assert by[(TEI + "idno", (("type", "dataset"),), None)] == [r"[a-z][a-z0-9\-]*"]
    assert by[(TEI + "idno", (("type", "URI"),), None)] == [r"https?://\S+"]
    assert (TEI + "p", (), "n") not in by


def test_the_relaxed_grammar_has_no_pattern():
    relaxed = validate._load_schema_tree(validate.TEI_RNG)
    assert any(p.get("name") == "pattern" for p in relaxed.iter(f"{RNG}param"))
    loose = validate._pattern_free_grammar("source")
    assert loose is not None
    tree = etree.parse(str(SOURCE_FILE))
    tree.getroot().set("n", "NOT-AN-ID")                   # data.id: the pattern alone
    assert not validate.tei_grammar("source").validate(tree)
    assert loose[0].validate(tree)
    assert not validate._tei_rules_and_patterns(tree, "test.xml", loose[1])[2]


def test_both_call_the_dataset_valid(dist):
    """Every TEI file of the dataset passes both ways: the quick way is taken, not the
    grammar run again."""
    for path in _bases(dist):
        tree = etree.parse(str(path))
        assert _verdicts(tree) == (True, True), path.name


def _cases(dist: Path):
    """((tag, check), [(file, tree, element index)]) for each check of the table: the first
    and the last element it applies to (its attribute set when absent) in the smallest
    files that have one, three or four places."""
    checks = validate.pattern_checks(validate._load_schema_tree(validate.TEI_RNG))
    assert checks is not None
    trees = [(path, etree.parse(str(path))) for path in _bases(dist)]
    for tag, rows in checks.items():
        for check in rows:
            places = []
            for path, tree in trees:
                found = [i for i, e in enumerate(tree.iter(etree.Element)) if e.tag == tag and
                         all(e.get(n) == v for n, v in check.fixed)]
                places += [(path, tree, i) for i in sorted({*found[:1], *found[-1:]})]
                if len(places) >= 3:
                    break
            assert places, f"no element for {tag} {check}"
            yield (tag, check), places


def test_each_pattern_broken_is_never_called_valid(dist):
    """Each value of VALUES in each place a pattern applies: never valid one way and not
    the grammar's; for each check a value the grammar rejects somewhere (the check can
    fail), and most places have one it accepts."""
    accepted_somewhere = 0
    cases = [(check, *place) for check, places in _cases(dist) for place in places]
    assert len(cases) >= 60
    rejected_for: dict[tuple[str, validate._PatternCheck], int] = {}
    for check, path, tree, index in cases:
        rejected = accepted = 0
        element = list(tree.iter(etree.Element))[index]
        target = check[1].target
        before = element.text if target is None else element.get(target)
        for value in VALUES:
            # the value set in the file's own tree, serialized and parsed again, then put
            # back as it was (cheaper than a copy of the tree for each value)
            if target is None:
                element.text = value
            else:
                element.set(target, value)
            reparsed = _reparsed(tree)
            if target is None:
                element.text = before
            elif before is None:
                del element.attrib[target]
            else:
                element.set(target, before)
            if reparsed is None:                 # not well-formed (an id with a space)
                continue
            quick = _quick_verdict(reparsed)
            # The grammar's verdict where an assertion reads it: whenever the quick way
            # says valid; otherwise (it cannot fail the first assert) only while the check
            # has no value the grammar rejects, or this place none it accepts (the counts)
            if not (quick or not accepted or not (rejected or rejected_for.get(check))):
                continue
            grammar = _grammar_verdict(reparsed)
            assert grammar or not quick, (path.name, element.tag, target, value)
            rejected += not grammar
            accepted += grammar
        rejected_for[check] = rejected_for.get(check, 0) + rejected
        accepted_somewhere += bool(accepted)
    assert all(rejected_for.values()), [c for c, n in rejected_for.items() if not n]
    assert accepted_somewhere > len(cases) // 2


def test_a_comment_in_a_value_is_left_to_the_grammar():
    """An element whose text a pattern applies to, split by a comment: judged by the
    grammar (libxml2 joins the text), whichever way it falls."""
    text = SOURCE_FILE.read_text(encoding="utf-8")
    assert '<idno type="dataset">' in text
    for new in ('<idno type="dataset"><!-- c -->', '<idno type="dataset">X<!-- c -->'):
        tree, _ = validate.parse_xml(text.replace('<idno type="dataset">', new, 1).encode(),
                                     "test.xml")
        assert tree is not None
        _, quick = _verdicts(tree)
        assert not quick


POOL = [XML_ID, "n", "ref", "target", "corresp", "when", "type", "key", "ident",
        "replacementPattern", "{http://www.w3.org/XML/1998/namespace}lang", "rend"]


def _mutated(tree: etree._ElementTree, rng: random.Random) -> bytes:
    """The file with a few random changes: attributes set to VALUES, to the file's ids and
    numbers, or removed; texts changed; elements renamed or removed."""
    tree = etree.ElementTree(etree.fromstring(etree.tostring(tree)))
    elements = list(tree.iter(etree.Element))
    found = [v for e in elements for v in e.attrib.values()][:200] or ["x"]
    for _ in range(rng.randint(1, 3)):
        values = VALUES if rng.random() < 0.5 else found
        element = rng.choice(elements)
        action = rng.random()
        if action < 0.6:
            element.set(rng.choice(POOL), rng.choice(values))
        elif action < 0.7 and element.attrib:
            del element.attrib[rng.choice(list(element.attrib))]
        elif action < 0.8 and not len(element):
            element.text = rng.choice(values)
        elif action < 0.9:
            element.tag = TEI + rng.choice(["note", "ref", "div", "idno", "date", "persName",
                                            "placeName", "item", "p"])
        elif element.getparent() is not None:
            element.getparent().remove(element)
            elements = list(tree.iter(etree.Element))
    return etree.tostring(tree, encoding="utf-8")


def test_never_valid_the_quick_way_only_on_files_broken_at_random(dist):
    rng = random.Random(18)
    bases = [etree.parse(str(p)) for p in _bases(dist)[:8]]
    compared = rejected = accepted = 0
    for _ in range(400):
        tree, _ = validate.parse_xml(_mutated(rng.choice(bases), rng), "test.xml")
        if tree is None:
            continue
        grammar, quick = _verdicts(tree)
        assert grammar or not quick
        compared += 1
        rejected += not grammar
        accepted += quick
    assert compared > 300 and rejected > 100 and accepted > 20   # not vacuous


@pytest.mark.parametrize("file, old, new", [
    (SOURCE_FILE, 'target="#mini-n1"', 'target="#nowhere"'),
    (SOURCE_FILE, '<div type="chapter"', '<div type="pamphlet"'),
    (SOURCE_FILE, 'xml:lang="en"', 'xml:lang="EN"'),
    (SOURCE_FILE, 'n="1">1</ref>', 'n="1 ">1</ref>'),
    (SOURCE_FILE, '<date when="1936-05">', '<date when="1936-5">'),
    (SOURCE_FILE, '<idno type="dataset">mini</idno>',
     '<idno type="dataset">mini</idno><idno type="dataset">X</idno>'),   # valid (any idno)
    (SOURCE_FILE, '</teiHeader>', '</teiHeader><standOff><listPlace><place xml:id="p">'
     '<placeName>P</placeName><idno type="dataset">X</idno></place></listPlace></standOff>'),
    (LETTER_FILE, '<correspDesc n="1"', '<correspDesc n="one"'),
    (LETTER_FILE, '<persName ref="person:trotsky">', '<persName ref="person:Trotsky">'),
    (SOURCE_FILE, '<date when="1936-05">', '<date when="1936-02-30" to="x">'),
    (LETTER_FILE, '<correspAction type="received">', '<correspAction type="sent">'),
])
def test_a_large_file_gets_the_problems_a_small_one_gets(monkeypatch, file, old, new):
    """The same problems, in the same order, from the grammar without patterns beside the
    walk (a large file) as from the grammar itself (a small one)."""
    text = file.read_text(encoding="utf-8")
    assert old in text, f"the fixture has changed: {old!r} is not in {file.name}"
    data = text.replace(old, new, 1).encode("utf-8")
    shape = "letter" if file == LETTER_FILE else "source"
    monkeypatch.setattr(validate, "CONCURRENT_RNG_BYTES", len(data) + 1)
    small = validate._check_tei(data, "test.xml", shape)[1]
    monkeypatch.setattr(validate, "CONCURRENT_RNG_BYTES", 0)
    assert validate._check_tei(data, "test.xml", shape)[1] == small
    assert small or b"<idno type=\"dataset\">X" in data


def _grammar(body: str) -> etree._ElementTree:
    return etree.ElementTree(etree.fromstring(
        '<grammar xmlns="http://relaxng.org/ns/structure/1.0" '
        'datatypeLibrary="http://www.w3.org/2001/XMLSchema-datatypes">'
        f'<start><element name="a">{body}</element></start></grammar>'))


@pytest.mark.parametrize("body", [
    '<data type="string"><param name="pattern">.+</param></data>',       # . differs
    r'<data type="string"><param name="pattern">\d+</param></data>',
    r'<data type="string"><param name="pattern">\s*</param></data>',
    r'<data type="string"><param name="pattern">[a-z-[aeiou]]+</param></data>',
    '<list><data type="string"><param name="pattern">a</param></data></list>',
    '<data type="string"><except><data type="string"><param name="pattern">a</param>'
    '</data></except></data>',
    '<attribute><anyName/><data type="string"><param name="pattern">a</param></data>'
    '</attribute>',
])
def test_what_the_table_cannot_say_is_left_to_the_grammar(body):
    assert validate.pattern_checks(_grammar(body)) is None


def test_a_plain_grammar_gives_its_table():
    checks = validate.pattern_checks(_grammar(
        '<attribute name="x"><data type="string"><param name="pattern">[a-z]+( [a-z]+)*'
        '</param></data></attribute><data type="NCName"><param name="pattern">[a-z]+'
        '</param></data>'))
    assert checks is not None
    assert {(c.target, tuple(p.pattern for p in c.patterns), c.spaceless)
            for c in checks["a"]} == {("x", ("[a-z]+( [a-z]+)*",), False),
                                      (None, ("[a-z]+",), True)}


def _culprits_by_copies(tree: etree._ElementTree, name: str, line: int | None) -> list:
    """validate._culprits as it was, but for the text after each element: every candidate
    validated as a deep copy without its tail, then the failing ones that have a failing
    descendant dropped."""
    import copy

    grammar = validate._element_grammar(name)
    candidates = [e for e in tree.iter(TEI + name) if not line or e.sourceline == line]
    if grammar is None:
        return candidates[:1] if line else []
    failing = []
    for element in candidates:
        alone = copy.deepcopy(element)
        alone.tail = None
        if not grammar.validate(etree.ElementTree(alone)):
            failing.append(element)
    inner = set(failing)
    for element in failing:
        inner.difference_update(element.iterancestors())
    return [e for e in failing if e in inner]


def test_the_culprits_are_those_copies_find(dist):
    """The elements named in an E040 message (validated in place, innermost first) are
    those found by validating a copy of each, on files broken at random."""
    rng = random.Random(5)
    bases = [etree.parse(str(p)) for p in _bases(dist)[:6]]
    compared = found = 0
    for _ in range(150):
        tree, _ = validate.parse_xml(_mutated(rng.choice(bases), rng), "test.xml")
        if tree is None:
            continue
        grammar = validate.tei_grammar(validate._shape_of(tree))
        if grammar.validate(tree):
            continue
        for entry in grammar.error_log:
            faulty = validate.FAULTY_ELEMENT.search(entry.message.strip())
            if not faulty:
                continue
            name = faulty[1] or faulty[2]
            for line in {entry.line, None}:
                ours = validate._culprits(tree, name, line)
                assert ours == _culprits_by_copies(tree, name, line)
                compared += 1
                found += bool(ours)
    assert compared > 100 and found > 50


def test_a_good_element_with_text_after_it_is_not_a_culprit():
    """A copy of an element kept the text after it, which RELAX NG reads as text after the
    document's root: every element followed by text on the faulty line was named."""
    text = SOURCE_FILE.read_text(encoding="utf-8")
    old = '<date when="1936-05">'
    assert old in text
    line = text[:text.index(old)].count("\n") + 1
    text = text.replace(old, '<date when="1936-05" cert="high">x</date> and <date when="1936-13">',
                        1)
    problems = [p for p in validate._check_tei(text.encode(), "test.xml", "source")[1]
                if p.code == "E040"]
    named = [p for p in problems if ": <date" in p.message]
    assert named and all(p.line == line for p in named)
    assert all('when="1936-13"' in p.message for p in named), named
