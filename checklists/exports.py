"""A filled checklist as Markdown, CSV, JSON or a LaTeX table. Plain data in, text out.

Every format carries the checklist's name, version and citation. Answers and notes are user
text: each format escapes what its readers would otherwise interpret.
"""

import json
import re
from dataclasses import asdict, dataclass

from annotation.core.tables import to_csv

FORMATS = {
    "md": "text/markdown",
    "csv": "text/csv",
    "json": "application/json",
    "tex": "application/x-tex",
    "html": "text/html",
}


@dataclass(frozen=True)
class ExportRow:
    section: str
    code: str
    prompt: str
    answer: str  # the chosen labels, "; "-joined
    answer_values: list[str]  # the stored values, for machines
    location: str
    notes: str


@dataclass(frozen=True)
class ExportDoc:
    checklist: str
    version: str
    citation: str
    source_url: str
    notice: str
    # A modular checklist's chosen designs, tasks... (selectors.scope_text, never "" for one);
    # "" for a checklist without modules.
    scope: str
    report: str
    manuscript: str
    answered_by: str
    submitted_at: str  # ISO 8601, or "" while not submitted
    exported_at: str
    rows: list[ExportRow]

    @property
    def answered(self) -> int:
        return sum(bool(row.answer_values) for row in self.rows)


def render(doc: ExportDoc, fmt: str) -> str:
    return {"md": to_markdown, "csv": to_csv_text, "json": to_json, "tex": to_latex}[fmt](doc)


# --- Markdown ---------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return "<br>".join(line.strip() for line in text.splitlines()) or " "


def to_markdown(doc: ExportDoc) -> str:
    lines = [
        f"# {doc.checklist} checklist: {_md_cell(doc.report)}",
        "",
        f"- Checklist: {doc.checklist}, version {doc.version}",
        f"- Citation: {_md_cell(doc.citation)} <{doc.source_url}>",
    ]
    if doc.manuscript:
        lines.append(f"- Manuscript: {_md_cell(doc.manuscript)}")
    if doc.scope:
        lines.append(f"- Scope: {_md_cell(doc.scope)}")
    lines += [
        f"- Answered by: {_md_cell(doc.answered_by)}",
        f"- Submitted: {doc.submitted_at or 'not yet'}",
        f"- Items answered: {doc.answered} of {len(doc.rows)}",
        f"- Exported: {doc.exported_at}",
    ]
    if doc.notice:
        lines += ["", f"> {_md_cell(doc.notice)}"]
    section = None
    for row in doc.rows:
        if row.section != section:
            section = row.section
            lines += [
                "",
                f"## {_md_cell(section)}",
                "",
                "| Item | Requirement | Answer | Where reported | Notes |",
                "|---|---|---|---|---|",
            ]
        cells = [row.code, row.prompt, row.answer, row.location, row.notes]
        lines.append("| " + " | ".join(_md_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


# --- CSV and JSON -----------------------------------------------------------------------------

CSV_COLUMNS = [
    "checklist",
    "version",
    "citation",
    "report",
    "scope",
    "section",
    "item",
    "requirement",
    "answer",
    "answer_values",
    "where_reported",
    "notes",
]


def to_csv_text(doc: ExportDoc) -> str:
    rows = (
        {
            "checklist": doc.checklist,
            "version": doc.version,
            "citation": doc.citation,
            "report": doc.report,
            "scope": doc.scope,
            "section": row.section,
            "item": row.code,
            "requirement": row.prompt,
            "answer": row.answer,
            "answer_values": ";".join(row.answer_values),
            "where_reported": row.location,
            "notes": row.notes,
        }
        for row in doc.rows
    )
    return to_csv(rows, CSV_COLUMNS)


def to_json(doc: ExportDoc) -> str:
    body = {
        "checklist": {
            "name": doc.checklist,
            "version": doc.version,
            "citation": doc.citation,
            "source_url": doc.source_url,
            "notice": doc.notice,
        },
        "report": _json_report(doc),
        "items": [asdict(row) for row in doc.rows],
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def _json_report(doc: ExportDoc) -> dict:
    # Only a modular checklist has a scope; for the others the key is left out, not "".
    scope = {"scope": doc.scope} if doc.scope else {}
    return {
        "title": doc.report,
        **scope,
        "manuscript": doc.manuscript,
        "answered_by": doc.answered_by,
        "submitted_at": doc.submitted_at or None,
        "exported_at": doc.exported_at,
        "items_answered": doc.answered,
        "items_total": len(doc.rows),
    }


# --- LaTeX ------------------------------------------------------------------------------------

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
    # Under the default OT1 font encoding these print as other glyphs.
    "|": r"\textbar{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_LATEX_PATTERN = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIALS))


def latex_escape(text: str) -> str:
    escaped = _LATEX_PATTERN.sub(lambda m: _LATEX_SPECIALS[m.group()], text)
    return r" \newline ".join(line.strip() for line in escaped.splitlines())


def _latex_url(url: str) -> str:
    # \url reads its argument verbatim: pass plain addresses through, escape anything odd.
    if re.fullmatch(r"https?://[\w/.:?=&+\-]+", url):
        return f"\\url{{{url}}}"
    return f"\\texttt{{{latex_escape(url)}}}"


def to_latex(doc: ExportDoc) -> str:
    """A longtable for a supplement; needs \\usepackage{longtable,booktabs} in the preamble."""
    caption = (
        f"{latex_escape(doc.checklist)} checklist (version {latex_escape(doc.version)}) for "
        f"``{latex_escape(doc.report)}''. {latex_escape(doc.citation)} "
        f"{_latex_url(doc.source_url)}"
    )
    if doc.scope:
        caption += f" Scope: {latex_escape(doc.scope)}."
    lines = [
        f"% {doc.checklist} {doc.version}, exported by evalapp at {doc.exported_at}.".replace(
            "\n", " "
        ),
        "% Requires \\usepackage{longtable,booktabs,url}.",
        r"\begin{longtable}{@{}p{0.07\linewidth}p{0.38\linewidth}p{0.15\linewidth}"
        r"p{0.12\linewidth}p{0.2\linewidth}@{}}",
        f"\\caption{{{caption}}}\\\\",
        r"\toprule",
        r"Item & Requirement & Answer & Where reported & Notes \\",
        r"\midrule",
        r"\endhead",
    ]
    section = None
    for row in doc.rows:
        if row.section != section:
            section = row.section
            lines.append(
                f"\\multicolumn{{5}}{{@{{}}l}}{{\\textbf{{{latex_escape(section)}}}}} \\\\"
            )
        cells = [row.code, row.prompt, row.answer, row.location, row.notes]
        lines.append(" & ".join(latex_escape(cell) for cell in cells) + r" \\")
    lines += [r"\bottomrule", r"\end{longtable}"]
    return "\n".join(lines) + "\n"
