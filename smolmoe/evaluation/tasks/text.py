"""Free text (writer, summarizer, actor): ROUGE-L F against the reference with Google's
`rouge-score`, and whether a reply is empty or degenerate. Rules in docs/eval.md."""
from __future__ import annotations

import functools
import re

LOOP_MAX_N = 12       # longest repeated word n-gram looked for
LOOP_COPIES = 3       # back-to-back copies that make a loop ...
LOOP_MIN_WORDS = 8    # ... when they cover at least this many words
DISTINCT_MIN_WORDS = 20
DISTINCT_TRIGRAMS = 0.3  # a long reply with fewer distinct word 3-grams than this is looping


@functools.lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(reference: str, reply: str) -> float:
    """ROUGE-L F-measure (longest common subsequence of stemmed words), 0 for an empty reply."""
    if not reply.strip():
        return 0.0
    return float(_scorer().score(reference, reply)["rougeL"].fmeasure)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text.lower())


def has_loop(words: list[str]) -> bool:
    """Some n-gram (n <= LOOP_MAX_N) repeats LOOP_COPIES times back to back over at least
    LOOP_MIN_WORDS words."""
    for n in range(1, LOOP_MAX_N + 1):
        copies_needed = max(LOOP_COPIES, -(-LOOP_MIN_WORDS // n))
        for start in range(0, len(words) - n * copies_needed + 1):
            gram = words[start:start + n]
            if all(words[start + k * n:start + (k + 1) * n] == gram for k in range(1, copies_needed)):
                return True
    return False


def is_degenerate(reply: str) -> bool:
    """Empty, a back-to-back loop, or a long reply made of few distinct word 3-grams."""
    words = _words(reply)
    if not words:
        return True
    if has_loop(words):
        return True
    if len(words) >= DISTINCT_MIN_WORDS:
        trigrams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
        return len(set(trigrams)) / len(trigrams) < DISTINCT_TRIGRAMS
    return False
