"""The base of every view under /api/v1/studies/<token>/: the study and the caller's role."""

from django.db.models import OuterRef, QuerySet, Subquery
from rest_framework.viewsets import GenericViewSet

from annotation.api.access import RATER, StudyAccess, study_access
from annotation.models import Membership, Study


class StudyScopedViewSet(GenericViewSet):
    """Resolves the study in the URL after authentication: 404 for non-members, 403 for
    raters but for the actions in `rater_actions` (none unless a view says so)."""

    rater_actions: tuple[str, ...] = ()
    lookup_value_regex = "[0-9]+"  # ids; token and key lookups say otherwise
    model = None  # what get_queryset returns, for the schema (which has no study)
    access: StudyAccess

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        admins_only = self.action not in self.rater_actions
        self.access = study_access(request, kwargs["study_token"], admins_only=admins_only)

    @property
    def study(self) -> Study:
        return self.access.study

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.study_queryset(self.study)

    def study_queryset(self, study: Study) -> QuerySet:
        raise NotImplementedError


def rater_pseudonym(study: Study, rater_field: str = "rater_id") -> Subquery:
    """The pseudonym in the study of the rater a row names, for annotating it."""
    rater = Membership.objects.filter(study=study, user=OuterRef(rater_field), role=RATER)
    return Subquery(rater.values("pseudonym")[:1])
