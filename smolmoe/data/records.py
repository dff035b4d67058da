"""Reading and validating JSONL, chat formatting, assistant-only labels, batching.

`encode_chat` is THE function that decides which tokens carry loss: every stage (expert
fine-tuning, router training, evaluation, SFT) calls it, so they all agree.
"""
from __future__ import annotations

import contextlib
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import torch

from ..core.errors import DataError
from ..core.settings import check_name

IGNORE_INDEX = -100
ROLES = ("system", "user", "assistant")

# Used only for tokenizers that ship no chat template (e.g. tiny test tokenizers): ChatML.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}")


def check_messages(messages, where: str | None = None) -> list[dict]:
    """The one check of a conversation, for records, prompts and chat requests alike: a
    non-empty list of {role, content} with a known role and string content. Returns the
    messages as plain {role, content} dicts; `where` (a file:line) starts each error."""
    at = f"{where}: " if where else ""
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{at}'messages' must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise DataError(f"{at}message {i} needs a role in {'/'.join(ROLES)}")
        if not isinstance(m.get("content"), str):
            raise DataError(f"{at}message {i} needs a string 'content'")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def normalize_record(obj, where: str) -> dict:
    """Accept the chat format or the {"instruction", "input"?, "output"} format; return chat."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if "messages" in obj:
        messages = obj["messages"]
        check_messages(messages, where)
        if not any(m["role"] == "assistant" for m in messages):
            raise DataError(f"{where}: no assistant message to learn from")
        record = dict(obj)
    elif "instruction" in obj and "output" in obj:
        if not all(isinstance(obj.get(k, ""), str) for k in ("instruction", "input", "output")):
            raise DataError(f"{where}: instruction/input/output must be strings")
        user = obj["instruction"] + (f"\n\n{obj['input']}" if obj.get("input") else "")
        record = {k: v for k, v in obj.items() if k not in ("instruction", "input", "output")}
        record["messages"] = [{"role": "user", "content": user},
                              {"role": "assistant", "content": obj["output"]}]
    else:
        raise DataError(f"{where}: record needs 'messages' or 'instruction'+'output' "
                        f"(has {', '.join(sorted(obj)) or 'no keys'})")
    return record


def iter_jsonl(path: str | Path) -> Iterator[tuple[str, object]]:
    """(where, object) for each non-blank line of a JSONL file, where = "path:line"; a missing
    file, bad UTF-8 or bad JSON is a DataError naming file and line."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    if not path.is_file():   # a directory, FIFO or device: reading it could block or never end
        raise DataError(f"{path} is not a regular file")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise DataError(f"{where}: not valid UTF-8") from None
            if not line:
                continue
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as e:
                reason = e.msg if isinstance(e, json.JSONDecodeError) else "nested too deeply"
                raise DataError(f"{where}: not valid JSON ({reason})") from None
            if "\\u" in line:   # escapes may spell lone surrogates, which are not text
                _check_unicode(obj, where)
            yield where, obj


def _check_unicode(obj, where: str) -> None:
    for value in (obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list)
                  else [obj]):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise DataError(f"{where}: a string is not valid Unicode (a lone surrogate "
                                f"escape such as \\ud800)") from None
        elif isinstance(value, (dict, list)):
            _check_unicode(value, where)


def load_records(path: str | Path, limit: int | None = None) -> list[dict]:
    """Read a JSONL file of records, failing with one line that names file and line."""
    records = []
    for where, obj in iter_jsonl(path):
        records.append(normalize_record(obj, where))
        if limit is not None and len(records) >= limit:
            break
    if not records:
        raise DataError(f"{path}: no records (empty file)")
    return records


# "foreign": one whole source per domain held out of train/val/test (a recipe's FOREIGN, data/recipes/).
SPLITS = ("train", "val", "test", "foreign")


def split_path(data_dir: str | Path, domain: str, split: str) -> Path:
    if split not in SPLITS:
        raise DataError(f"unknown split '{split}' (known: {', '.join(SPLITS)})")
    check_name(domain, "domain")   # from a manifest, a CLI or smolmoe.json: never a path
    return Path(data_dir) / domain / f"{split}.jsonl"


def data_domains(data_dir: str | Path) -> list[str]:
    """The domains of a data directory: its manifest's, or every subdir with a test split."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"data directory not found: {data_dir} (run `smolmoe data build`)")
    manifest = data_dir / "manifest.json"
    if manifest.is_file():
        try:
            return list(json.loads(manifest.read_text())["domains"])
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            raise DataError(f"{manifest} is not a smolmoe data manifest") from None
    found = sorted(p.name for p in data_dir.iterdir() if (p / "test.jsonl").is_file())
    if not found:
        raise DataError(f"no domains with test.jsonl in {data_dir}")
    return found


def ensure_template(tokenizer):
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


# A chat template comes with the model: it is outside code, run in jinja's sandbox. One that
# loops (almost) forever is stopped after this long; one that fails is reported in one line.
TEMPLATE_SECONDS = 5.0


class _TooSlow(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise _TooSlow in this thread's Python code (a jinja template is compiled Python) once
    `seconds` have passed: a trace function checks the clock at each function call."""
    end, previous = time.monotonic() + seconds, sys.gettrace()

    def tracer(_frame, _event, _arg):
        if time.monotonic() > end:
            raise _TooSlow
        return None    # no per-line tracing: calls are enough and cheap

    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


def render_chat(tokenizer, messages, add_generation_prompt: bool = False, **extra) -> str:
    """The conversation rendered with the tokenizer's chat template, time-limited, its
    failures one line (DataError)."""
    try:
        with time_limit(TEMPLATE_SECONDS):
            return tokenizer.apply_chat_template(messages, tokenize=False,
                                                 add_generation_prompt=add_generation_prompt,
                                                 **extra)
    except _TooSlow:
        raise DataError(f"the chat template did not finish within {TEMPLATE_SECONDS:g} s") from None
    except (DataError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as e:   # jinja2.TemplateError, or whatever the template's code raised
        message = str(e).splitlines()[0][:200] if str(e) else ""
        raise DataError(f"the chat template failed: {type(e).__name__}: {message}") from None


def _render(tokenizer, messages, add_generation_prompt=False) -> str:
    return render_chat(tokenizer, messages, add_generation_prompt)


def assistant_spans(tokenizer, messages: Sequence[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of each assistant reply.

    A span runs from the reply's first character through its end-of-turn marker, found by
    rendering prefixes of the conversation, so it holds for any prefix-stable template.
    """
    ensure_template(tokenizer)
    text = _render(tokenizer, messages)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        start = len(_render(tokenizer, messages[:i], add_generation_prompt=True))
        end = len(_render(tokenizer, messages[: i + 1]).rstrip())
        if not text.startswith(_render(tokenizer, messages[: i + 1])):
            raise DataError("the chat template is not prefix-stable; cannot find assistant turns")
        spans.append((start, end))
    return text, spans


def encode_chat(tokenizer, messages: Sequence[dict], max_len: int) -> dict | None:
    """input_ids and labels for one conversation: labels are -100 except assistant tokens.

    Returns None when truncation to max_len leaves no assistant token to learn from.
    """
    text, spans = assistant_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"][:max_len], enc["offset_mapping"][:max_len]
    labels = [IGNORE_INDEX] * len(ids)
    for t, (a, b) in enumerate(offsets):
        if b > a and any(s <= a < e for s, e in spans):
            labels[t] = ids[t]
    if all(x == IGNORE_INDEX for x in labels):
        return None
    return {"input_ids": ids, "labels": labels}


def encode_records(tokenizer, records: Iterable[dict], max_len: int) -> list[dict]:
    encoded = [encode_chat(tokenizer, r["messages"], max_len) for r in records]
    return [e for e in encoded if e is not None]


def collate(examples: Sequence[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of encoded examples into a batch."""
    n = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), n), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), n), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), n), dtype=torch.long)
    for i, e in enumerate(examples):
        k = len(e["input_ids"])
        ids[i, :k] = torch.tensor(e["input_ids"])
        labels[i, :k] = torch.tensor(e["labels"])
        mask[i, :k] = 1
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    if all("route" in e for e in examples):  # the expert each example should go to
        batch["route"] = torch.tensor([e["route"] for e in examples])
    return batch


@dataclass
class StepBatches:
    """Batch i is a pure function of (seed, i): resuming at step i needs no data-loader state.

    Examples are drawn from a seeded permutation per epoch; with several processes each rank
    takes its own slice of the global batch.
    """
    examples: list[dict]
    batch_size: int
    pad_id: int
    seed: int = 0

    def __post_init__(self):
        if not self.examples:
            raise DataError("no training examples left after encoding (all too long or empty?)")

    def indices(self, step: int, micro: int = 0, grad_accum: int = 1,
                rank: int = 0, world: int = 1) -> list[int]:
        n = len(self.examples)
        global_bs = self.batch_size * world
        start = ((step * grad_accum + micro) * global_bs) + rank * self.batch_size
        out = []
        for pos in range(start, start + self.batch_size):
            epoch, k = divmod(pos, n)
            out.append(self._permutation(epoch)[k])
        return out

    def _permutation(self, epoch: int) -> list[int]:
        cache = self.__dict__.setdefault("_perms", {})
        if epoch not in cache:
            perm = list(range(len(self.examples)))
            random.Random(self.seed * 1_000_003 + epoch).shuffle(perm)
            cache.clear()  # only the current epoch is ever needed again
            cache[epoch] = perm
        return cache[epoch]

    def batch(self, step: int, micro: int = 0, grad_accum: int = 1,
              rank: int = 0, world: int = 1) -> dict[str, torch.Tensor]:
        idx = self.indices(step, micro, grad_accum, rank, world)
        return collate([self.examples[i] for i in idx], self.pad_id)


def mixed_examples(per_domain: dict[str, list[dict]], seed: int = 0,
                   per_domain_limit: int | None = None) -> list[dict]:
    """Interleave domains evenly (each capped to the same count) for router training."""
    rng = random.Random(seed)
    cap = min(len(v) for v in per_domain.values())
    if per_domain_limit:
        cap = min(cap, per_domain_limit)
    out = []
    for domain, exs in per_domain.items():
        chosen = rng.sample(range(len(exs)), cap)
        out += [{**exs[i], "domain": domain} for i in chosen]
    rng.shuffle(out)
    return out
