"""Assisted reading's pages: for admins a new study with its answer question, its arms and its
scorers; for a scorer the queue of answers no accepted wording matched, blinded to reader and
arm."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from annotation import selectors, services
from annotation.forms import ArmForm, ReadingStudyForm
from annotation.selectors import reading as reading_selectors
from annotation.views.dashboard_actions import dashboard_action


@login_required
@permission_required("annotation.add_study", raise_exception=True)
@require_http_methods(["GET", "POST"])
def reading_study_new(request: HttpRequest) -> HttpResponse:
    form = ReadingStudyForm(request.POST or None)
    if request.method == "GET" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "annotation/reading_study_new.html", {"form": form}, status=status)
    data = form.cleaned_data
    try:
        study = services.reading_study_create(
            creator=request.user,
            title=data["title"],
            instructions=data["instructions"],
            layout=data["layout"],
            answer_kind=data["answer_kind"],
            prompt=data["prompt"],
            choices=data["choices"],
            k=data["k"],
            washout_days=data["washout_days"],
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return render(request, "annotation/reading_study_new.html", {"form": form}, status=400)
    return redirect("study_dashboard", study_token=study.token)


@login_required
@require_POST
def reading_arm_add(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)
    form = ArmForm(request.POST, study=study)
    return dashboard_action(
        request,
        study=study,
        form=form,
        act=lambda: services.arm_add(study=study, **form.cleaned_data),
        done=lambda arm: f"Arm {arm.key!r} added.",
    )


@login_required
@require_POST
def reading_scorer_add(request: HttpRequest, study_token: str) -> HttpResponse:
    study = selectors.admin_study_get(user=request.user, token=study_token)

    def act():
        user = get_user_model().objects.filter(username=request.POST.get("username", "")).first()
        if user is None:
            raise ValidationError("No account has that user name.")
        return services.scorer_add(study=study, user=user)

    return dashboard_action(
        request,
        study=study,
        act=act,
        done=lambda scorer: f"{scorer.user} scores the answers no accepted wording matches.",
    )


@login_required
@require_http_methods(["GET"])
def scorer_next(request: HttpRequest, study_token: str) -> HttpResponse:
    """The scorer's next undecided answer, or a page saying there is none."""
    study = reading_selectors.scorer_study_get(user=request.user, token=study_token)
    queue = reading_selectors.scorer_queue(study=study, user=request.user)
    if queue:
        return redirect("scorer_item", study_token=study.token, score_token=queue[0])
    return render(request, "annotation/scorer_done.html", {"study": study})


@login_required
@require_http_methods(["GET", "POST"])
def scorer_item(request: HttpRequest, study_token: str, score_token: str) -> HttpResponse:
    """One answer to decide: right or wrong, or a ranked list's first right entry."""
    study = reading_selectors.scorer_study_get(user=request.user, token=study_token)
    score = reading_selectors.scorer_score_get(study=study, token=score_token)
    if request.method == "POST":
        try:
            decision = _decision(request)
            services.answer_score_decide(score=score, scorer=request.user, **decision)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("scorer_item", study_token=study.token, score_token=score.token)
        return redirect("scorer_next", study_token=study.token)
    item = reading_selectors.scorer_item(study=study, user=request.user, score=score)
    return render(request, "annotation/scorer_item.html", {"item": item})


def _decision(request: HttpRequest) -> dict:
    """A ranked list's decision is the rank of its first right entry ("" for none); any other
    answer's is right ("yes") or wrong."""
    if "rank" in request.POST:
        rank = request.POST["rank"]
        if rank and not (rank.isascii() and rank.isdecimal()):  # "²" is a digit to isdigit
            raise ValidationError(_("Choose an entry by its number, or none of them."))
        return {"right": None, "rank": int(rank) if rank else None}
    if request.POST.get("right") not in ("yes", "no"):
        raise ValidationError(_("Choose right or wrong (or, for a list, an entry or none)."))
    return {"right": request.POST["right"] == "yes", "rank": None}
