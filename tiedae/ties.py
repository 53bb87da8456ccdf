"""Which layer pairs a model ties: a choice in words or a mask, one 0 or 1 per layer pair from the pixels inwards.

For 784-400-20 (two layer pairs, 784<->400 and 400<->20) the mask "01" ties only the inner pair: the model of
the material our users learn from. "all" is the fully tied model, "none" its untied twin. Torch-free: the page,
argparse and the Recipe check a choice before any model is built.
"""

from __future__ import annotations

TIE_WORDS = ("all", "none", "inner", "outer")  # besides a mask
TIE_HELP = "all, none, inner (the pair next to the code), outer (the pair next to the pixels), or a 0/1 mask per layer pair from the pixels inwards"


def tie_mask(tie: str, pairs: int) -> str:
    """The mask a tie choice gives a model of `pairs` layer pairs: tie_mask("inner", 2) == "01". A ValueError names
    the choice and what it could be."""
    tie = str(tie).strip().lower()
    if tie == "all":
        return "1" * pairs
    if tie == "none":
        return "0" * pairs
    if tie == "inner":
        return "0" * (pairs - 1) + "1"
    if tie == "outer":
        return "1" + "0" * (pairs - 1)
    if tie and set(tie) <= {"0", "1"}:
        if len(tie) != pairs:
            raise ValueError(f"tie mask {tie!r} has {len(tie)} digits, but this model has {pairs} layer pairs (one 0 or 1 each)")
        return tie
    raise ValueError(f"tie must be {', '.join(TIE_WORDS)} or a mask of {pairs} zeros and ones, got {tie!r}")


def describe_tie(mask: str) -> str:
    """A mask in words, as the page and the cards say it: 'the inner layer pair only'."""
    pairs, tied = len(mask), [i for i, bit in enumerate(mask) if bit == "1"]
    if len(tied) == pairs:
        return "every layer pair" if pairs > 1 else "its one layer pair"
    if not tied:
        return "no layer pair"
    if pairs == 2:
        return "the inner layer pair only" if tied == [1] else "the outer layer pair only"
    numbers = ", ".join(str(i + 1) for i in tied)
    return f"layer pair{'s' if len(tied) > 1 else ''} {numbers} of {pairs}, counted from the pixels inwards"


def partly_tied(mask: str | None) -> bool:
    """Whether a mask ties some layer pairs but not all ('01'); False for all, none, or no mask."""
    return bool(mask) and "0" in mask and "1" in mask


def repo_suffix(mask: str | None) -> str:
    """The Hub repo prefix's ending for a partly tied pair ('-tie01'): its repos never overwrite the fully tied pair's."""
    return f"-tie{mask}" if partly_tied(mask) else ""
