"""Accounts and API tokens in the audit trail, wherever they change: the Django admin (users,
groups, DRF's token admin), a shell, single sign-on, an invitation. These are Django's own
models, written by Django's own code as often as by ours, so model signals are the one door
that sees every change; `connect` (called by the app's ready()) wires them.

Recorded: an account made (`account.created`); staff, superuser and active flags changed, and
groups or permissions given or taken (`account.role_changed`, old and new); a group made,
renamed or deleted, and the permissions a group grants changed (`group.*`: what a group is
worth changes every member's rights at once); an API token made or deleted
(`api_token.created`, `api_token.deleted`, never the token). A token that
`api_token_rotate` replaces is recorded by that service once, as a rotation
(`token_changes_recorded`)."""

import contextlib
import contextvars
from collections.abc import Iterator

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from rest_framework.authtoken.models import Token, TokenProxy

from annotation.services.audit import audit_record

FLAGS = ("is_staff", "is_superuser", "is_active")

_service_records_tokens: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "audit_service_records_tokens", default=False
)


_app_group_setup: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "audit_app_group_setup", default=False
)


@contextlib.contextmanager
def app_group_setup() -> Iterator[None]:
    """Groups the app makes for itself (the same on every install, at migrate) are not
    recorded: no person acted. A later change to them is."""
    reset = _app_group_setup.set(True)
    try:
        yield
    finally:
        _app_group_setup.reset(reset)


@contextlib.contextmanager
def token_changes_recorded() -> Iterator[None]:
    """Token saves and deletes meanwhile are recorded by the caller, not one by one."""
    reset = _service_records_tokens.set(True)
    try:
        yield
    finally:
        _service_records_tokens.reset(reset)


def connect() -> None:
    user_model = get_user_model()
    pre_save.connect(_flags_before, sender=user_model, dispatch_uid="audit-user-flags-before")
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="audit-user-saved")
    for field in ("groups", "user_permissions"):
        through = getattr(user_model, field).through
        m2m_changed.connect(_rights_changed, sender=through, dispatch_uid=f"audit-{field}")
    pre_save.connect(_group_name_before, sender=Group, dispatch_uid="audit-group-name-before")
    post_save.connect(_group_saved, sender=Group, dispatch_uid="audit-group-saved")
    pre_delete.connect(_group_deleted, sender=Group, dispatch_uid="audit-group-deleted")
    m2m_changed.connect(
        _group_permissions_changed,
        sender=Group.permissions.through,
        dispatch_uid="audit-group-permissions",
    )
    for model in (Token, TokenProxy):  # a proxy's signals name the proxy as their sender
        post_save.connect(_token_saved, sender=model, dispatch_uid=f"audit-{model.__name__}-save")
        post_delete.connect(
            _token_deleted, sender=model, dispatch_uid=f"audit-{model.__name__}-del"
        )


def _flags_before(sender, instance, update_fields=None, **kwargs) -> None:
    # One read by primary key, and none for the saves that touch no flag (the sign-in's
    # last_login, an address): the old values, to compare after the save.
    if instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not set(update_fields) & set(FLAGS):
        return
    old = sender.objects.filter(pk=instance.pk).values(*FLAGS).first()
    instance._audit_flags_before = old


def _user_saved(sender, instance, created: bool, **kwargs) -> None:
    if created:
        details = {"username": instance.get_username(), **{f: getattr(instance, f) for f in FLAGS}}
        audit_record(action="account.created", target=instance, details=details)
        return
    old = instance.__dict__.pop("_audit_flags_before", None)
    if old is None:
        return
    changed = {
        flag: {"old": old[flag], "new": getattr(instance, flag)}
        for flag in FLAGS
        if old[flag] != getattr(instance, flag)
    }
    if changed:
        details = {"username": instance.get_username(), **changed}
        audit_record(action="account.role_changed", target=instance, details=details)


def _rights_changed(sender, instance, action: str, reverse: bool, model, pk_set, **kwargs) -> None:
    """A user's groups or permissions, changed from either side (user.groups.add(group), or
    group.user_set.add(user)). Django names the ids asked for; only real changes count."""
    field = "groups" if Group in (model, type(instance)) else "permissions"
    if action in ("pre_remove", "pre_clear"):
        instance._audit_rights_present = _present(sender, instance, reverse, pk_set)
        return
    if action == "post_add" and pk_set:
        pairs = _pairs(instance, reverse, pk_set)
        _record_rights(pairs, field, "added")
    elif action in ("post_remove", "post_clear"):
        present = instance.__dict__.pop("_audit_rights_present", [])
        _record_rights(present, field, "removed")


def _present(through, instance, reverse: bool, pk_set) -> list[tuple[int, int]]:
    """(user id, group or permission id) rows that exist now, of those about to go."""
    user_column, other_column = _columns(through)
    rows = through.objects.filter(**{other_column if reverse else user_column: instance.pk})
    if pk_set is not None:
        rows = rows.filter(**{f"{user_column if reverse else other_column}__in": pk_set})
    return list(rows.values_list(user_column, other_column))


def _pairs(instance, reverse: bool, pk_set) -> list[tuple[int, int]]:
    return [(pk, instance.pk) if reverse else (instance.pk, pk) for pk in sorted(pk_set)]


def _columns(through) -> tuple[str, str]:
    names = [f.attname for f in through._meta.fields if f.is_relation]
    user_column = next(name for name in names if name.startswith("user"))
    return user_column, next(name for name in names if name != user_column)


def _record_rights(pairs: list[tuple[int, int]], field: str, verb: str) -> None:
    if not pairs:
        return
    users = get_user_model().objects.in_bulk({user_id for user_id, _ in pairs})
    other = Group if field == "groups" else Permission
    rows = other.objects.filter(pk__in={pk for _, pk in pairs})
    if other is Group:
        names = {row.pk: row.name for row in rows}
    else:
        rows = rows.select_related("content_type")
        names = {row.pk: f"{row.content_type.app_label}.{row.codename}" for row in rows}
    for user_id in sorted(users):
        given = sorted(names[pk] for uid, pk in pairs if uid == user_id and pk in names)
        user = users[user_id]
        details = {"username": user.get_username(), field: {verb: given}}
        audit_record(action="account.role_changed", target=user, details=details)


def _group_name_before(sender, instance, **kwargs) -> None:
    if instance._state.adding or instance.pk is None:
        return
    instance._audit_name_before = (
        sender.objects.filter(pk=instance.pk).values_list("name", flat=True).first()
    )


def _group_saved(sender, instance, created: bool, **kwargs) -> None:
    if _app_group_setup.get():
        return
    if created:
        audit_record(action="group.created", target=instance, details={"group": instance.name})
        return
    old = instance.__dict__.pop("_audit_name_before", None)
    if old is not None and old != instance.name:
        details = {"group": instance.name, "name": {"old": old, "new": instance.name}}
        audit_record(action="group.renamed", target=instance, details=details)


def _group_deleted(sender, instance, **kwargs) -> None:
    # Deleting a group takes it from every member without a signal per member: they are named
    # here, before the rows go.
    members = sorted(instance.user_set.values_list(get_user_model().USERNAME_FIELD, flat=True))
    audit_record(
        action="group.deleted",
        target=instance,
        details={"group": instance.name, "members": members},
    )


def _group_permissions_changed(
    sender, instance, action: str, reverse: bool, model, pk_set, **kwargs
) -> None:
    """The permissions a group grants, changed from either side (group.permissions.add(p), or
    permission.group_set.add(group)). Only real changes count, as for a user's rights."""
    if _app_group_setup.get():
        return
    if action in ("pre_remove", "pre_clear"):
        instance._audit_group_permissions_present = _group_rows(sender, instance, reverse, pk_set)
        return
    if action == "post_add" and pk_set:
        pairs = [(pk, instance.pk) if reverse else (instance.pk, pk) for pk in sorted(pk_set)]
        _record_group_permissions(pairs, "added")
    elif action in ("post_remove", "post_clear"):
        present = instance.__dict__.pop("_audit_group_permissions_present", [])
        _record_group_permissions(present, "removed")


def _group_rows(through, instance, reverse: bool, pk_set) -> list[tuple[int, int]]:
    """(group id, permission id) rows that exist now, of those about to go."""
    rows = through.objects.filter(**{"permission_id" if reverse else "group_id": instance.pk})
    if pk_set is not None:
        rows = rows.filter(**{"group_id__in" if reverse else "permission_id__in": pk_set})
    return list(rows.values_list("group_id", "permission_id"))


def _record_group_permissions(pairs: list[tuple[int, int]], verb: str) -> None:
    if not pairs:
        return
    groups = Group.objects.in_bulk({group_id for group_id, _ in pairs})
    rows = Permission.objects.filter(pk__in={pk for _, pk in pairs}).select_related("content_type")
    names = {row.pk: f"{row.content_type.app_label}.{row.codename}" for row in rows}
    for group_id in sorted(groups):
        given = sorted(names[pk] for gid, pk in pairs if gid == group_id and pk in names)
        details = {"group": groups[group_id].name, "permissions": {verb: given}}
        audit_record(action="group.permissions_changed", target=groups[group_id], details=details)


def _token_saved(sender, instance, created: bool, **kwargs) -> None:
    if created and not _service_records_tokens.get():
        _token_entry("api_token.created", instance)


def _token_deleted(sender, instance, **kwargs) -> None:
    if not _service_records_tokens.get():
        _token_entry("api_token.deleted", instance)


def _token_entry(action: str, token: Token) -> None:
    # The token's own id is the secret: the entry names its owner, never the key.
    owner = token._state.fields_cache.get("user")
    if owner is None:
        owner = get_user_model().objects.filter(pk=token.user_id).first()
    name = owner.get_username() if owner is not None else ""
    audit_record(
        action=action,
        object_type="user",
        object_id=str(token.user_id),
        details={"username": name},
    )
