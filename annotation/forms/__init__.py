"""Input validation for study admins' and raters' forms.

One module per concern; every form is re-exported here, so views write
`from annotation.forms import QuestionForm` without knowing which module holds it."""

from annotation.forms.disagreement import AdaptiveForm, AdjudicationSelectForm
from annotation.forms.endpoints import (
    ENDPOINT_HELP,
    ENDPOINT_LABELS,
    ConnectionChoiceField,
    EndpointChoiceMixin,
    EndpointEditMixin,
    HttpsURLField,
    JudgeEditForm,
    JudgeForm,
    SourceEditForm,
    SourceEndpointForm,
)
from annotation.forms.help_text import PlainHelpText
from annotation.forms.planning import (
    PLAN_READERS,
    PLAN_READERS_MOST,
    PilotChoiceForm,
    PowerPlanForm,
    WidthPlanForm,
    readers_list,
)
from annotation.forms.questions import OPTIONS_HELP, QuestionForm, RubricTemplateForm
from annotation.forms.raters import AddRatersForm, InviteRatersForm
from annotation.forms.reading import ArmForm, ReadingStudyForm
from annotation.forms.studies import (
    SCALE_HELP,
    AnalysisSettingsForm,
    ImportForm,
    NotificationSettingsForm,
    StudyCreateForm,
)

__all__ = [
    "AdaptiveForm",
    "AddRatersForm",
    "AdjudicationSelectForm",
    "AnalysisSettingsForm",
    "ArmForm",
    "ConnectionChoiceField",
    "ENDPOINT_HELP",
    "ENDPOINT_LABELS",
    "EndpointChoiceMixin",
    "EndpointEditMixin",
    "HttpsURLField",
    "ImportForm",
    "InviteRatersForm",
    "JudgeEditForm",
    "JudgeForm",
    "NotificationSettingsForm",
    "OPTIONS_HELP",
    "PLAN_READERS",
    "PLAN_READERS_MOST",
    "PilotChoiceForm",
    "PlainHelpText",
    "PowerPlanForm",
    "QuestionForm",
    "ReadingStudyForm",
    "RubricTemplateForm",
    "SCALE_HELP",
    "SourceEditForm",
    "SourceEndpointForm",
    "StudyCreateForm",
    "WidthPlanForm",
    "readers_list",
]
