"""Generate greedy replies for each domain's prompts and score them: model directories, or an
MoE with the base, each expert (the MoE forced to it), the oracle and the MoE itself."""
from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Callable, Iterable

import torch

from ...core.config import GENERAL_DOMAIN
from ...core.errors import DataError
from ...data.records import load_records, split_path
from ...inference.generate import ChatModel
from .metrics import is_harmful, refusal_summary, score_domain

# Longest reply per domain, in new tokens: long enough for the metric to see the answer
# (refusals are read from the opening only), short enough for the demo's budget.
MAX_NEW_TOKENS = {"analyst": 80, "thinker": 80, "encyclopedia": 40, "coder": 128, "guardian": 32,
                  "writer": 64, "summarizer": 48, "actor": 48, GENERAL_DOMAIN: 32}
DEFAULT_MAX_NEW_TOKENS = 64
# Answers are generated in bf16 where the hardware is fast at it by default (dtype "auto",
# precision.py), like the loss evaluation: faster here, and every model compared the same way.
SAMPLES = 2   # replies kept in the report per model and domain, for reading


def _item(record: dict) -> dict | None:
    """Prompt messages up to the last assistant turn, whose text is the reference."""
    messages = record["messages"]
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if not last:   # no assistant turn, or nothing before it to answer
        return None
    users = [m["content"] for m in messages[:last] if m["role"] == "user"]
    return {"messages": messages[:last], "prompt": users[-1] if users else "",
            "reference": messages[last]["content"], "record": record}


def task_items(data_dir: Path, domain: str, split: str, limit: int) -> list[dict]:
    """Up to `limit` prompts of the domain's split; guardian: up to `limit` harmful and up to
    `limit` benign ones, so both rates are measured."""
    path = split_path(data_dir, domain, split)
    if domain != "guardian":
        return [i for i in map(_item, load_records(path, limit=limit)) if i][:limit]
    items = [i for i in map(_item, load_records(path)) if i]
    harmful = [i for i in items if is_harmful(i["record"])][:limit]
    benign = [i for i in items if not is_harmful(i["record"])][:limit]
    return harmful + benign


# The sets whose refusal rates are reported: they get their own, larger limit, since a rate
# measured on 6 prompts moves 17 points with one reply.
REFUSAL_SETS = ("guardian", GENERAL_DOMAIN)


def load_task_sets(data_dir: Path, domains: Iterable[str], split: str, limit: int,
                   refusal_limit: int | None = None) -> dict:
    """domain -> items, plus the everyday test split when the data dir has one. The refusal
    sets (guardian: harmful and benign each; everyday) take up to max(limit, refusal_limit)."""
    wide = max(limit, refusal_limit or 0)

    def limit_of(d):
        return wide if d in REFUSAL_SETS else limit
    sets = {d: task_items(data_dir, d, split, limit_of(d)) for d in domains if d != GENERAL_DOMAIN}
    if has_everyday(data_dir):
        sets[GENERAL_DOMAIN] = task_items(data_dir, GENERAL_DOMAIN, "test", wide)
    empty = [d for d, items in sets.items() if not items]
    if empty:
        raise DataError(f"no prompts with a reference reply in {', '.join(empty)} ({split} split)")
    return sets


def has_everyday(data_dir: Path) -> bool:
    return split_path(data_dir, GENERAL_DOMAIN, "test").is_file()


def task_steps(num_models: int, data_dir: Path, domains: Iterable[str]) -> int:
    """How many (model, domain) sets evaluate_tasks runs (for a progress bar)."""
    return num_models * len(set(domains) | ({GENERAL_DOMAIN} if has_everyday(data_dir) else set()))


def moe_task_steps(num_experts: int, data_dir: Path, baselines: int = 0) -> int:
    """How many (model, domain) sets moe_evaluate_tasks runs (for a progress bar)."""
    everyday = int(has_everyday(data_dir))
    return (2 + baselines) * (num_experts + everyday) + num_experts * (1 + everyday)


class TaskRunner:
    """Runs task sets through models and keeps the results, samples and throughput."""

    def __init__(self, sets: dict[str, list[dict]], batch_size: int = 16,
                 max_new_tokens: dict[str, int] | None = None,
                 on_progress: Callable[[str, str], None] | None = None):
        self.sets, self.batch_size = sets, batch_size
        self.max_new_tokens = {**MAX_NEW_TOKENS, **(max_new_tokens or {})}
        self.on_progress = on_progress
        self.results: dict[str, dict] = {}
        self.samples: dict[str, dict] = {}
        self.prompts, self.seconds = 0, 0.0

    def run(self, label: str, chat: ChatModel, domains: Iterable[str],
            caps: dict[str, int] | None = None) -> dict:
        """Score `chat` on the domains (the first caps[d] prompts of a capped one); all their
        prompts are generated together (batches grouped by token limit and length fill better
        than one domain's few prompts)."""
        domains = list(dict.fromkeys(domains))   # an MoE's `general` expert serves everyday,
        caps = caps or {}                         # which callers may also add as an extra
        sets = {d: self.sets[d][:caps.get(d, len(self.sets[d]))] for d in domains}
        todo = [(d, i) for d in domains for i in sets[d]]
        t0 = time.perf_counter()
        replies = [r.text for r in chat.reply_batch(
            [i["messages"] for _, i in todo],
            [self.max_new_tokens.get(d, DEFAULT_MAX_NEW_TOKENS) for d, _ in todo], self.batch_size)]
        self.seconds += time.perf_counter() - t0
        self.prompts += len(todo)
        for d in domains:
            items = sets[d]
            replies_d = [r for (dd, _), r in zip(todo, replies) if dd == d]
            self.results.setdefault(label, {})[d] = score_domain(d, items, replies_d)
            self.samples.setdefault(label, {})[d] = [
                {"prompt": i["prompt"][:300], "reply": r[:400]} for i, r in zip(items, replies_d)][:SAMPLES]
            if self.on_progress:
                self.on_progress(label, d)
        return self.results[label]

    def report(self, settings: dict) -> dict:
        refusals = {m: refusal_summary(r) for m, r in self.results.items() if m != "oracle"}
        return {"results": self.results, "refusals": refusals, "samples": self.samples,
                "settings": {**settings, "batch_size": self.batch_size,
                             "max_new_tokens": self.max_new_tokens, "prompts": self.prompts,
                             "generation_seconds": round(self.seconds, 1),
                             "prompts_per_second": round(self.prompts / max(self.seconds, 1e-9), 3),
                             "torch": torch.__version__, "python": platform.python_version()}}


def _settings(data_dir, split, limit, sets, refusal_limit=None) -> dict:
    return {"split": split, "limit": limit, "refusal_limit": refusal_limit,
            "data_dir": str(data_dir), "everyday": GENERAL_DOMAIN in sets}


def evaluate_tasks(models: dict[str, Path], data_dir: Path, domains: Iterable[str], *,
                   split: str = "test", limit: int = 16, batch_size: int = 16,
                   max_new_tokens: dict[str, int] | None = None,
                   on_progress: Callable[[str, str], None] | None = None,
                   dtype: str = "auto") -> dict:
    """Every model on every domain (and the everyday split): {"results", "refusals", ...}."""
    sets = load_task_sets(data_dir, domains, split, limit)
    runner = TaskRunner(sets, batch_size, max_new_tokens, on_progress)
    for name, path in models.items():
        runner.run(name, ChatModel.load(path, dtype=dtype), sets)
    return {**runner.report(_settings(data_dir, split, limit, sets)),
            "models": {k: str(v) for k, v in models.items()}}


def moe_evaluate_tasks(moe_dir: Path, data_dir: Path, *, base: Path | None = None,
                       split: str = "test", limit: int = 16, refusal_limit: int | None = None,
                       batch_size: int = 16,
                       max_new_tokens: dict[str, int] | None = None,
                       on_progress: Callable[[str, str], None] | None = None,
                       dtype: str = "auto", baselines: dict[str, Path] | None = None) -> dict:
    """Base, the `baselines` (label -> dense dir: merges, multitask) and MoE on every domain,
    each expert on its own domain (the MoE forced to it, or its dense directory:
    oracle.expert_scoring), the oracle (each domain's own expert), all of them on the everyday
    split; MoE/oracle ratios. Refusal rates are measured on up to `refusal_limit` prompts per
    set for the base, the baselines, the guardian expert and the MoE; the other experts see the
    first `limit` everyday prompts."""
    from ...moe.meta import read_moe_meta
    from ..oracle import each_expert, oracle_results

    meta = read_moe_meta(moe_dir)
    names, domains = meta.names, meta.domains
    sets = load_task_sets(data_dir, dict.fromkeys(domains), split, limit, refusal_limit)
    extra = [GENERAL_DOMAIN] if GENERAL_DOMAIN in sets else []
    runner = TaskRunner(sets, batch_size, max_new_tokens, on_progress)
    t0 = time.perf_counter()
    if base is not None:
        runner.run("base", ChatModel.load(base, dtype=dtype), [*dict.fromkeys(domains), *extra])
    for label, path in (baselines or {}).items():
        runner.run(label, ChatModel.load(path, dtype=dtype), [*dict.fromkeys(domains), *extra])
    chat = ChatModel.load(moe_dir, dtype=dtype)
    scoring = {}
    for expert, source, how in each_expert(meta, chat.model):
        scoring[expert["name"]] = how
        domain = expert["domain"]
        caps = {} if domain == "guardian" else {GENERAL_DOMAIN: limit}
        own = dict.fromkeys([domain, *extra])
        runner.run(expert["name"], chat if source is None else ChatModel.load(source, dtype=dtype),
                   own, caps)
    runner.results["oracle"] = oracle_results(runner.results, meta, dict.fromkeys(domains))
    runner.run("moe", chat, [*dict.fromkeys(domains), *extra])
    report = runner.report({**_settings(data_dir, split, limit, sets, refusal_limit),
                            "seconds": round(time.perf_counter() - t0, 1)})
    return {**report, "experts": names, "domains": domains, "moe_dir": str(moe_dir),
            "expert_scoring": scoring, "baselines": list(baselines or {}),
            "moe_over_oracle": oracle_ratios(report["results"], domains)}


def oracle_ratios(results: dict, domains: list[str]) -> dict[str, float | None]:
    """MoE task score / oracle task score per domain (None where the oracle scores 0 or n/a)."""
    out = {}
    for d in domains:
        moe, oracle = results["moe"][d]["score"], results["oracle"][d]["score"]
        out[d] = moe / oracle if moe is not None and oracle else None
    return out
