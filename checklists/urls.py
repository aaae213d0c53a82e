from django.urls import path, register_converter

from checklists import api, views


class ExportFormat:
    regex = "md|csv|json|tex|html"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ExportFormat, "fmt")

urlpatterns = [
    path("checklists/", views.report_list, name="report_list"),
    path("checklists/reports/new/", views.report_create, name="report_create"),
    path("reports/<str:token>/", views.report_detail, name="report_detail"),
    path("reports/<str:token>/items/<str:code>/", views.response_save, name="response_save"),
    path(
        "reports/<str:token>/items/<str:code>/evidence/",
        views.response_use_evidence,
        name="response_use_evidence",
    ),
    path("reports/<str:token>/submit/", views.assessment_submit, name="assessment_submit"),
    path("reports/<str:token>/scope/", views.report_scope, name="report_scope"),
    path("reports/<str:token>/assessors/", views.report_add_assessor, name="report_add_assessor"),
    path("reports/<str:token>/consensus/", views.report_consensus, name="report_consensus"),
    path(
        "reports/<str:token>/consensus/accept-unanimous/",
        views.consensus_accept_unanimous,
        name="consensus_accept_unanimous",
    ),
    path(
        "reports/<str:token>/consensus/<str:code>/",
        views.consensus_save,
        name="consensus_save",
    ),
    path("reports/<str:token>/export.<fmt:fmt>", views.report_export, name="report_export"),
    path(
        "api/v1/checklists/", api.in_english(api.DefinitionListAPI.as_view()), name="api_checklists"
    ),
    path(
        "api/v1/checklists/<slug:slug>/",
        api.in_english(api.DefinitionDetailAPI.as_view()),
        name="api_checklist",
    ),
    path("api/v1/reports/", api.in_english(api.ReportListAPI.as_view()), name="api_reports"),
    path(
        "api/v1/reports/<str:token>/",
        api.in_english(api.ReportDetailAPI.as_view()),
        name="api_report",
    ),
    path(
        "api/v1/reports/<str:token>/assessments/<str:assessment_token>/responses/",
        api.in_english(api.AssessmentResponsesAPI.as_view()),
        name="api_assessment_responses",
    ),
    path(
        "api/v1/reports/<str:token>/responses/<str:code>/",
        api.in_english(api.ResponseSaveAPI.as_view()),
        name="api_response_save",
    ),
    path(
        "api/v1/reports/<str:token>/scope/",
        api.in_english(api.ReportScopeAPI.as_view()),
        name="api_report_scope",
    ),
    path(
        "api/v1/reports/<str:token>/submit/",
        api.in_english(api.SubmitAPI.as_view()),
        name="api_report_submit",
    ),
    path(
        "api/v1/reports/<str:token>/export/<fmt:fmt>/",
        api.in_english(api.ExportAPI.as_view()),
        name="api_report_export",
    ),
]
