"""A study's raters: chosen among known people, or invited by e-mail."""

from django import forms
from django.contrib.auth import get_user_model

from annotation.forms.help_text import PlainHelpText


class AddRatersForm(PlainHelpText, forms.Form):
    """Raters picked from people already in the admin's studies (selectors.study_rater_candidates);
    anyone else is invited by e-mail (InviteRatersForm)."""

    users = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="People in your studies",
        error_messages={
            "required": "Choose at least one person.",
            # The same words for an account that exists elsewhere and for none at all.
            "invalid_choice": "Choose among the people listed: anyone else is invited by e-mail.",
            "invalid_pk_value": "Choose among the people listed: anyone else is invited by e-mail.",
        },
    )

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].queryset = candidates


class InviteRatersForm(PlainHelpText, forms.Form):
    emails = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="E-mail addresses",
        help_text="One per line (or separated by commas). Each gets a link; its owner joins as "
        "a rater by following it, with an account that has the address or a new one.",
    )

    def clean_emails(self) -> list[str]:
        raw = self.cleaned_data["emails"].replace(",", "\n").split()
        field = forms.EmailField()
        emails = []
        for value in raw:
            try:
                emails.append(field.clean(value))
            except forms.ValidationError:
                raise forms.ValidationError(f"{value!r} is not an e-mail address.") from None
        if not emails:
            raise forms.ValidationError("Give at least one address.")
        return sorted(set(emails), key=emails.index)
