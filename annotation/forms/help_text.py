"""Help texts shown as plain text, for every form here."""

from django.utils.html import escape
from django.utils.safestring import SafeData


class PlainHelpText:
    """Help texts here are plain text. Django's form templates print them unescaped, so a
    `{{ metadata.<key> }}` in one lost its `<key>` to the browser as an unknown tag: every
    field's help is escaped once, as the form is made."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for form_field in self.fields.values():
            if form_field.help_text and not isinstance(form_field.help_text, SafeData):
                form_field.help_text = escape(form_field.help_text)
