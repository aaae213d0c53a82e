"""Planning the next study from this one's statistics, under /api/v1/studies/<token>/plan/:
the pilots it offers, readers and cases for a power (MRMC), cases for a width of alpha's
interval. Admins only; the input is checked by the dashboard's own forms, and the plans come
from the same selectors, so the API and the planning card give the same numbers."""

from django import forms
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as BadRequest
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.api.base import StudyScopedViewSet
from annotation.api.studies import INVALID
from annotation.core.stats.names import THESE_RATERS
from annotation.forms import PowerPlanForm, WidthPlanForm
from annotation.models import Result
from annotation.selectors.planning import plan_power, plan_width, study_planning_pilots


class PowerPilotSerializer(serializers.Serializer):
    pilot = serializers.IntegerField(source="result.pk", help_text="The stored MRMC result's id.")
    question = serializers.CharField(source="question.key")
    pair = serializers.CharField(help_text='The two sources compared, "A vs B".')
    readers = serializers.IntegerField()
    cases = serializers.IntegerField(source="pilot.cases", allow_null=True, default=None)
    observed = serializers.FloatField(
        allow_null=True,
        help_text="The pilot's difference, first minus second (readers and cases random).",
    )
    units = serializers.CharField(help_text="What the difference is measured in.")
    usable = serializers.SerializerMethodField()
    reason = serializers.CharField(help_text="Why it cannot size a study; empty if it can.")

    def get_usable(self, pilot) -> bool:
        return pilot.pilot is not None


class WidthPilotSerializer(serializers.Serializer):
    pilot = serializers.IntegerField(source="result.pk", help_text="The stored alpha's id.")
    question = serializers.CharField(source="question.key")
    alpha = serializers.FloatField(source="result.value", allow_null=True)
    ci_low = serializers.SerializerMethodField()
    ci_high = serializers.SerializerMethodField()
    width = serializers.FloatField(allow_null=True)
    cases = serializers.IntegerField(help_text="The pilot's cases.")
    units = serializers.IntegerField(
        source="result.n_units",
        help_text="The pilot's units: a case's output from one source (over every source, a "
        "case is as many units as it has sources).",
    )
    interval_question = serializers.SerializerMethodField(
        help_text="Which question the interval answers: these raters, cases random."
    )
    usable = serializers.SerializerMethodField()
    reason = serializers.CharField(help_text="Why it has no interval to scale; empty if it has.")

    def get_ci_low(self, pilot) -> float | None:
        return pilot.ci[0] if pilot.ci else None

    def get_ci_high(self, pilot) -> float | None:
        return pilot.ci[1] if pilot.ci else None

    def get_interval_question(self, pilot) -> str:
        return THESE_RATERS

    def get_usable(self, pilot) -> bool:
        return pilot.ci is not None


class PilotsSerializer(serializers.Serializer):
    power = PowerPilotSerializer(many=True)
    width = WidthPilotSerializer(many=True)


class PlanPowerSerializer(serializers.Serializer):
    """The planning card's power form, as JSON; checked by the same form."""

    pilot = serializers.IntegerField(help_text="A usable power pilot's id (`plan/pilots/`).")
    difference = serializers.FloatField(help_text="The smallest difference worth detecting.")
    power = serializers.FloatField(default=0.8)
    alpha = serializers.FloatField(default=0.05, help_text="Two-sided.")
    readers = serializers.CharField(
        default="3-10", help_text="A range such as 3-10, or a list such as 4, 6, 8."
    )


class PowerRowSerializer(serializers.Serializer):
    readers = serializers.IntegerField()
    cases = serializers.IntegerField(
        allow_null=True, help_text="The fewest cases reaching the power; null: out of reach."
    )
    power = serializers.FloatField(allow_null=True, help_text="The power with that many cases.")
    best = serializers.FloatField(help_text="The most power seen, when out of reach.")


class PowerPlanSerializer(serializers.Serializer):
    question = serializers.CharField(
        help_text="Which question the plan answers: readers and cases random."
    )
    difference = serializers.FloatField()
    power = serializers.FloatField()
    alpha = serializers.FloatField()
    pilot = PowerPilotSerializer()
    rows = PowerRowSerializer(many=True)


class PlanWidthSerializer(serializers.Serializer):
    pilot = serializers.IntegerField(help_text="A usable width pilot's id (`plan/pilots/`).")
    width = serializers.FloatField(help_text="The 95% interval's whole width, e.g. 0.2.")


class WidthPlanSerializer(serializers.Serializer):
    question = serializers.CharField(
        help_text="Which question the interval answers: these raters, cases random."
    )
    width = serializers.FloatField()
    cases = serializers.IntegerField(help_text="Cases, at the pilot's units per case.")
    units = serializers.IntegerField(help_text="Units (a case's output from one source).")
    pilot = WidthPilotSerializer()


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

    @extend_schema(responses={200: PilotsSerializer})
    @action(detail=False, methods=["get"])
    def pilots(self, request: Request, study_token: str) -> Response:
        """The stored MRMC comparisons and alphas a plan can start from, each saying why not
        when it cannot."""
        pilots = study_planning_pilots(study=self.study)
        return Response(PilotsSerializer({"power": pilots.power, "width": pilots.width}).data)

    @extend_schema(request=PlanPowerSerializer, responses={200: PowerPlanSerializer, 400: INVALID})
    @action(detail=False, methods=["post"])
    def power(self, request: Request, study_token: str) -> Response:
        """For each number of readers, the fewest cases reaching the power to detect the
        difference between the pilot's two sources (readers and cases random)."""
        body = PlanPowerSerializer(data=request.data)
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
        return Response(PowerPlanSerializer(answer).data)

    @extend_schema(request=PlanWidthSerializer, responses={200: WidthPlanSerializer, 400: INVALID})
    @action(detail=False, methods=["post"])
    def width(self, request: Request, study_token: str) -> Response:
        """The cases for alpha's interval (these raters, cases random) of this width."""
        body = PlanWidthSerializer(data=request.data)
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
        return Response(WidthPlanSerializer(answer).data)
