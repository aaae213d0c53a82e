"""The rater workspace. Views here see only what `selectors.rater_item_view` gives them."""

import json
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods, require_POST

from annotation import selectors, services
from annotation.core import rubric
from annotation.core.omission import omission_posted
from annotation.responses import image_response
from annotation.selectors import adjudication as adjudication_selectors
from annotation.selectors import reading as reading_selectors
from annotation.views.consent import onboarding_gate


def rater_login_required(view: Callable) -> Callable:
    """Like `login_required`, but a script's request (htmx, fetch) gets 401, not a redirect:
    a script follows a redirect to the login form and would take its 200 for a stored answer.
    A form POST goes to the login form with the item page as `next`, never the POST-only
    address it was sent to (which would answer 405 after login)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.htmx or request.headers.get("X-Requested-With") == "fetch":
            return JsonResponse({"signed_in": False}, status=401)
        if request.method == "GET":
            return redirect_to_login(request.get_full_path())
        item = reverse("rater_item", args=[kwargs["study_token"], kwargs["assignment_token"]])
        return redirect_to_login(item)

    return wrapped


@login_required
def rater_home(request: HttpRequest) -> HttpResponse:
    services.rater_assignments_write(user=request.user)  # a large study that has just opened
    studies = selectors.rater_studies(user=request.user)
    # A scorer is not a reader: the studies they score are listed apart, with their queue.
    scoring = reading_selectors.scorer_studies(user=request.user)
    # Adjudicating is not rating either: those studies are listed apart too.
    adjudicating = adjudication_selectors.adjudicator_studies(user=request.user)
    preparing = selectors.rater_studies_preparing(user=request.user)
    context = {
        "studies": studies,
        "scoring": scoring,
        "adjudicating": adjudicating,
        "preparing": preparing,
    }
    return render(request, "annotation/rater_home.html", context)


@onboarding_gate
@login_required
def rater_resume(request: HttpRequest, study_token: str) -> HttpResponse:
    study = _rater_study_or_home(request, study_token)
    if isinstance(study, HttpResponse):
        return study
    if study.status == study.Status.LOCKED:
        # Nothing is left to do in a locked study: its rater comes to read their answers.
        return redirect("rater_review", study_token=study.token)
    assignment = selectors.assignment_next_for_rater(rater=request.user, study=study)
    if assignment is None or not _session_open(assignment):
        # All done, or done with every session open so far: the page says which.
        summary = selectors.rater_study_summary(user=request.user, study=study)
        offered = selectors.rater_post_study_offered(user=request.user, study=study)
        context = {"study": summary, "post_study": offered}
        return render(request, "annotation/rater_done.html", context)
    return redirect("rater_item", study_token=study.token, assignment_token=assignment.token)


def _rater_study_or_home(request: HttpRequest, study_token: str):
    """The rater's study (404 if none). A large study just opened may have the rater's
    assignments still to write: written here, or, if they are left to the worker, a redirect
    to the rater's home page, which says their items are being prepared. No query more when
    the rater has their items, as on every page but the first."""
    try:
        return selectors.rater_study_get(user=request.user, token=study_token)
    except Http404:
        if services.rater_assignments_write(user=request.user):
            return selectors.rater_study_get(user=request.user, token=study_token)
        if selectors.rater_studies_preparing(user=request.user, token=study_token):
            return redirect("rater_home")
        raise


def _session_open(assignment) -> bool:
    """Whether the assignment's reading session is open to its rater (no query for the first)."""
    gate = selectors.rater_session_gate(assignment=assignment)
    return gate.is_open(timezone.now())


def _session_closed(request: HttpRequest, study, gate) -> HttpResponse:
    """An item of a session not open yet: refused (409, nothing stored), saying when it opens.
    A script's save gets the message alone; the page keeps the answer it could not store."""
    message = selectors.session_closed_message(gate)
    if request.htmx or request.headers.get("X-Requested-With") == "fetch":
        return HttpResponse(message, status=409, content_type="text/plain; charset=utf-8")
    summary = selectors.rater_study_summary(user=request.user, study=study)
    context = {"study": summary, "message": message}
    return render(request, "annotation/rater_session_closed.html", context, status=409)


@onboarding_gate
@login_required
@require_http_methods(["GET"])
def rater_review(request: HttpRequest, study_token: str) -> HttpResponse:
    """The rater's items in their order, each with how far it got: to go back over them."""
    study = _rater_study_or_home(request, study_token)
    if isinstance(study, HttpResponse):
        return study
    summary = selectors.rater_study_summary(user=request.user, study=study)
    lines = selectors.rater_review_lines(user=request.user, study=study)
    return render(request, "annotation/rater_review.html", {"study": summary, "lines": lines})


@onboarding_gate
@rater_login_required
@require_http_methods(["GET", "POST"])
def rater_item(request: HttpRequest, study_token: str, assignment_token: str) -> HttpResponse:
    if request.method == "POST":
        return _save_answer(request, study_token, assignment_token)
    assignment = selectors.rater_assignment_get(
        user=request.user, study_token=study_token, token=assignment_token
    )
    # Training comes first while the study is open: no study item is shown or saved before it.
    pending = selectors.rater_training_pending(assignment=assignment)
    if pending is not None:
        return _to_training(request, assignment.study.token, pending.token)
    gate = selectors.rater_session_gate(assignment=assignment)
    if assignment.study.status == assignment.study.Status.OPEN and not gate.is_open(timezone.now()):
        return _session_closed(request, assignment.study, gate)
    services.assignment_mark_opened(assignment=assignment)
    # With the revision of each answer shown: a tab compares it with the server's.
    item, revisions = selectors.rater_item_page(assignment=assignment)
    return render(request, "annotation/rater_item.html", {"item": item, "revisions": revisions})


def _to_training(request: HttpRequest, study_token: str, pending_token: str) -> HttpResponse:
    messages.info(request, _("First the training items, with the expected answers after each."))
    target = reverse("rater_item", args=[study_token, pending_token])
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": target})
    return redirect(target)


def _save_answer(request: HttpRequest, study_token: str, assignment_token: str) -> HttpResponse:
    """One question's answer posted by the item page: stored, or refused with a message.

    One transaction, no savepoint: the assignment is read and locked with all the save needs,
    the answer is checked, and one statement writes the time on task with the answer (a
    refused answer keeps the time)."""
    with transaction.atomic():
        target = selectors.rater_save_target(
            user=request.user,
            study_token=study_token,
            token=assignment_token,
            question_key=request.POST.get("question", ""),
        )
        if target.training_pending is not None:
            return _to_training(request, study_token, target.training_pending)
        if target.question is None:
            raise Http404("No such question.")
        assignment, question = target.assignment, target.question
        n_outputs = len(assignment.shown_outputs())
        shown = _shown_place(request.POST.get("about", ""), n_outputs)
        try:
            saved = services.rater_answer_save(
                assignment=assignment,
                question=question,
                answer=_posted_answer(question, request.POST, n_outputs=n_outputs),
                shown=shown,
                elapsed_ms=_elapsed(request),
                gate=target.gate,
            )
        except services.SessionNotOpen as exc:
            return _session_closed(request, assignment.study, exc.gate)
    if not request.htmx:
        # Without JavaScript the form posts normally: come back to the same item.
        return redirect(request.path)
    return _saved_partial(request, target, shown=shown, saved=saved)


def _saved_partial(
    request: HttpRequest,
    target: selectors.RaterSaveTarget,
    *,
    shown: int | None,
    saved: services.SavedAnswer,
) -> HttpResponse:
    """Only the question's status: nothing else is read again. The progress bar counts
    submitted items, which a save does not change."""
    assignment, question, rating = target.assignment, target.question, saved.rating
    context = {
        "q": selectors.rater_question_view(
            assignment=assignment,
            question=question,
            answer=rating.answer if rating else None,
            shown=shown if assignment.study.asks_per_output(question) else None,
        ),
        "saved": not saved.error,
        "error": saved.error,
        "oob": True,
    }
    # Errors come back with 200 so that htmx swaps them in where the rater is looking. The page
    # counts an answer as stored only when one of these headers says so, never for a bare 200.
    response = render(request, "annotation/_question_saved.html", context)
    if rating is not None:
        response["X-Answer-Saved"] = selectors.rating_revision(rating)
    elif saved.conflict:
        # A locked answer: the stored one stands, and the page keeps what it tried to send.
        response.status_code = 409
    else:
        response["X-Answer-Refused"] = "1"
    return response


@onboarding_gate
@rater_login_required
@require_http_methods(["GET"])
@never_cache
@ensure_csrf_cookie
def rater_answers(request: HttpRequest, study_token: str, assignment_token: str) -> HttpResponse:
    """The rater's stored answers to one item, as its forms post them, with a revision each: a
    tab compares them with what it shows. Also the page's probe of whether it is still signed
    in, and where it gets a fresh CSRF cookie."""
    assignment = selectors.rater_assignment_get(
        user=request.user, study_token=study_token, token=assignment_token
    )
    gate = selectors.rater_session_gate(assignment=assignment)
    if assignment.study.status == assignment.study.Status.OPEN and not gate.is_open(timezone.now()):
        # A closed item's answers are not read back either (a page probing stays as it is).
        return _session_closed(request, assignment.study, gate)
    answers = selectors.rater_answers(assignment=assignment)
    return JsonResponse(
        {
            "signed_in": True,
            "submitted": assignment.submitted_at is not None,
            "answers": {
                form_id: {"fields": answer.fields, "revision": answer.revision}
                for form_id, answer in answers.items()
            },
        }
    )


def _seen(request: HttpRequest) -> object:
    """The revisions the submitting page showed, or None from a page without script."""
    try:
        return json.loads(request.POST.get("seen") or "null")
    except (ValueError, RecursionError):  # not what the page sends: check nothing
        return None


def _elapsed(request: HttpRequest) -> int:
    try:
        return int(request.POST.get("elapsed_ms", 0))
    except ValueError:
        return 0


@onboarding_gate
@login_required
@require_http_methods(["GET"])
def rater_image(
    request: HttpRequest, study_token: str, assignment_token: str, image_token: str
) -> HttpResponse:
    """One image of the case this rater's item is about; 404 for anything else."""
    assignment = selectors.rater_assignment_get(
        user=request.user, study_token=study_token, token=assignment_token
    )
    image = selectors.rater_image_get(assignment=assignment, token=image_token)
    return image_response(image)


@onboarding_gate
@rater_login_required
@require_POST
def rater_submit(request: HttpRequest, study_token: str, assignment_token: str) -> HttpResponse:
    """Submit an item and go on to the next one; submitting twice is harmless."""
    assignment = selectors.rater_assignment_get(
        user=request.user, study_token=study_token, token=assignment_token
    )
    study = assignment.study
    if selectors.rater_answers_changed_since(assignment=assignment, seen=_seen(request)):
        # Another tab changed an answer this page never showed: submitting would send answers
        # the rater did not see. The item page shows the current ones.
        messages.error(
            request,
            _(
                "Some answers were changed in another tab. They are shown now: check them and "
                "submit again."
            ),
        )
        return redirect("rater_item", study_token=study.token, assignment_token=assignment.token)
    gate = selectors.rater_session_gate(assignment=assignment)
    if study.status == study.Status.OPEN and not gate.is_open(timezone.now()):
        # Refused before any time on task is kept: a closed item takes no time.
        return _session_closed(request, study, gate)
    services.assignment_add_time(assignment=assignment, elapsed_ms=_elapsed(request))
    try:
        services.assignment_submit(assignment=assignment)
    except services.SessionNotOpen as exc:
        return _session_closed(request, study, exc.gate)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("rater_item", study_token=study.token, assignment_token=assignment.token)
    if assignment.kind == assignment.Kind.TRAINING:
        return redirect(
            "rater_feedback", study_token=study.token, assignment_token=assignment.token
        )
    following = selectors.rater_next_position(assignment=assignment)
    if following is None or following.session != assignment.session:
        # The end of a session: where to go next (or when it opens) is the resume page's.
        return redirect("rater_resume", study_token=study.token)
    return redirect("rater_item", study_token=study.token, assignment_token=following.token)


@onboarding_gate
@login_required
@require_http_methods(["GET"])
def rater_feedback(request: HttpRequest, study_token: str, assignment_token: str) -> HttpResponse:
    """After a submitted training item: the rater's answers beside the expected ones."""
    assignment = selectors.rater_assignment_get(
        user=request.user, study_token=study_token, token=assignment_token
    )
    if assignment.kind != assignment.Kind.TRAINING or assignment.submitted_at is None:
        return redirect("rater_item", study_token=study_token, assignment_token=assignment_token)
    feedback = selectors.rater_training_feedback(assignment=assignment)
    return render(request, "annotation/rater_feedback.html", {"feedback": feedback})


def _shown_place(letter: str, n_outputs: int) -> int | None:
    """The place (from 0) of the response a per-output answer is about, from its letter."""
    places = {rubric.shown_letter(place): place for place in range(n_outputs)}
    return places.get(letter)


def _posted_answer(question, post, *, n_outputs: int) -> object:
    """The answer a question's form posted. "Not applicable" shares the field with the other
    controls; the page's script keeps it exclusive, and a typed number wins over a stale tick.
    A ranking posts one rank per response, as `rank-A`, `rank-B`..."""
    values = post.getlist("answer")
    if question.kind == question.Kind.RANKING:
        if rubric.NA in values:
            return rubric.NA
        return [post.get(f"rank-{rubric.shown_letter(i)}", "") for i in range(n_outputs)]
    if question.kind in (question.Kind.MULTIPLE_CHOICE, question.Kind.CRITERIA):
        return values
    if question.kind == question.Kind.OMISSION:
        return omission_posted(values, omitted=post.getlist("omitted"), wrong=post.getlist("wrong"))
    if question.kind == question.Kind.CORRECTION:
        # The original text counts as an answer only once the rater confirmed it ("accepted").
        text = values[-1] if values else ""
        return {"text": text, "accepted": post.get("accepted") == "1"}
    if question.kind == question.Kind.ANSWER and question.answer_kind == rubric.RANKED_ANSWER:
        # One row per entry, `entry-1` first; blank rows are dropped when parsed.
        return [post.get(f"entry-{n}", "") for n in range(1, (question.k or 0) + 1)]
    if question.kind == question.Kind.NUMBER:
        typed = [v for v in values if v != rubric.NA and v.strip()]
        return typed[0] if typed else (rubric.NA if rubric.NA in values else "")
    return values[-1] if values else ""
