"""The operator's connections, loaded from a data file (EVALAPP_CONNECTIONS_FILE)."""

import json
from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import Connection
from annotation.services.audit import audit_record

FIELDS = {
    "name",
    "base_url",
    "models",
    "api_key_env",
    "api_key_file",
    "max_concurrency",
    "requests_per_minute",
    "prompt_price",
    "completion_price",
}


def connections_sync(*, path: Path) -> list[Connection]:
    """Create or update every connection the file lists (by name), all or none: a bad row stops
    the load with the file, the row and the field named. Connections not in the file are kept
    (staff may have added them in the admin, and sources may use them)."""
    rows = _rows(path)
    with transaction.atomic():
        saved = [_row_save(path, number, row) for number, row in enumerate(rows, start=1)]
        audit_record(
            action="connections.synced",
            details={"file": path.name, "connections": [row.name for row in saved]},
        )
        return saved


def connection_ensure(*, name: str, base_url: str, allowed_models: list[str]) -> Connection:
    """The keyless connection of that name, made if missing (the demo's local model)."""
    connection, _ = Connection.objects.get_or_create(
        name=name, defaults={"base_url": base_url, "allowed_models": allowed_models}
    )
    return connection


def _rows(path: Path) -> list:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be read ({exc.strerror}).") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValidationError(f"{path}: not valid JSON or YAML ({exc}).") from None
    # The file is a list of connections, or {"connections": [...]}.
    if isinstance(data, dict):
        data = data.get("connections")
    if not isinstance(data, list):
        raise ValidationError(f"{path}: expected a list of connections.")
    return data


def _row_save(path: Path, number: int, row) -> Connection:
    where = f"{path}, connection {number}"
    if not isinstance(row, dict):
        raise ValidationError(f"{where}: expected a mapping of fields.")
    unknown = sorted(set(row) - FIELDS)
    if unknown:
        raise ValidationError(f"{where}: unknown field {unknown[0]}.")
    values = {k: ("" if v is None and k.startswith("api_key") else v) for k, v in row.items()}
    values["allowed_models"] = values.pop("models", [])
    connection = Connection.objects.filter(name=values.get("name")).first() or Connection()
    # A field the row leaves out is reset, so the file says everything about a connection.
    for field in FIELDS - {"models"}:
        setattr(connection, field, _default(field))
    for field, value in values.items():
        setattr(connection, field, value)
    try:
        connection.full_clean(validate_unique=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        field = "models" if field == "allowed_models" else field
        raise ValidationError(f"{where}, field {field}: {' '.join(messages)}") from None
    connection.save()
    return connection


def _default(field: str):
    model_field = Connection._meta.get_field(field)
    return model_field.get_default()
