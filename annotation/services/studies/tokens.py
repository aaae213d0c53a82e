"""The opaque tokens of items and assignments, made in bulk."""

import secrets
from collections.abc import Iterator

from annotation.models import TOKEN_ALPHABET


def _token_stream() -> Iterator[str]:
    while True:
        yield from new_tokens(1000)


def new_tokens(n: int) -> list[str]:
    """n tokens as models.new_token makes them (16 of its 62 letters and digits, each uniform),
    from the same source of randomness, a hundred times faster: a random byte below 248 (4 x 62)
    picks a character, and the others are dropped, so that every character stays uniform."""
    table = bytes(ord(TOKEN_ALPHABET[b % 62]) if b < 248 else 0 for b in range(256))
    dropped = bytes(range(248, 256))
    text = b""
    while len(text) < 16 * n:
        text += secrets.token_bytes(17 * n + 64).translate(table, dropped)
    return [text[i : i + 16].decode() for i in range(0, 16 * n, 16)]
