"""The audit trail: an append-only, hash-chained log of everything that changes a study or
reveals its data (docs/audit.md). Rows are only ever inserted, by `services.audit_record`."""

import json

from django.conf import settings
from django.db import models

from annotation.core import audit


class AuditLogIsAppendOnly(Exception):
    """Raised on any attempt to change or delete an audit entry through the ORM."""

    def __init__(self, doing: str = "changed") -> None:
        super().__init__(f"The audit log is append-only: an entry cannot be {doing}.")


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("changed")

    def delete(self):
        raise AuditLogIsAppendOnly("deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditLogIsAppendOnly("changed")

    def bulk_create(self, *args, **kwargs):
        # One at a time, under the chain's lock (services.audit_record), or the chain forks.
        raise AuditLogIsAppendOnly("inserted in bulk")


class AuditEvent(models.Model):
    class Via(models.TextChoices):
        WEB = audit.VIA_WEB, "Web page"
        API = audit.VIA_API, "REST API"
        WORKER = audit.VIA_WORKER, "Background worker"
        COMMAND = audit.VIA_COMMAND, "Management command"
        SYSTEM = audit.VIA_SYSTEM, "System"

    # Gap-free, assigned under a lock: an id sequence may skip a number on a rollback.
    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    at = models.DateTimeField(editable=False)
    # No database constraint and nothing done when the user is deleted: the id stays as it was
    # recorded (setting it to null would change a chained row), and actor_username keeps the
    # entry attributable once the account is gone.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    actor_username = models.CharField(max_length=150, blank=True, editable=False)
    via = models.CharField(max_length=10, choices=Via.choices, editable=False)
    address = models.CharField(max_length=45, blank=True, editable=False)
    action = models.CharField(max_length=50, db_index=True, editable=False)
    # A plain id and the title at the time, not a foreign key: deleting a study keeps its log.
    study_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True, editable=False)
    study_title = models.CharField(max_length=200, blank=True, editable=False)
    object_type = models.CharField(max_length=50, blank=True, editable=False)
    object_id = models.CharField(max_length=64, blank=True, editable=False)
    details = models.JSONField(default=dict, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, unique=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["study_id", "-seq"], name="audit_study_newest")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_username or self.via}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AuditLogIsAppendOnly("changed")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("deleted")

    def chained(self) -> dict:
        """The fields the hash covers, as core.audit.canonical reads them."""
        return {name: getattr(self, name) for name in audit.CHAINED_FIELDS}

    def readable_details(self) -> list[dict]:
        """`details` as lines for a page: a changed field as its old and new value, anything
        else as its value; values that are not text as compact JSON. A long value is also
        `shown` cut (core.audit.shown_change: from near the first difference), `cut` says so."""
        lines = []
        for name, value in sorted((self.details or {}).items()):
            if isinstance(value, dict) and set(value) == {"old", "new"}:
                old, new = _text(value["old"]), _text(value["new"])
                old_shown, new_shown = audit.shown_change(old, new)
                lines.append(
                    {
                        "name": name,
                        "changed": True,
                        "old": old,
                        "new": new,
                        "old_shown": old_shown,
                        "new_shown": new_shown,
                        "cut": (old_shown, new_shown) != (old, new),
                    }
                )
            else:
                text = _text(value)
                shown = audit.shown_value(text)
                lines.append(
                    {
                        "name": name,
                        "changed": False,
                        "value": text,
                        "shown": shown,
                        "cut": shown != text,
                    }
                )
        return lines

    @property
    def study_name(self) -> str:
        return self.study_title or (f"study {self.study_id}" if self.study_id else "")


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
