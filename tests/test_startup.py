"""Start-up: a command imports only what it uses (rich, lxml, frictionless and the build's
stages take most of a second together). Which modules are loaded is checked in a fresh
interpreter; nothing here is timed."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("rich", "frictionless", "lxml", "jsonschema", "sergetrotsky.publish",
         "sergetrotsky.validate", "sergetrotsky.clean")


def _loaded_after(code: str) -> set[str]:
    """The top modules (and sergetrotsky's) imported by running ``code``."""
    script = (f"import sys\n{code}\n"
              "import json\nprint(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_help_imports_none_of_the_heavy_modules():
    loaded = _loaded_after("from sergetrotsky.cli import main\n"
                           "try:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert not [m for m in HEAVY if m in loaded]
    assert "click" in loaded


def test_validate_of_a_tei_file_does_not_import_frictionless_or_the_build(dist):
    tei = sorted(dist.glob("tei/*.xml"))[0]
    loaded = _loaded_after("from sergetrotsky.cli import main\n"
                           f"try:\n    main(['validate', {str(tei)!r}])\n"
                           "except SystemExit as end:\n    assert end.code == 0, end.code")
    assert "lxml" in loaded and "sergetrotsky.validate" in loaded
    assert not [m for m in ("frictionless", "sergetrotsky.publish", "sergetrotsky.clean",
                            "rich") if m in loaded]
