"""Reading checklist definition files (YAML or JSON) into plain, validated data. No Django.

A checklist is data, not code: sections, items with codes, our paraphrased prompts, the response
kind and its choices, and where a reader study can supply evidence. Every problem names the
file, the path inside it (``sections[2].items[0].choices``) and the reason, so that whoever edits
the file can find it.
"""

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

import yaml

FORMAT = 1

YES_NO_NA = "yes_no_na"
SINGLE_CHOICE = "single_choice"
MULTIPLE_CHOICE = "multiple_choice"
KINDS = (YES_NO_NA, SINGLE_CHOICE, MULTIPLE_CHOICE)

TAGS = ("original", "modified", "new")

# What a reader study run in evalapp can tell a checklist item; `evidence:` lists these keys.
EVIDENCE_KEYS = {
    "raters": "Number and roles of the raters",
    "blinding": "Blinding and randomisation",
    "questions": "Questions and their scales",
    "agreement": "Inter-rater agreement",
    "sources": "Models and references compared, with their parameters",
    "scores": "Ratings per source",
    "prompts": "Prompts sent to the models",
    "design": "Assignment design and seeds",
    "compute": "Calls, tokens and latency of the model endpoints",
    "queries": "When and how the models were queried",
    "oversight": "Human oversight of the models' outputs",
}

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
VALUE = re.compile(r"^[a-z0-9_]+$")
VERSION = re.compile(r"^\S")

TOP_KEYS = {"format", "slug", "title", "version", "citation", "source_url", "notice", "sections"}
OPTIONAL_TOP_KEYS = {"notice", "default_kind", "modules"}
SECTION_KEYS = {"code", "title", "guidance", "items"}
ITEM_KEYS = {"code", "prompt", "guidance", "kind", "choices", "evidence", "tag", "applies_to"}
MODULE_KEYS = {"key", "title", "guidance", "options"}
# Module option codes are kept as the source prints them (TRIPOD-LLM's "E", "OF", "QA").
MODULE_CODE = re.compile(r"^[A-Za-z0-9]+$")


# Longest values the database keeps; checked here so an over-long one is named like any problem.
MAX_LENGTH = {"slug": 60, "title": 200, "version": 50, "source_url": 200, "code": 20}


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    exclusive: bool = False  # "none of these": cannot be ticked together with another choice


@dataclass(frozen=True)
class ItemSpec:
    code: str
    prompt: str
    guidance: str
    kind: str
    choices: tuple[Choice, ...]  # empty for yes / no / not applicable
    evidence: tuple[str, ...]
    tag: str
    # ((module key, (option codes...)), ...); a module left out means the item applies to all
    # of its options, and no modules at all means the item always applies.
    applies_to: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class ModuleSpec:
    """One way a modular checklist is scoped, e.g. TRIPOD-LLM's research design or LLM task."""

    key: str
    title: str
    guidance: str
    options: tuple[Choice, ...]


@dataclass(frozen=True)
class SectionSpec:
    code: str
    title: str
    guidance: str
    items: tuple[ItemSpec, ...]


@dataclass(frozen=True)
class DefinitionSpec:
    slug: str
    title: str
    version: str
    citation: str
    source_url: str
    notice: str
    sections: tuple[SectionSpec, ...]
    modules: tuple[ModuleSpec, ...] = ()

    @property
    def content_hash(self) -> str:
        """SHA-256 of the parsed content: comments and layout changes do not make a new version."""
        canonical = json.dumps(
            _without_empty_modules(asdict(self)), sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def items(self) -> list[ItemSpec]:
        return [item for section in self.sections for item in section.items]


def _without_empty_modules(data: dict) -> dict:
    """Leave out the module fields a checklist without modules does not use, so that files
    loaded before modules existed keep their hash and do not become a new revision."""
    if not data["modules"]:
        del data["modules"]
    for section in data["sections"]:
        for item in section["items"]:
            if not item["applies_to"]:
                del item["applies_to"]
    return data


def item_applies(applies_to: dict[str, list[str]], scope: dict[str, list[str]]) -> bool:
    """Whether an item tagged `applies_to` is in a report's `scope` (module key -> the chosen
    options). An empty scope (not chosen yet) keeps every item; otherwise the item must share
    at least one option with the scope in every module it is tagged for."""
    if not scope:
        return True
    return all(set(codes) & set(scope.get(key, ())) for key, codes in applies_to.items())


class DefinitionError(Exception):
    def __init__(self, filename: str, path: str, reason: str):
        self.filename, self.path, self.reason = filename, path, reason
        super().__init__(f"{filename}: {path or 'top level'}: {reason}")


class _Reader:
    """Walks one parsed file, raising DefinitionError at the first problem with its path."""

    def __init__(self, filename: str):
        self.filename = filename

    def fail(self, path: str, reason: str) -> None:
        raise DefinitionError(self.filename, path, reason)

    def mapping(self, value: Any, path: str, allowed: set[str]) -> dict:
        if not isinstance(value, dict):
            self.fail(path, "expected a mapping of keys to values")
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            self.fail(path, f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
        return value

    def text(
        self, data: dict, key: str, path: str, *, required: bool = True, max_length: int = 0
    ) -> str:
        value = data.get(key)
        if value is None and not required:
            return ""
        where = f"{path}.{key}" if path else key
        if not isinstance(value, str) or not value.strip():
            self.fail(where, "required text is missing" if value is None else "must be text")
        value = " ".join(value.split())
        if max_length and len(value) > max_length:
            self.fail(where, f"at most {max_length} characters, got {len(value)}")
        return value

    def matching(
        self, data: dict, key: str, path: str, pattern: re.Pattern, what: str, max_length: int
    ) -> str:
        value = data.get(key)
        where = f"{path}.{key}" if path else key
        if isinstance(value, int | float) and not isinstance(value, bool):
            # Unquoted, YAML reads 1.10 as the number 1.1: the code would change silently.
            self.fail(where, f"must be quoted text, not the number {value!r}")
        if not isinstance(value, str) or not pattern.match(value):
            self.fail(where, f"must be {what}, got {value!r}")
        if len(value) > max_length:
            self.fail(where, f"at most {max_length} characters, got {len(value)}")
        return value

    def items_list(self, value: Any, path: str) -> list:
        if not isinstance(value, list) or not value:
            self.fail(path, "expected a non-empty list")
        return value


def parse_definition(filename: str, text: str) -> DefinitionSpec:
    """Parse and validate one definition file; raise DefinitionError naming file, path, reason."""
    reader = _Reader(filename)
    try:
        data = json.loads(text) if filename.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise DefinitionError(filename, "", f"not valid {_syntax(filename)}: {exc}") from None
    except RecursionError:
        raise DefinitionError(filename, "", "nested too deeply to read") from None
    data = reader.mapping(data, "", TOP_KEYS | OPTIONAL_TOP_KEYS)
    if data.get("format") != FORMAT:
        reader.fail("format", f"must be {FORMAT}, got {data.get('format')!r}")
    default_kind = data.get("default_kind")
    if default_kind is not None and default_kind not in KINDS:
        reader.fail("default_kind", f"must be one of {', '.join(KINDS)}")
    url = reader.text(data, "source_url", "", max_length=MAX_LENGTH["source_url"])
    if not url.startswith(("https://", "http://")):
        reader.fail("source_url", "must be an http(s) address")
    modules = _modules(reader, data.get("modules"))
    sections = tuple(
        _section(reader, raw, f"sections[{i}]", default_kind, modules)
        for i, raw in enumerate(reader.items_list(data.get("sections"), "sections"))
    )
    spec = DefinitionSpec(
        slug=reader.matching(
            data, "slug", "", SLUG, "lowercase words joined by hyphens", MAX_LENGTH["slug"]
        ),
        title=reader.text(data, "title", "", max_length=MAX_LENGTH["title"]),
        version=reader.matching(data, "version", "", VERSION, "a version", MAX_LENGTH["version"]),
        citation=reader.text(data, "citation", ""),
        source_url=url,
        notice=reader.text(data, "notice", "", required=False),
        sections=sections,
        modules=modules,
    )
    _check_unique(reader, [s.code for s in sections], "sections[{}].code", "section code")
    seen: set[str] = set()
    for i, section in enumerate(sections):
        for j, item in enumerate(section.items):
            if item.code in seen:
                reader.fail(
                    f"sections[{i}].items[{j}].code", f"item code {item.code!r} appears twice"
                )
            seen.add(item.code)
    return spec


def _syntax(filename: str) -> str:
    return "JSON" if filename.endswith(".json") else "YAML"


def _modules(reader: _Reader, raw: Any) -> tuple[ModuleSpec, ...]:
    if raw is None:
        return ()
    modules = []
    for i, entry in enumerate(reader.items_list(raw, "modules")):
        path = f"modules[{i}]"
        data = reader.mapping(entry, path, MODULE_KEYS)
        options = []
        for j, option in enumerate(reader.items_list(data.get("options"), f"{path}.options")):
            where = f"{path}.options[{j}]"
            fields = reader.mapping(option, where, {"value", "label"})
            value = reader.matching(
                fields, "value", where, MODULE_CODE, "a code such as E or QA", 20
            )
            options.append(Choice(value=value, label=reader.text(fields, "label", where)))
        _check_unique(reader, [o.value for o in options], path + ".options[{}].value", "option")
        modules.append(
            ModuleSpec(
                key=reader.matching(data, "key", path, VALUE, "lowercase_with_underscores", 40),
                title=reader.text(data, "title", path, max_length=MAX_LENGTH["title"]),
                guidance=reader.text(data, "guidance", path, required=False),
                options=tuple(options),
            )
        )
    _check_unique(reader, [m.key for m in modules], "modules[{}].key", "module key")
    return tuple(modules)


def _section(
    reader: _Reader,
    raw: Any,
    path: str,
    default_kind: str | None,
    modules: tuple[ModuleSpec, ...],
) -> SectionSpec:
    data = reader.mapping(raw, path, SECTION_KEYS)
    items = reader.items_list(data.get("items"), f"{path}.items")
    return SectionSpec(
        code=reader.matching(
            data, "code", path, CODE, "a short code such as 1 or 3-4", MAX_LENGTH["code"]
        ),
        title=reader.text(data, "title", path, max_length=MAX_LENGTH["title"]),
        guidance=reader.text(data, "guidance", path, required=False),
        items=tuple(
            _item(reader, item, f"{path}.items[{i}]", default_kind, modules)
            for i, item in enumerate(items)
        ),
    )


def _item(
    reader: _Reader,
    raw: Any,
    path: str,
    default_kind: str | None,
    modules: tuple[ModuleSpec, ...],
) -> ItemSpec:
    data = reader.mapping(raw, path, ITEM_KEYS)
    kind = data.get("kind", default_kind)
    if kind not in KINDS:
        reader.fail(f"{path}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    tag = data.get("tag", "")
    if tag and tag not in TAGS:
        reader.fail(f"{path}.tag", f"must be one of {', '.join(TAGS)}, got {tag!r}")
    return ItemSpec(
        code=reader.matching(
            data, "code", path, CODE, "a short code such as 1.4 or 6.2a", MAX_LENGTH["code"]
        ),
        prompt=reader.text(data, "prompt", path),
        guidance=reader.text(data, "guidance", path, required=False),
        kind=kind,
        choices=_choices(reader, data.get("choices"), f"{path}.choices", kind),
        evidence=_evidence(reader, data.get("evidence"), f"{path}.evidence"),
        tag=tag,
        applies_to=_applies_to(reader, data.get("applies_to"), f"{path}.applies_to", modules),
    )


def _applies_to(
    reader: _Reader, raw: Any, path: str, modules: tuple[ModuleSpec, ...]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if raw is None:
        return ()
    if not modules:
        reader.fail(path, "this checklist declares no `modules`, so its items cannot be tagged")
    known = {module.key: [o.value for o in module.options] for module in modules}
    data = reader.mapping(raw, path, set(known))
    tags = []
    for key in known:  # in the modules' order, so the hash does not depend on the file's
        if key not in data:
            continue
        codes = data[key]
        if not isinstance(codes, list) or not codes:
            reader.fail(f"{path}.{key}", "expected a non-empty list of option codes")
        for i, code in enumerate(codes):
            if code not in known[key]:
                reader.fail(
                    f"{path}.{key}[{i}]",
                    f"unknown {key} {code!r}; known: {', '.join(known[key])}",
                )
        _check_unique(reader, codes, f"{path}.{key}[{{}}]", key)
        tags.append((key, tuple(codes)))
    return tuple(tags)


def _choices(reader: _Reader, raw: Any, path: str, kind: str) -> tuple[Choice, ...]:
    if kind == YES_NO_NA:
        if raw is not None:
            reader.fail(path, "a yes / no / not applicable item takes no choices")
        return ()
    entries = reader.items_list(raw, path)
    if len(entries) < 2:
        reader.fail(path, "a choice item needs at least two choices")
    choices = []
    for i, entry in enumerate(entries):
        where = f"{path}[{i}]"
        data = reader.mapping(entry, where, {"value", "label", "exclusive"})
        value = reader.matching(data, "value", where, VALUE, "lowercase_with_underscores", 60)
        exclusive = data.get("exclusive", False)
        if not isinstance(exclusive, bool):
            reader.fail(f"{where}.exclusive", "must be true or false")
        if exclusive and kind != MULTIPLE_CHOICE:
            reader.fail(f"{where}.exclusive", "only a multiple-choice item has exclusive choices")
        label = reader.text(data, "label", where)
        choices.append(Choice(value=value, label=label, exclusive=exclusive))
    _check_unique(reader, [c.value for c in choices], path + "[{}].value", "choice value")
    return tuple(choices)


def _evidence(reader: _Reader, raw: Any, path: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        reader.fail(path, "expected a list of evidence keys")
    for i, key in enumerate(raw):
        if key not in EVIDENCE_KEYS:
            known = ", ".join(EVIDENCE_KEYS)
            reader.fail(f"{path}[{i}]", f"unknown evidence key {key!r}; known: {known}")
    return tuple(raw)


def _check_unique(reader: _Reader, values: list[str], path: str, what: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            reader.fail(path.format(i), f"{what} {value!r} appears twice")
        seen.add(value)
