"""Expert colours shared by the terminal chat, `inspect` and the web page.

Okabe & Ito's eight colours (2008), chosen to stay distinguishable under the common forms of
colour blindness; black is swapped for a mid grey so that it also works as a translucent
background behind text. A model with more experts reuses them in order.
"""
from __future__ import annotations

EXPERT_COLOURS = ["#E69F00", "#56B4E9", "#009E73", "#F0E442",
                  "#0072B2", "#D55E00", "#CC79A7", "#999999"]
ANSI_RESET = "\033[0m"


def expert_colour(i: int) -> str:
    return EXPERT_COLOURS[i % len(EXPERT_COLOURS)]


def ansi_colour(i: int) -> str:
    """A 24-bit ANSI foreground escape for expert i (terminals without it show plain text)."""
    h = expert_colour(i).lstrip("#")
    r, g, b = (int(h[k:k + 2], 16) for k in (0, 2, 4))
    return f"\033[38;2;{r};{g};{b}m"
