"""Scripts that empty their own throwaway database with `flush` must say so before Django
loads: the audit log's trigger refuses the TRUNCATE otherwise (docs/audit.md)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLUSH = re.compile(r"call_command\(\s*[\"']flush[\"']")
FLUSHABLE = re.compile(
    r"os\.environ(\[[\"']AUDIT_LOG_FLUSHABLE[\"']\]\s*=|\.setdefault\(\s*[\"']AUDIT_LOG_FLUSHABLE[\"'])"
)


def _scripts_that_flush() -> list[Path]:
    scripts = [*ROOT.glob("bench/*.py"), *ROOT.glob("scripts/*.py")]
    return [path for path in scripts if FLUSH.search(path.read_text())]


def test_every_script_that_flushes_makes_the_audit_log_flushable_before_django_loads():
    flushing = _scripts_that_flush()
    assert flushing, "the peer comparison bench flushes; the pattern must find it"
    for path in flushing:
        text = path.read_text()
        allowed = FLUSHABLE.search(text)
        assert allowed, f"{path.name} flushes without AUDIT_LOG_FLUSHABLE"
        assert allowed.start() < text.index("import django"), (
            f"{path.name} sets AUDIT_LOG_FLUSHABLE after Django has read its settings"
        )
