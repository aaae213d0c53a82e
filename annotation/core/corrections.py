"""Corrected outputs: how far a rater's corrected text is from the output they were shown.

A rater edits an output into what they would sign off. Kept beside the corrected text:
- a word-level diff (`diff`): the operations (equal, insert, delete, replace) that turn the
  original's words into the corrected text's, each with the character offsets it covers in
  both texts, so a page can mark the changes without storing either text twice;
- the Levenshtein distance in characters and in words (`levenshtein`), and the word edit
  rate: word edits per word of the original (0 for an output accepted unchanged).

Line endings are normalised first (a browser posts a textarea's newlines as CR LF); nothing
else is: a changed space is an edit of one character, though no word changed.
Plain Python, no Django.
"""

import os
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

WORD = re.compile(r"\S+")
OPS = ("equal", "insert", "delete", "replace")


def normalise(text: str) -> str:
    """The text with every line ending as LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def words(text: str) -> list[tuple[str, int, int]]:
    """The text's words (runs of non-space characters), each with its start and end offset."""
    return [(m.group(), m.start(), m.end()) for m in WORD.finditer(text)]


def diff(original: str, corrected: str) -> list[dict]:
    """The word-level operations from `original` to `corrected`, in order:
    {"op", "a": [start, end], "b": [start, end]}, character offsets into each text. An insert
    has an empty "a" range where the words go in; a delete an empty "b" range."""
    a, b = words(original), words(corrected)
    ids: dict[str, int] = {}
    a_ids = [ids.setdefault(w[0], len(ids)) for w in a]
    b_ids = [ids.setdefault(w[0], len(ids)) for w in b]
    return [
        {"op": op, "a": _chars(a, i1, i2, len(original)), "b": _chars(b, j1, j2, len(corrected))}
        for op, i1, i2, j1, j2 in _opcodes(_matching_blocks(a_ids, b_ids), len(a), len(b))
    ]


# Steps of the word diff's search (diagonals tried plus words matched) before it gives up on
# a shortest diff: it runs inside the save, with the assignment locked, so its work must not
# grow with how unlike the texts a rater can make them. A few tenths of a second at most.
DIFF_STEPS = 200_000


def _matching_blocks(a: list[int], b: list[int]) -> list[tuple[int, int, int]]:
    """Runs (i, j, size) of words equal in both lists, in order: those of a shortest edit
    script when one is found within DIFF_STEPS, else only the common start and end (the middle
    then shows as one replacement: coarse, still a correct diff)."""
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    middle = _myers(a[head : len(a) - tail], b[head : len(b) - tail]) or []
    blocks = [(head + i, head + j, size) for i, j, size in middle]
    return [(0, 0, head), *blocks, (len(a) - tail, len(b) - tail, tail)]


def _myers(a: list[int], b: list[int]) -> list[tuple[int, int, int]] | None:
    """The equal runs of a shortest edit script (Myers 1986, the greedy O((N+M)D) search),
    or None once it has taken DIFF_STEPS steps."""
    n, m = len(a), len(b)
    far = {1: 0}  # diagonal k = x - y: the furthest x reached on it
    trace = []
    steps = 0
    for d in range(n + m + 1):
        trace.append(dict(far))
        for k in range(-d, d + 1, 2):
            down = k == -d or (k != d and far[k - 1] < far[k + 1])
            x = far[k + 1] if down else far[k - 1] + 1
            start = x
            while x < n and x - k < m and a[x] == b[x - k]:
                x += 1
            far[k] = x
            steps += 1 + x - start
            if x >= n and x - k >= m:
                return _runs(trace, n, m)
        if steps > DIFF_STEPS:
            return None
    return None  # not reached: d = n + m always ends the search


def _runs(trace: list[dict[int, int]], x: int, y: int) -> list[tuple[int, int, int]]:
    """Walk the search back from the end, collecting the diagonal runs (the equal words)."""
    runs = []
    for d in range(len(trace) - 1, -1, -1):
        far, k = trace[d], x - y
        previous = k + 1 if k == -d or (k != d and far[k - 1] < far[k + 1]) else k - 1
        before_x = far[previous]
        # The run starts where the edit of step d landed (step 0 has no edit: it starts at 0).
        start_x = 0 if d == 0 else (before_x if previous == k + 1 else before_x + 1)
        if x > start_x:
            runs.append((start_x, start_x - k, x - start_x))
        x, y = before_x, before_x - previous
    return runs[::-1]


def _opcodes(blocks: list[tuple[int, int, int]], n: int, m: int) -> list[tuple]:
    """(op, i1, i2, j1, j2) tuples, as difflib's get_opcodes gives them, from the equal runs."""
    found = []
    i = j = 0
    for block_i, block_j, size in [*blocks, (n, m, 0)]:
        if i < block_i or j < block_j:
            op = "replace" if i < block_i and j < block_j else "delete" if i < block_i else "insert"
            found.append((op, i, block_i, j, block_j))
        if size:
            found.append(("equal", block_i, block_i + size, block_j, block_j + size))
        i, j = block_i + size, block_j + size
    return found


def _chars(found: list[tuple[str, int, int]], first: int, last: int, length: int) -> list[int]:
    """The character range of words first..last-1; empty, at the next word, when none."""
    if first < last:
        return [found[first][1], found[last - 1][2]]
    at = found[first][1] if first < len(found) else length
    return [at, at]


def levenshtein(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """The fewest insertions, deletions and substitutions turning `a` into `b` (characters of
    two strings, or two lists of words). Myers' bit-parallel algorithm (1999, in Hyyrö's form
    for the global distance), one Python integer as the bit vector: a whole output's
    characters in milliseconds where the cell-by-cell table would take seconds."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    a, b = a[start:], b[start:]
    end = 0
    while end < min(len(a), len(b)) and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[: len(a) - end], b[: len(b) - end]
    if not a or not b:
        return len(a) + len(b)
    return _bit_parallel(a, b)


def _bit_parallel(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    # Bit i of a vector stands for row i of the table's current column (one row per item of
    # `a`): whether the distance goes up (pv) or down (mv) by one from the row above.
    masks: dict = {}
    for i, item in enumerate(a):
        masks[item] = masks.get(item, 0) | (1 << i)
    full, top = (1 << len(a)) - 1, 1 << (len(a) - 1)
    pv, mv, score = full, 0, len(a)
    for item in b:
        eq = masks.get(item, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & full
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        # The first row of the global distance grows by one per column: carry a 1 in.
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv
    return score


@dataclass(frozen=True)
class Distance:
    """How far a corrected text is from its original."""

    chars: int  # Levenshtein distance in characters
    words: int  # Levenshtein distance in words
    original_words: int
    corrected_words: int

    @property
    def unchanged(self) -> bool:
        """Accepted as it was: not one character changed."""
        return self.chars == 0

    @property
    def rate(self) -> float | None:
        """Word edits per word of the original; None for an original without words that was
        given some (there is nothing to divide by)."""
        if self.original_words == 0:
            return 0.0 if self.words == 0 else None
        return self.words / self.original_words


def distance(original: str, corrected: str) -> Distance:
    original, corrected = normalise(original), normalise(corrected)
    a, b = [w[0] for w in words(original)], [w[0] for w in words(corrected)]
    return Distance(levenshtein(original, corrected), levenshtein(a, b), len(a), len(b))


def segments(original: str, corrected: str, ops: list[dict]) -> list[tuple[str, str]]:
    """The diff as one running text to show: ("same", text) in both versions, ("del", text)
    taken out of the original and ("ins", text) put in. Without the "del" segments it is the
    corrected text exactly, without the "ins" ones the original: the spaces between words are
    compared too, and a changed one shows as taken out and put in."""
    shown: list[tuple[str, str]] = []
    a_at = b_at = 0
    for op in ops:
        (a0, a1), (b0, b1) = op["a"], op["b"]
        shown += _gap(original[a_at:a0], corrected[b_at:b0])
        if op["op"] == "equal":
            shown += _same_words(original[a0:a1], corrected[b0:b1])
        if op["op"] in ("delete", "replace"):
            shown.append(("del", original[a0:a1]))
        if op["op"] in ("insert", "replace"):
            shown.append(("ins", corrected[b0:b1]))
        a_at, b_at = a1, b1
    return _joined(shown + _gap(original[a_at:], corrected[b_at:]))


def _joined(shown: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Neighbouring segments of one kind as one: a deleted word and the space after it read
    as one deletion."""
    joined: list[tuple[str, str]] = []
    for tag, text in shown:
        if joined and joined[-1][0] == tag:
            joined[-1] = (tag, joined[-1][1] + text)
        else:
            joined.append((tag, text))
    return joined


def _same_words(before: str, after: str) -> list[tuple[str, str]]:
    """A run of the same words, whose spaces may still differ between the versions."""
    if before == after:
        return [("same", after)]
    shown: list[tuple[str, str]] = []
    a_at = b_at = 0
    for a_word, b_word in zip(WORD.finditer(before), WORD.finditer(after), strict=True):
        shown += _gap(before[a_at : a_word.start()], after[b_at : b_word.start()])
        shown.append(("same", b_word.group()))
        a_at, b_at = a_word.end(), b_word.end()
    return shown


def _gap(before: str, after: str) -> list[tuple[str, str]]:
    """The spaces between two words as they were and as they are: what both start with is
    the same, the rest of each was taken out or put in."""
    common = len(os.path.commonprefix([before, after]))
    parts = [("same", before[:common]), ("del", before[common:]), ("ins", after[common:])]
    return [(tag, text) for tag, text in parts if text]
