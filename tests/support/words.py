"""Search a page for a name as a whole word: a random token may hold "R1" by chance."""

import re


def mentions(text: str, word: str) -> bool:
    """Whether `word` stands in `text` on its own, not inside a token or a longer name."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None
