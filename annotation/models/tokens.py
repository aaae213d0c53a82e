"""The random tokens and seeds the models use as defaults (migrations name these functions as
annotation.models.new_token and new_seed)."""

import secrets
import string

TOKEN_ALPHABET = string.ascii_letters + string.digits


def new_token() -> str:
    # 16 letters and digits, 95 random bits: unguessable, not ordered by creation, and never
    # starting with a character a spreadsheet would read as a formula.
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(16))


def new_seed() -> int:
    return secrets.randbelow(2**31)
