"""Messages core code writes for people, marked for translation without importing Django.

Core stays free of Django, so it cannot translate. It marks each message a rater may read
with `gettext_noop` (makemessages collects calls by that name into the catalogue) and keeps
it in English with its values apart; the layer that shows the message translates it, e.g.
`gettext(error.message) % error.params` for an `AnswerError`.
"""


def gettext_noop(message: str) -> str:
    """`message` itself: the mark that puts it in the catalogue, for another layer to translate."""
    return message
