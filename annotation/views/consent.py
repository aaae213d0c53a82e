"""A rater's consent and background pages, the gate that sends them there before any item,
and the admin's page that defines the statement and the questions about raters."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from annotation import selectors, services
from annotation.core import consent, rubric

STEP_PAGES = {
    consent.CONSENT: "rater_consent",
    consent.BACKGROUND: "rater_background",
    consent.WITHDRAWN: "rater_my_consent",
}


def onboarding_gate(view: Callable) -> Callable:
    """Around a rater view: a rater who must first accept the consent statement or answer the
    background questions is sent there (a page) or refused with 403 and the reason (a script,
    a form's POST: nothing is stored); a rater who withdrew is refused for good."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except selectors.OnboardingRequired as exc:
            return _refused(request, exc)

    return wrapped


def _refused(request: HttpRequest, exc: selectors.OnboardingRequired) -> HttpResponse:
    message = exc.args[0]
    target = reverse(STEP_PAGES[exc.step], args=[exc.study_token])
    if request.htmx or request.headers.get("X-Requested-With") == "fetch":
        response = JsonResponse({"detail": message, "step": exc.step}, status=403)
        if request.htmx:
            # The item page keeps the unsaved answer and goes to the step (static/js/rater).
            response["HX-Redirect"] = target
        return response
    messages.info(request, message)
    return redirect(target)


def _next_page(membership) -> HttpResponse:
    step = selectors.membership_next_step(membership=membership, study=membership.study)
    if step is None:
        return redirect("rater_resume", study_token=membership.study.token)
    return redirect(STEP_PAGES[step], study_token=membership.study.token)


@login_required
@require_http_methods(["GET", "POST"])
def rater_consent(request: HttpRequest, study_token: str) -> HttpResponse:
    """The study's current consent statement, to accept before the first item."""
    membership = selectors.rater_membership_get(user=request.user, study_token=study_token)
    study = membership.study
    if membership.withdrawn_at or not study.consent_version:
        return _next_page(membership)
    if request.method == "POST":
        if request.POST.get("accept") != "1":
            messages.error(request, _("Tick the box to accept the statement, or leave the study."))
            return redirect("rater_consent", study_token=study.token)
        try:
            membership = services.rater_consent_accept(
                membership=membership, version=_int(request.POST.get("version"))
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("rater_consent", study_token=study.token)
        return _next_page(membership)
    context = {
        "study": study,
        "text": selectors.consent_text(study=study, version=study.consent_version),
        "version": study.consent_version,
        "again": membership.consent_version not in (0, study.consent_version),
    }
    return render(request, "annotation/rater_consent.html", context)


def _int(raw: str | None) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


# Whose form of answers it was, for which study and which form, signed into the form itself:
# answers posted after the rater was signed out, or with a CSRF token gone stale (they signed in
# again in another tab), are kept in the session, which survives signing in, for that rater and
# that form only. The note lasts no longer than a session could.
OWNER_SALT = "annotation.rater-answers.owner"
OWNER_MAX_AGE = min(24 * 3600, settings.SESSION_COOKIE_AGE)
KEPT_PREFIX = "rater-answers-kept:"
SIGNED_OUT = "signed_out"
EXPIRED = "expired"
ANSWER_PAGES = {"rater_background": consent.BACKGROUND, "rater_post_study": consent.POST_STUDY}


def answers_kept_when_signed_out(view: Callable) -> Callable:
    """`login_required` for the pages of answers about the rater, except that answers posted
    by a rater who was signed out meanwhile (in another tab, or their session ended) are kept
    for them: the sign-in page says so, and the form shows them again once they are back."""

    @wraps(view)
    def wrapped(request: HttpRequest, study_token: str, *, phase: str) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, study_token, phase=phase)
        if request.method == "POST" and _keep(request, study_token, phase, why=SIGNED_OUT):
            _signed_out_message(request)
        return redirect_to_login(request.get_full_path())

    return wrapped


def _signed_out_message(request: HttpRequest) -> None:
    messages.warning(
        request,
        _(
            "You were signed out before your answers were saved. Sign in again: the answers "
            "you typed will be back in the form, ready to save."
        ),
    )


def answers_kept_after_csrf_failure(request: HttpRequest) -> HttpResponse | None:
    """For the project's CSRF failure view: a background or post-study form posted with a stale
    CSRF token (the rater signed in again in another tab, which renews it) by the rater it was
    shown to, or by nobody signed in, has its answers kept as above and is sent back to the
    form (or to the sign-in page). Nothing is saved. None for any other refused request."""
    if request.method != "POST":
        return None
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    phase = ANSWER_PAGES.get(match.url_name or "")
    study_token = match.kwargs.get("study_token")
    if phase is None or not study_token:
        return None
    signed_in = request.user.is_authenticated
    if not _keep(request, study_token, phase, why=EXPIRED if signed_in else SIGNED_OUT):
        return None
    if signed_in:
        return redirect(match.url_name, study_token=study_token)
    _signed_out_message(request)
    return redirect_to_login(request.get_full_path())


def _kept_key(study_token: str, phase: str) -> str:
    return f"{KEPT_PREFIX}{study_token}:{phase}"


def _owner_note(user, study_token: str, phase: str) -> str:
    return signing.dumps([user.pk, study_token, phase], salt=OWNER_SALT)


def _keep(request: HttpRequest, study_token: str, phase: str, *, why: str) -> bool:
    """Keeps the posted answers if the form's owner note is good, is for this study and this
    form, and names the signed-in user (when someone is signed in)."""
    try:
        note = signing.loads(request.POST.get("owner", ""), salt=OWNER_SALT, max_age=OWNER_MAX_AGE)
    except signing.BadSignature:
        return False
    if not isinstance(note, list) or len(note) != 3 or note[1:] != [study_token, phase]:
        return False
    owner = note[0]
    if request.user.is_authenticated and request.user.pk != owner:
        return False
    answers = {
        key: request.POST.getlist(key)
        for key in request.POST
        if key not in ("owner", "csrfmiddlewaretoken")
    }
    request.session[_kept_key(study_token, phase)] = {
        "owner": owner,
        "why": why,
        "answers": answers,
    }
    return True


def _kept(request: HttpRequest, study_token: str, phase: str) -> dict | None:
    """The answers kept for this rater when they were signed out, once: another person signing
    in on the same browser gets nothing, and the kept answers are dropped."""
    kept = request.session.pop(_kept_key(study_token, phase), None)
    if not kept or kept.get("owner") != request.user.pk:
        return None
    return kept


def kept_answers_of_others_dropped(
    sender: object, request: HttpRequest | None, user: AbstractBaseUser, **kwargs
) -> None:
    """`user_logged_in` receiver: answers kept on this browser for anyone but the user who
    signed in are dropped at once, not left in the session."""
    if request is None or not hasattr(request, "session"):
        return
    for key in [k for k in list(request.session.keys()) if k.startswith(KEPT_PREFIX)]:
        kept = request.session.get(key)
        if not isinstance(kept, dict) or kept.get("owner") != user.pk:
            del request.session[key]


@require_http_methods(["GET", "POST"])
@answers_kept_when_signed_out
def _answers_page(request: HttpRequest, study_token: str, *, phase: str) -> HttpResponse:
    return _rater_answers_page(request, study_token, phase=phase)


def rater_background(request: HttpRequest, study_token: str) -> HttpResponse:
    return _answers_page(request, study_token, phase=consent.BACKGROUND)


def rater_post_study(request: HttpRequest, study_token: str) -> HttpResponse:
    return _answers_page(request, study_token, phase=consent.POST_STUDY)


def _rater_answers_page(request: HttpRequest, study_token: str, *, phase: str) -> HttpResponse:
    """The questions about the rater: background before the first item (after consent), the
    optional post-study ones after the last."""
    membership = selectors.rater_membership_get(user=request.user, study_token=study_token)
    step = selectors.membership_next_step(membership=membership, study=membership.study)
    if step in (consent.WITHDRAWN, consent.CONSENT):
        return _next_page(membership)
    closed = selectors.answers_closed(membership=membership, phase=phase)
    if closed:
        messages.info(request, closed)
        return _next_page(membership)
    questions = selectors.study_rater_questions(study=membership.study, phase=phase)
    stored = membership.background if phase == consent.BACKGROUND else membership.post_study
    given = stored
    kept = _kept(request, study_token, phase)
    if kept is not None and request.method == "GET":
        given = {q.key: _posted(kept["answers"], q) for q in questions}
        if kept.get("why") == EXPIRED:
            note = _(
                "This form had expired (you signed in again meanwhile), so your answers were "
                "not saved. They are filled in again: check them and save."
            )
        else:
            note = _(
                "The answers you typed before you were signed out are filled in again: check "
                "them and save."
            )
        messages.info(request, note)
    if request.method == "POST":
        given = {q.key: _posted(request.POST, q) for q in questions}
        try:
            membership = services.rater_answers_save(membership=membership, phase=phase, raw=given)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if phase == consent.POST_STUDY:
                messages.success(request, _("Thank you: your answers are saved."))
            return _next_page(membership)
    context = {
        "study": membership.study,
        "phase": phase,
        "questions": [(q, given.get(q.key)) for q in questions],
        "owner": _owner_note(request.user, study_token, phase),
    }
    return render(request, "annotation/rater_background.html", context)


def _posted(form, question) -> object:
    """A question's answer from a form's fields (a QueryDict, or the kept lists)."""
    values = form.getlist(question.key) if hasattr(form, "getlist") else form.get(question.key, [])
    if question.kind == "multiple_choice":
        return list(values)
    return (values[-1] if values else "").strip()


@login_required
@require_http_methods(["GET"])
def rater_my_consent(request: HttpRequest, study_token: str) -> HttpResponse:
    """What the rater accepted (text, version, time), and the way to withdraw."""
    membership = selectors.rater_membership_get(user=request.user, study_token=study_token)
    context = {
        "study": membership.study,
        "membership": membership,
        "text": selectors.consent_text(study=membership.study, version=membership.consent_version),
    }
    return render(request, "annotation/rater_my_consent.html", context)


@login_required
@require_POST
def rater_withdraw(request: HttpRequest, study_token: str) -> HttpResponse:
    membership = selectors.rater_membership_get(user=request.user, study_token=study_token)
    if request.POST.get("confirm") != "1":
        messages.error(request, _("Tick the box to confirm that you withdraw."))
        return redirect("rater_my_consent", study_token=study_token)
    try:
        services.rater_consent_withdraw(membership=membership)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("rater_my_consent", study_token=study_token)


@login_required
@require_http_methods(["GET", "POST"])
def study_consent(request: HttpRequest, study_token: str) -> HttpResponse:
    """The admin's page: the consent statement, the questions about raters, and each rater's
    consent and background (by pseudonym)."""
    study = selectors.admin_study_get(user=request.user, token=study_token)
    if request.method == "POST":
        try:
            done = _admin_change(study, request.POST)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except rubric.AnswerError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, done)
        return redirect("study_consent", study_token=study.token)
    questions = selectors.study_rater_questions(study=study)
    context = {
        "study": study,
        "text": selectors.consent_text(study=study, version=study.consent_version),
        "questions": questions,
        "templates": [
            (name, draft)
            for name, draft in consent.TEMPLATES.items()
            if name not in {q.key for q in questions}
        ],
        "kinds": consent.KINDS,
        "raters": [
            (rater, [rater.label(q) for q in questions])
            for rater in selectors.study_raters_background(study=study)
        ],
    }
    return render(request, "annotation/study_consent.html", context)


def _admin_change(study, post) -> str:
    """One change from the admin's page, named by its `action`; what was done, said back."""
    action = post.get("action")
    if action == "consent":
        study = services.study_consent_set(study=study, text=post.get("text", ""))
        return f"Consent statement: version {study.consent_version or 'none'}."
    if action == "template":
        question = services.rater_question_add_template(study=study, name=post.get("template"))
        return f"Added the question {question.key!r}."
    if action == "custom":
        draft = consent.draft_from_fields(post.dict())
        question = services.rater_question_add(study=study, draft=draft)
        return f"Added the question {question.key!r}."
    if action == "remove":
        services.rater_question_remove(study=study, key=post.get("key", ""))
        return f"Removed the question {post.get('key')!r}."
    raise ValidationError("Unknown action.")
