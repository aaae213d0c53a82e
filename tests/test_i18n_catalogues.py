"""The German and Spanish catalogues are complete, current and compiled: every entry
translated (none fuzzy), every placeholder kept, the committed .mo compiled from the .po, and
no marked string missing (makemessages run on a copy of the sources finds nothing new)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ["de", "es"]
# What makemessages reads (docs/translation.md: `make messages`), and what settings need to start.
SOURCES = ["annotation", "checklists", "evalapp", "templates", "static", "locale"]
FILES = ["manage.py", "pyproject.toml"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sdifr]|%[sdifr]|\{\w*\}")


def catalogues() -> list[Path]:
    found = sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po"))
    return [path for path in found if path.parts[-3] in LANGUAGES]


def entry_name(entry: polib.POEntry) -> str:
    return f"{entry.msgctxt}|{entry.msgid}" if entry.msgctxt else entry.msgid


@pytest.fixture(scope="module", params=LANGUAGES)
def language(request) -> str:
    return request.param


def test_each_language_has_its_catalogue(language):
    assert (ROOT / "locale" / language / "LC_MESSAGES" / "django.po").is_file()


def test_no_entry_is_untranslated_or_fuzzy(language):
    problems = []
    for path in catalogues():
        if path.parts[-3] != language:
            continue
        po = polib.pofile(str(path))
        problems += [f"{path.name}: untranslated: {e.msgid!r}" for e in po.untranslated_entries()]
        problems += [f"{path.name}: fuzzy: {e.msgid!r}" for e in po.fuzzy_entries()]
        if po.metadata_is_fuzzy:
            problems.append(f"{path.name}: the header is marked fuzzy")
    assert problems == []


def _placeholder_problems(entry: polib.POEntry) -> list[str]:
    """Placeholders a translation lost. A plural's first form (n = 1 in German and Spanish)
    may write its number as a word ("the only item", "das eine Element"), as the English
    sometimes does, so it need keep none; the other forms keep every one of the plural's."""
    if entry.msgid_plural:
        wanted = set(PLACEHOLDER.findall(entry.msgid_plural))
        forms = [form for n, form in sorted(entry.msgstr_plural.items()) if n != 0]
    else:
        wanted, forms = set(PLACEHOLDER.findall(entry.msgid)), [entry.msgstr]
    return [
        f"{entry.msgid!r}: {sorted(wanted - set(PLACEHOLDER.findall(form)))} missing in {form!r}"
        for form in forms
        if wanted - set(PLACEHOLDER.findall(form))
    ]


def test_every_placeholder_is_kept(language):
    problems = []
    for path in catalogues():
        if path.parts[-3] == language:
            for entry in polib.pofile(str(path)).translated_entries():
                problems += _placeholder_problems(entry)
    assert problems == []


def test_the_placeholder_check_finds_a_lost_one():
    lost = polib.POEntry(msgid="Log out %(name)s", msgstr="Abmelden")
    plural = polib.POEntry(
        msgid="%(days)s day",
        msgid_plural="%(days)s days",
        msgstr_plural={0: "ein Tag", 1: "Tage"},
    )
    kept = polib.POEntry(msgid="{count} left, %d done", msgstr="{count} übrig, %d erledigt")
    assert len(_placeholder_problems(lost)) == 1
    assert len(_placeholder_problems(plural)) == 1
    assert _placeholder_problems(kept) == []


def _translations(entries) -> dict[str, object]:
    return {
        entry_name(e): tuple(e.msgstr_plural[k] for k in sorted(e.msgstr_plural))
        if e.msgid_plural
        else e.msgstr
        for e in entries
        if e.msgid and not e.obsolete
    }


def test_the_mo_is_compiled_from_the_po(language):
    for path in catalogues():
        if path.parts[-3] != language:
            continue
        compiled = path.with_suffix(".mo")
        assert compiled.is_file(), f"{compiled} is missing: run make messages"
        po = polib.pofile(str(path))
        wanted = _translations(po.translated_entries())
        assert _translations(polib.mofile(str(compiled))) == wanted, (
            f"{compiled.relative_to(ROOT)} is not compiled from the current .po: run make messages"
        )


@pytest.fixture(scope="module")
def fresh_catalogues(tmp_path_factory) -> Path:
    """makemessages (GNU gettext, as `make messages` runs it) over a copy of the sources."""
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        pytest.fail("GNU gettext is not installed (apt-get install gettext; .ci/run does)")
    copy = tmp_path_factory.mktemp("sources")
    for name in SOURCES:
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in FILES:
        shutil.copy2(ROOT / name, copy / name)
    for kind in ("django", "djangojs"):
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-d", kind, "-l", "de", "-l", "es"]
            + ["--no-obsolete", "--no-location", "--ignore=var", "--ignore=node_modules"],
            cwd=copy,
            check=True,
            capture_output=True,
        )
    return copy


def test_the_catalogue_holds_every_marked_string_and_no_other(language, fresh_catalogues):
    for kind in ("django", "djangojs"):
        committed = ROOT / "locale" / language / "LC_MESSAGES" / f"{kind}.po"
        fresh = fresh_catalogues / "locale" / language / "LC_MESSAGES" / f"{kind}.po"
        names = {
            path: {entry_name(e) for e in polib.pofile(str(path)) if not e.obsolete}
            if path.is_file()
            else set()
            for path in (committed, fresh)
        }
        new = sorted(names[fresh] - names[committed])
        gone = sorted(names[committed] - names[fresh])
        assert new == [], f"{kind}.po ({language}) lacks these marked strings: run make messages"
        assert gone == [], f"{kind}.po ({language}) holds strings no longer marked: make messages"
