"""Raters: adding and removing them (also in an open study), handing on a stalled rater's work,
invitations (and withdrawing them), and API tokens."""

import logging
import smtplib
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from annotation.core import design
from annotation.models import (
    AdaptiveDecision,
    Assignment,
    Case,
    Invitation,
    Item,
    Membership,
    Rating,
    Study,
)
from annotation.selectors.sessions import raters_closed_to_session_one, raters_stopped
from annotation.services.audit import audit_record
from annotation.services.audit_accounts import token_changes_recorded
from annotation.services.studies.assignments import assignments_create
from annotation.services.studies.items import item_key, shown_order
from annotation.services.studies.opening import quality_control_of
from annotation.services.task_runs import check_assignments_written, study_for_change

logger = logging.getLogger(__name__)


@transaction.atomic
def study_add_raters(*, study: Study, users: Iterable[AbstractBaseUser]) -> list[Membership]:
    """Add raters; in an open study they take over unstarted work from the busiest raters."""
    study = study_for_change(study.pk)
    if study.status not in (Study.Status.DRAFT, Study.Status.OPEN):
        raise ValidationError(_("Raters can only be added while the study is a draft or open."))
    if study.is_reading and study.status == Study.Status.OPEN:
        # Every reader reads every case in a balanced allocation made at opening.
        raise ValidationError(_("Readers join an assisted-reading study before it opens."))
    roles = dict(study.memberships.values_list("user_id", "role"))
    users = list(users)
    if any(roles.get(user.pk) == Membership.Role.ADMIN for user in users):
        # Admins can export ratings and the unblinding key: as raters they would not be blind.
        raise ValidationError(_("A study's admins cannot also rate it."))
    scoring = set(study.scorers.filter(user__in=users).values_list("user__username", flat=True))
    if scoring:
        # A scorer decides readers' answers blind to reader and arm: not their own answers.
        raise ValidationError(
            f"{', '.join(sorted(scoring))} scores this study's answers, and so cannot also "
            "read it (remove them as a scorer first)."
        )
    # Numbered on from the highest number ever given: a removed rater's name is never reused.
    names = study.memberships.filter(role=Membership.Role.RATER).values_list("pseudonym", flat=True)
    number = max([study.last_rater_number, *(_rater_number(name) for name in names)])
    added = []
    for user in users:
        if user.pk in roles:
            continue
        number += 1
        membership = Membership.objects.create(
            study=study, user=user, role=Membership.Role.RATER, pseudonym=f"R{number}"
        )
        added.append(membership)
        roles[user.pk] = Membership.Role.RATER
    if added:
        study.last_rater_number = number
        study.save(update_fields=["last_rater_number"])
    if study.status == Study.Status.OPEN and added:
        _assignments_share_with(study, [m.pseudonym for m in added])
    for membership in added:
        audit_record(
            action="rater.added",
            study=study,
            target=membership,
            details={"rater": membership.pseudonym, "user": membership.user.get_username()},
        )
    return added


def _rater_number(pseudonym: str) -> int:
    """7 for "R7"; 0 for a name given some other way."""
    return int(pseudonym[1:]) if pseudonym[:1] == "R" and pseudonym[1:].isdigit() else 0


@transaction.atomic
def rater_remove(*, study: Study, pseudonym: str) -> int:
    """Remove a rater who has saved nothing. In an open study their items go to the other
    raters, as by reassigning (design.reassign), and their quality control goes. An adaptive
    extra item goes to another eligible rater too, or, when none is left, is recorded as lost
    on the item's decision (part of its shortfall). Returns how many study items moved. Their
    pseudonym is never given to anyone else."""
    study = study_for_change(study.pk)
    if study.status not in (Study.Status.DRAFT, Study.Status.OPEN):
        raise ValidationError(
            "Raters can only be removed while the study is a draft or open: a locked study's "
            "raters are part of its record."
        )
    if study.status == Study.Status.OPEN:
        _check_not_reading(study)
    membership = study.memberships.filter(role=Membership.Role.RATER, pseudonym=pseudonym).first()
    if membership is None:
        raise ValidationError(f"{pseudonym} is not a rater of this study.")
    mine = study.assignments.filter(rater=membership.user)
    if (
        Rating.objects.filter(assignment__in=mine).exists()
        or mine.filter(submitted_at__isnull=False).exists()
    ):
        # Their answers are the study's data: removing them would silently drop ratings.
        raise ValidationError(
            f"{pseudonym} has saved ratings, which are the study's data, so they stay a rater. "
            "Reassign their remaining items instead."
        )
    moved = _rater_work_hand_on(study, membership) if mine.exists() else 0
    audit_record(
        action="rater.removed",
        study=study,
        target=membership,
        details={"rater": pseudonym, "user": membership.user.get_username(), "items_moved": moved},
    )
    membership.delete()
    return moved


def _rater_work_hand_on(study: Study, membership: Membership) -> int:
    """Give a leaving rater's study items to the others; refuse if any could not go."""
    mine = study.assignments.filter(rater=membership.user)
    # Nothing of theirs is saved: an item they opened has no data, so it moves like the others.
    mine.update(first_opened_at=None, time_on_task_ms=0)
    # Their training, checks, repeats and re-reads leave with them (repeats and re-reads first:
    # they point at originals). Study items and adaptive extras are handed on.
    mine.filter(kind__in=[Assignment.Kind.REPEAT, Assignment.Kind.RETEST]).delete()
    mine.exclude(kind__in=[Assignment.Kind.STUDY, Assignment.Kind.EXTRA]).delete()
    count = mine.filter(kind=Assignment.Kind.STUDY).count()
    others = study.memberships.filter(role=Membership.Role.RATER).exclude(pk=membership.pk)
    if count and not others.exists():
        raise ValidationError(
            f"{membership.pseudonym} is the study's only rater: add another rater first, who "
            "takes over their items."
        )
    raters = [membership.pseudonym, *others.values_list("pseudonym", flat=True)]
    closed = raters_closed_to_session_one(study) | raters_stopped(study)
    lost: list[str] = []

    def redesign(placements, movable):
        after = design.reassign(
            placements=placements,
            rater=membership.pseudonym,
            raters=raters,
            movable=movable,
            seed=study.seed,
            closed=closed,
        )
        left = [p for p in after if p.rater == membership.pseudonym]
        stuck = sum(p.kind == design.STUDY for p in left)
        if stuck:
            raise ValidationError(
                f"{stuck} of {membership.pseudonym}'s items could not go to another rater "
                "(every other rater already has them, or is done with session 1): add a rater "
                f"first, then remove {membership.pseudonym}. Nothing was changed."
            )
        # An extra no eligible rater can take is given up, and counted below: the design
        # asked for at most m, not for exactly m.
        lost.extend(p.item for p in left)
        return [p for p in after if p.rater != membership.pseudonym]

    _assignments_redesign(study, redesign)
    if lost:
        _extras_record_lost(study, membership, lost)
    return count


def _extras_record_lost(study: Study, membership: Membership, keys: list[str]) -> None:
    """Count each extra given up on its item's decision: `created` stays the extras standing,
    so created + shortfall is still the number wanted."""
    lost = set(keys)
    triggered = (
        study.items.filter(adaptive_decision__disagreed=True)
        .select_related("output__case", "output__source", "output_b__source")
        .prefetch_related("members__output__source")
    )
    items = [item.pk for item in triggered if item_key(item) in lost]
    AdaptiveDecision.objects.filter(item_id__in=items).update(
        created=F("created") - 1, lost=F("lost") + 1
    )
    logger.info(
        "%s removed from study %s: %d adaptive extra item(s) found no other rater",
        membership.pseudonym,
        study.pk,
        len(items),
    )


def _assignments_share_with(study: Study, pseudonyms: list[str]) -> None:
    """Move unstarted assignments to newly added raters (design.add_raters), who also get the
    study's quality control."""
    # The same quality control, in the same order, as the study opened with.
    by_role: dict[str, list[design.DesignItem]] = {role: [] for role in Case.Role.values}
    items = study.items.select_related("output__case", "output__source", "output_b__source")
    keyed = sorted(
        (item.output.case_id, item_key(item), item)
        for item in items.prefetch_related("members__output__source")
    )
    for _order, key, item in keyed:
        by_role[item.output.case.role].append(design.DesignItem(key, _shown_sources(item)))
    quality = quality_control_of(study, by_role)

    def redesign(before, movable):
        return design.add_raters(
            placements=before,
            new_raters=pseudonyms,
            movable=movable,
            seed=study.seed,
            quality=quality,
        )

    _assignments_redesign(study, redesign)


def _shown_sources(item: Item) -> tuple[str, ...]:
    labels = tuple(o.source.label for o in item.canonical_outputs())
    return labels if len(labels) > 1 else ()


@transaction.atomic
def _check_not_reading(study: Study) -> None:
    if study.is_reading:
        # Every reader reads every case: another reader already has each of these reads.
        raise ValidationError(
            "An open assisted-reading study's reads cannot move to other readers."
        )


def assignments_reassign(*, study: Study, rater: AbstractBaseUser) -> int:
    """Give a rater's unstarted assignments (from the end of their order) to the other raters
    (design.reassign). Returns how many moved."""
    study = study_for_change(study.pk)
    if study.status != Study.Status.OPEN:
        raise ValidationError("Work can only be reassigned while the study is open.")
    _check_not_reading(study)
    membership = study.memberships.filter(user=rater, role=Membership.Role.RATER).first()
    if membership is None:
        raise ValidationError(f"{rater} is not a rater of this study.")
    before = study.assignments.filter(rater=rater, kind=Assignment.Kind.STUDY).count()
    pseudonyms = study.memberships.filter(role=Membership.Role.RATER).values_list(
        "pseudonym", flat=True
    )
    closed = raters_closed_to_session_one(study) | raters_stopped(study)

    def redesign(placements, movable):
        return design.reassign(
            placements=placements,
            rater=membership.pseudonym,
            raters=list(pseudonyms),
            movable=movable,
            seed=study.seed,
            closed=closed,
        )

    _assignments_redesign(study, redesign)
    # They stopped: no one else's work and no adaptive extra comes to them from now on.
    membership.reassigned_at = timezone.now()
    membership.save(update_fields=["reassigned_at"])
    moved = before - study.assignments.filter(rater=rater, kind=Assignment.Kind.STUDY).count()
    audit_record(
        action="assignments.reassigned",
        study=study,
        target=membership,
        details={"rater": membership.pseudonym, "items_moved": moved},
    )
    return moved


def _assignments_redesign(study: Study, redesign) -> None:
    """Apply a change of the stored manifest that moves only unstarted work, then store the new
    manifest's digest. Started work (opened or rated) keeps its rater and position. Study
    placements move as they are (with their shown order); quality control a newcomer gets is
    created, and a repeat whose original moved away is deleted."""
    memberships = study.memberships.filter(role=Membership.Role.RATER).select_related("user")
    name = {m.user_id: m.pseudonym for m in memberships}
    user = {m.pseudonym: m.user for m in memberships}
    # Lock the rows: a rating saved meanwhile must not travel with its row to another rater
    # (rating_save locks the assignment too, and refuses once it has moved).
    rows = list(
        study.assignments.select_for_update(of=("self",))
        .select_related("item__output__case", "item__output__source", "item__output_b__source")
        .prefetch_related("item__members__output__source")
        .annotate(rated=Exists(Rating.objects.filter(assignment=OuterRef("pk"))))
    )
    current = {(name[a.rater_id], item_key(a.item), a.kind): a for a in rows}
    movable = {key for key, a in current.items() if a.first_opened_at is None and not a.rated}
    before = [
        design.Placement(r, item, a.position, shown_order(a), kind, a.session)
        for (r, item, kind), a in current.items()
    ]
    after = redesign(before, movable)
    placed = {p.key: p.position for p in after}
    arrivals = [p for p in after if p.key not in current]
    changed, dropped, receivers = [], [], set()
    for (rater, item, kind), assignment in current.items():
        if (rater, item, kind) in placed:
            new_rater, position = rater, placed[(rater, item, kind)]
        elif kind in design.SECOND_SIGHTS:
            if (rater, item, kind) not in movable:  # the engine never drops started work
                raise RuntimeError(f"A started repeat would be dropped: {assignment.token}")
            dropped.append(assignment)
            continue
        else:  # moved: to a newcomer holding this item with the same sides as shown before
            shown = shown_order(assignment)
            arrival = next(
                (p for p in arrivals if p.item == item and p.kind == kind and p.order == shown),
                None,
            )
            if arrival is None:  # an unstarted extra given up (rater_remove counts it)
                if kind != design.EXTRA or (rater, item, kind) not in movable:
                    raise RuntimeError(f"Work would be dropped: {assignment.token}")
                dropped.append(assignment)
                continue
            arrivals.remove(arrival)
            new_rater, position = arrival.rater, arrival.position
        if (name[assignment.rater_id], assignment.position) != (new_rater, position):
            assignment.rater, assignment.position = user[new_rater], position
            changed.append(assignment)
        if new_rater != rater:
            receivers.add(new_rater)
    Assignment.objects.filter(pk__in=[a.pk for a in dropped]).delete()
    # Two passes keep (rater, position) unique at every step.
    offset = 1 + max((a.position for a in rows), default=0) + len(rows)
    for assignment in changed:
        assignment.position += offset
    Assignment.objects.bulk_update(changed, ["rater", "position"])
    for assignment in changed:
        assignment.position -= offset
    Assignment.objects.bulk_update(changed, ["position"])
    if arrivals:  # newcomers' quality control
        items = {item_key(a.item): a.item for a in rows}
        items.update(_quality_items(study, items))
        kept = [a for a in rows if a not in dropped]
        assignments_create(study, arrivals, items=items, users=user, earlier=kept)
    receivers.update(p.rater for p in arrivals)
    # Their reminders count from now: work that just arrived has not stalled.
    memberships.filter(pseudonym__in=receivers).update(work_given_at=timezone.now())
    manifest = design.Manifest(seed=study.seed, k=study.raters_per_item, placements=tuple(after))
    study.manifest_hash = manifest.digest
    study.save(update_fields=["manifest_hash"])


def _quality_items(study: Study, known: dict[str, Item]) -> dict[str, Item]:
    """Training and attention items nobody had yet, by key (a study opened without raters)."""
    found = {}
    qc = study.items.exclude(output__case__role=Case.Role.STUDY)
    for item in qc.select_related("output__case", "output__source", "output_b__source"):
        key = item_key(item)
        if key not in known:
            found[key] = item
    return found


# Backends that would write the link into the server's log or a file, or drop it: fine while
# developing, a leak (or a silent loss) in production.
UNSENDABLE_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend": "prints e-mail to the server's log",
    "django.core.mail.backends.filebased.EmailBackend": "writes e-mail to files on the server",
    "django.core.mail.backends.dummy.EmailBackend": "discards e-mail",
}


def invitations_sendable() -> None:
    """ValidationError when this server must not send invitation links (DEBUG=0 and an e-mail
    backend that would leak or lose them)."""
    problem = UNSENDABLE_EMAIL_BACKENDS.get(settings.EMAIL_BACKEND)
    if problem and not settings.DEBUG:
        raise ValidationError(
            f"Invitations are not sent: this server's e-mail backend {problem}, so the links "
            "would not reach the invited people safely. Ask the operator to set EMAIL_BACKEND "
            "(and EMAIL_HOST) to a real mail server. No invitation was created."
        )


def _invitation_mail(study: Study, inviter: AbstractBaseUser, days: int) -> tuple[str, str]:
    """The invitation's subject and text, in the study's language: the invited person may have
    no account, so no language of their own that the app knows."""
    values = {"title": repr(study.title), "inviter": str(inviter), "days": days}
    with translation.override(study.language):
        subject = gettext("You are invited to rate for %(title)s") % values
        message = (
            ngettext(
                "%(inviter)s invites you to rate outputs for the study %(title)s in evalapp. "
                "Follow this link to join, with an account that has this e-mail address or by "
                "creating one (it works once, for %(days)d day):",
                "%(inviter)s invites you to rate outputs for the study %(title)s in evalapp. "
                "Follow this link to join, with an account that has this e-mail address or by "
                "creating one (it works once, for %(days)d days):",
                days,
            )
            % values
        )
    return subject, message


@transaction.atomic
def invitations_send(
    *, study: Study, emails: Iterable[str], inviter: AbstractBaseUser, link_for
) -> list[Invitation]:
    """Create one single-use link per address and e-mail it. `link_for(token)` builds the
    absolute URL (the view knows the host). Every address is invited, with an account or
    without: nothing here or in what the admin sees says whether one exists."""
    invitations_sendable()
    if study.status not in (Study.Status.DRAFT, Study.Status.OPEN):
        raise ValidationError("Raters can only be invited while the study is a draft or open.")
    if study.is_reading and study.status == Study.Status.OPEN:
        # The link could never be used: accepting it adds a reader, which opening closed.
        raise ValidationError(
            "Readers join an assisted-reading study before it opens: no invitation was sent."
        )
    invitations = [
        Invitation.objects.create(study=study, email=email, created_by=inviter) for email in emails
    ]
    days = settings.INVITATION_MAX_AGE_DAYS
    for invitation in invitations:
        try:
            subject, message = _invitation_mail(study, inviter, days)
            send_mail(
                subject=subject,
                message=f"{message}\n\n{link_for(invitation.token)}\n",
                from_email=None,
                recipient_list=[invitation.email],
            )
        except (OSError, smtplib.SMTPException) as exc:
            # Rolled back whole: a link already mailed leads nowhere, and the admin sends again.
            logger.warning("Invitation e-mail to %s failed: %r", invitation.email, exc)
            raise ValidationError(
                "The e-mail server could not be reached or refused the message: no invitation "
                "was created. Try again, or ask the operator to check the e-mail settings."
            ) from None
    for invitation in invitations:
        audit_record(
            action="invitation.sent",
            study=study,
            target=invitation,
            details={"email": invitation.email, "expires_in_days": days},
        )
    return invitations


def invitation_check(*, token: str) -> Invitation:
    """The invitation if it can still be accepted; otherwise ValidationError saying why."""
    invitation = Invitation.objects.select_related("study").filter(token=token).first()
    if invitation is None:
        raise ValidationError(_("This invitation link is not valid."))
    _invitation_usable(invitation)
    return invitation


@transaction.atomic
def invitation_revoke(*, study: Study, invitation_id: int) -> Invitation:
    """Withdraw a pending invitation: its link stops working at once, and says it was
    withdrawn to whoever follows it. Revoking one already revoked changes nothing."""
    invitation = study.invitations.select_for_update().filter(pk=invitation_id).first()
    if invitation is None:
        raise ValidationError("No such invitation in this study.")
    if invitation.accepted_at is not None:
        raise ValidationError(
            "This invitation was already accepted: its owner is a rater now. Remove the rater "
            "instead."
        )
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(
            action="invitation.revoked",
            study=study,
            target=invitation,
            details={"email": invitation.email},
        )
    return invitation


def _invitation_usable(invitation: Invitation) -> None:
    # The same words whoever follows the link, signed in or not, with an account or without.
    if invitation.revoked_at is not None:
        raise ValidationError(
            _(
                "This invitation was withdrawn by the study's admin. Ask them to invite you "
                "again if you should rate for it."
            )
        )
    if invitation.accepted_at is not None:
        raise ValidationError(_("This invitation has already been used."))
    if invitation.is_expired:
        days = settings.INVITATION_MAX_AGE_DAYS
        raise ValidationError(
            ngettext(
                "This invitation has expired: links work for %(days)d day. Ask the study's "
                "admin to invite you again.",
                "This invitation has expired: links work for %(days)d days. Ask the study's "
                "admin to invite you again.",
                days,
            )
            % {"days": days}
        )
    study = invitation.study
    if study.status not in (Study.Status.DRAFT, Study.Status.OPEN) or (
        study.is_reading and study.status == Study.Status.OPEN
    ):
        raise ValidationError(_("This study no longer takes raters."))


def invitation_refusal(*, invitation: Invitation, user: AbstractBaseUser) -> str:
    """Why `user` cannot accept the invitation, or "" when they can. The invited address itself
    is never repeated: whoever holds the link learns nothing more about it."""
    if invitation.is_for(user):
        return ""
    return _(
        "This invitation was sent to another e-mail address than the one your account has. "
        "Log in with the account that has the invited address, or ask the study's admin to "
        "invite the address of this account."
    )


@transaction.atomic
def invitation_accept(*, token: str, user: AbstractBaseUser) -> Study:
    """Make `user` a rater of the invitation's study: only the account with the invited
    address, only once, only before the link expires."""
    invitation = (
        Invitation.objects.select_for_update().select_related("study").filter(token=token).first()
    )
    if invitation is None:
        raise ValidationError(_("This invitation link is not valid."))
    if invitation.accepted_at is not None and invitation.accepted_by_id == user.pk:
        return invitation.study
    _invitation_usable(invitation)
    refusal = invitation_refusal(invitation=invitation, user=user)
    if refusal:
        raise ValidationError(refusal)
    try:
        check_assignments_written(invitation.study)
    except ValidationError:
        # The admin's reason (a worker opening the study) is no business of the invitee's.
        raise ValidationError(
            _(
                "The study is being prepared for its raters. Please follow this link again in "
                "a few minutes."
            )
        ) from None
    study_add_raters(study=invitation.study, users=[user])
    invitation.accepted_by, invitation.accepted_at = user, timezone.now()
    invitation.save(update_fields=["accepted_by", "accepted_at"])
    audit_record(
        action="invitation.accepted",
        study=invitation.study,
        target=invitation,
        details={"email": invitation.email, "user": user.get_username()},
        user=user,
    )
    return invitation.study


@transaction.atomic
def invitation_accept_new_account(*, token: str, user: AbstractBaseUser) -> Study:
    """Save `user`, a new account made through the invitation, with the invited address, and
    make it a rater. Nothing is saved if the link cannot be accepted."""
    invitation = invitation_check(token=token)
    if get_user_model().objects.filter(email__iexact=invitation.email, is_active=True).exists():
        # Whoever holds the link received it at that address: telling them is no leak.
        raise ValidationError(
            _(
                "An account with the invited e-mail address already exists: log in with it, "
                "then follow this link again."
            )
        )
    user.email = invitation.email
    user.save()
    return invitation_accept(token=token, user=user)


@transaction.atomic
def api_token_rotate(*, user: AbstractBaseUser) -> Token:
    """Replace the user's API token: the old one stops working at once."""
    # One entry for the replacement, not one for the old token's deletion and one for the new.
    with token_changes_recorded():
        had_one = Token.objects.filter(user=user).delete()[0] > 0
        token = Token.objects.create(user=user)
    # Never the token itself: the entry says that one was made, not what it is.
    audit_record(
        action="api_token.rotated" if had_one else "api_token.created", target=user, user=user
    )
    return token
