"""Planning the next study from this one's statistics, under /api/v1/studies/<token>/plan/:
the pilots it offers, readers and cases for a power (MRMC), cases for a width of alpha's
interval. Admins only; the input is checked by the dashboard's own forms, and the plans come
from the same selectors, so the API and the planning card give the same numbers."""

from django import forms
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as BadRequest
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.api import serializers as s
from annotation.api.base import StudyScopedViewSet
from annotation.api.studies import INVALID
from annotation.forms import PowerPlanForm, WidthPlanForm
from annotation.models import Result
from annotation.selectors.planning import plan_power, plan_width, study_planning_pilots


def checked(form: forms.Form) -> dict:
    """The form's cleaned data, or a 400 naming each field (`detail` for the whole)."""
    if form.is_valid():
        return form.cleaned_data
    errors = {field: list(messages) for field, messages in form.errors.items()}
    if whole := errors.pop("__all__", None):
        errors["detail"] = " ".join(whole)
    raise BadRequest(errors)


class PlanViewSet(StudyScopedViewSet):
    model = Result  # for the schema only
    pagination_class = None
    filter_backends = ()

    @extend_schema(responses={200: s.PilotsSerializer})
    @action(detail=False, methods=["get"])
    def pilots(self, request: Request, study_token: str) -> Response:
        """The stored MRMC comparisons and alphas a plan can start from, each saying why not
        when it cannot."""
        pilots = study_planning_pilots(study=self.study)
        return Response(s.PilotsSerializer({"power": pilots.power, "width": pilots.width}).data)

    @extend_schema(
        request=s.PowerPlanRequestSerializer, responses={200: s.PowerPlanSerializer, 400: INVALID}
    )
    @action(detail=False, methods=["post"])
    def power(self, request: Request, study_token: str) -> Response:
        """For each number of readers, the fewest cases reaching the power to detect the
        difference between the pilot's two sources (readers and cases random)."""
        body = s.PowerPlanRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pilots = study_planning_pilots(study=self.study).power_usable
        data = checked(PowerPlanForm(body.validated_data, pilots=pilots))
        try:
            plan = plan_power(
                data["pilot"],
                difference=data["difference"],
                readers=data["readers"],
                power=data["power"],
                alpha=data["alpha"],
            )
        except ValueError as exc:  # components that give no error variance, say
            raise BadRequest({"detail": f"No plan from this pilot: {exc}."}) from None
        except ArithmeticError:
            raise BadRequest(
                {"difference": ["Too large to compute a power for: choose a smaller one."]}
            ) from None
        answer = {**plan.as_dict(), "rows": plan.rows, "pilot": data["pilot"]}
        return Response(s.PowerPlanSerializer(answer).data)

    @extend_schema(
        request=s.WidthPlanRequestSerializer, responses={200: s.WidthPlanSerializer, 400: INVALID}
    )
    @action(detail=False, methods=["post"])
    def width(self, request: Request, study_token: str) -> Response:
        """The cases for alpha's interval (these raters, cases random) of this width."""
        body = s.WidthPlanRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pilots = study_planning_pilots(study=self.study).width_usable
        data = checked(WidthPlanForm(body.validated_data, pilots=pilots))
        try:
            answer = plan_width(data["pilot"], width=data["width"])
        except ValueError as exc:
            raise BadRequest({"detail": f"No plan from this pilot: {exc}."}) from None
        except ArithmeticError:  # (w_pilot / w) squared past what a float holds
            raise BadRequest(
                {"width": ["Too narrow to compute a number of cases for: choose a wider one."]}
            ) from None
        return Response(s.WidthPlanSerializer(answer).data)
