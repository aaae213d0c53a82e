"""What a page needs to find the signed-in rater's answers kept in this browser, and no one
else's (see docs/architecture.md, "Unsaved answers in the browser")."""

from django import template
from django.contrib.auth.models import AbstractBaseUser

from annotation import selectors

register = template.Library()


@register.simple_tag
def rater_browser_scope(user: AbstractBaseUser) -> str:
    if not user.is_authenticated:
        return ""
    return selectors.rater_browser_scope(user=user)


@register.simple_tag
def rater_browser_scopes_retired(user: AbstractBaseUser) -> str:
    if not user.is_authenticated:
        return ""
    return " ".join(selectors.rater_browser_scopes_retired(user=user))
