"""Core's answer checks as people read them: in the language of whoever sent the answer."""

from django.utils.translation import gettext

from annotation.core.rubric import AnswerError


def answer_error_text(error: AnswerError) -> str:
    """The check's message translated, with its values put in (core marks the message for the
    catalogue and keeps the values apart: see core.messages)."""
    message = gettext(error.message)
    return message % error.params if error.params else message
