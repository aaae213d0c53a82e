"""A study's raters: added, their items reassigned, removed, invited, invitations revoked."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotation import selectors, services
from annotation.forms import AddRatersForm, InviteRatersForm
from annotation.views.studies.confirmation import _ask_first


@login_required
@require_POST
def study_add_raters(request: HttpRequest, study_token: str) -> HttpResponse:
    """Add people the admin already shares a study with; anyone else is invited by e-mail."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    candidates = selectors.study_rater_candidates(study=study, admin=request.user)
    form = AddRatersForm(request.POST, candidates=candidates)
    if form.is_valid():
        try:
            added = services.study_add_raters(study=study, users=form.cleaned_data["users"])
            messages.success(request, f"Added {len(added)} rater{pluralize(len(added))}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        # A forged choice (an account outside the admin's studies, or none) gets the same words.
        messages.error(request, " ".join(form.errors["users"]))
    return redirect("study_dashboard", study_token=study.token)


@login_required
@require_POST
def study_reassign(request: HttpRequest, study_token: str, pseudonym: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    membership = get_object_or_404(study.memberships, role="rater", pseudonym=pseudonym)
    if asked := _ask_first(request, study, "reassign", rater=membership.pseudonym):
        return asked
    try:
        moved = services.assignments_reassign(study=study, rater=membership.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Moved {moved} unstarted items from {pseudonym} to the others.")
    return redirect("study_dashboard", study_token=study.token)


@login_required
@require_POST
def study_remove_rater(request: HttpRequest, study_token: str, pseudonym: str) -> HttpResponse:
    """Remove a rater who has saved nothing, once confirmed; their items go to the others."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    membership = get_object_or_404(study.memberships, role="rater", pseudonym=pseudonym)
    if asked := _ask_first(request, study, "remove", rater=membership.pseudonym):
        return asked
    try:
        moved = services.rater_remove(study=study, pseudonym=membership.pseudonym)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        handed = f": their {moved} item{pluralize(moved)} went to the other raters" if moved else ""
        messages.success(
            request,
            f"Removed {pseudonym}{handed}. The name {pseudonym} will not be given to anyone else.",
        )
    return redirect(reverse("study_dashboard", args=[study.token]) + "#raters")


@login_required
@require_POST
def study_revoke_invitation(
    request: HttpRequest, study_token: str, invitation_id: int
) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    try:
        invitation = services.invitation_revoke(study=study, invitation_id=invitation_id)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Withdrew the invitation to {invitation.email}: its link no longer works, and says "
            "so. Invite the address again to send a new one.",
        )
    return redirect(reverse("study_dashboard", args=[study.token]) + "#raters")


@login_required
@require_POST
def study_invite(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    form = InviteRatersForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["emails"]))
        return redirect("study_dashboard", study_token=study.token)

    def link_for(token: str) -> str:
        return request.build_absolute_uri(reverse("invitation", args=[token]))

    try:
        sent = services.invitations_send(
            study=study, emails=form.cleaned_data["emails"], inviter=request.user, link_for=link_for
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        # Every address is invited alike, with an account or without: these words, the list of
        # invitations and the raters' table never say which (nobody joins before accepting).
        n = len(sent)
        messages.success(
            request,
            f"Invited {n} address{pluralize(n, 'es')}: each gets a link by e-mail and appears "
            "under Raters once its owner joins.",
        )
    return redirect("study_dashboard", study_token=study.token)
