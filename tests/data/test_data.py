import json

import pytest

from smolmoe.data.records import (IGNORE_INDEX, StepBatches, encode_chat, load_records,
                          mixed_examples, normalize_record)
from smolmoe.core.errors import DataError


def test_instruction_format_becomes_chat():
    r = normalize_record({"instruction": "Add", "input": "2 and 3", "output": "5", "domain": "m"}, "x")
    assert r["messages"] == [{"role": "user", "content": "Add\n\n2 and 3"},
                             {"role": "assistant", "content": "5"}]
    assert r["domain"] == "m" and "instruction" not in r


@pytest.mark.parametrize("content, message", [
    (b'{"messages": [}\n', "jsonl:2: not valid JSON"),
    (b'\xff\xfe{}\n', "not valid UTF-8"),
    (b'', "no records"),
    (b'{"text": "hello"}\n', "needs 'messages' or 'instruction'+'output'"),
    (b'{"messages": [{"role": "user", "content": "hi"}]}\n', "no assistant message"),
    (b'{"messages": [{"role": "robot", "content": "hi"}]}\n', "needs a role"),
    (b'[1, 2]\n', "expected a JSON object"),
])
def test_bad_jsonl_names_the_problem(tmp_path, content, message):
    f = tmp_path / "bad.jsonl"
    f.write_bytes(b'{"instruction": "a", "output": "b"}\n' + content if content else content)
    with pytest.raises(DataError) as e:
        load_records(f)
    assert message in str(e.value) and str(f) in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_records(tmp_path / "nope.jsonl")


def test_labels_cover_exactly_the_assistant_replies(tiny_tokenizer):
    msgs = [{"role": "user", "content": "add two numbers"},
            {"role": "assistant", "content": "the answer is 5"},
            {"role": "user", "content": "and the sum of three"},
            {"role": "assistant", "content": "hello world"}]
    enc = encode_chat(tiny_tokenizer, msgs, max_len=512)
    ids, labels = enc["input_ids"], enc["labels"]
    assert len(ids) == len(labels)
    # Contiguous runs of labelled tokens decode to each reply plus its end-of-turn marker.
    runs, cur = [], []
    for t, lab in zip(ids, labels):
        if lab != IGNORE_INDEX:
            assert lab == t
            cur.append(t)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    decoded = [tiny_tokenizer.decode(r) for r in runs]
    assert decoded == ["the answer is 5<|im_end|>", "hello world<|im_end|>"]
    # The user turns and the role headers carry no loss.
    text = tiny_tokenizer.decode([t for t, lab in zip(ids, labels) if lab == IGNORE_INDEX])
    assert "add two numbers" in text and "<|im_start|>assistant" in text


def test_truncation_without_assistant_tokens_is_dropped(tiny_tokenizer):
    msgs = [{"role": "user", "content": "alpha " * 50}, {"role": "assistant", "content": "beta"}]
    assert encode_chat(tiny_tokenizer, msgs, max_len=16) is None
    assert encode_chat(tiny_tokenizer, msgs, max_len=512) is not None


def test_step_batches_are_a_function_of_step_and_shard_across_ranks():
    examples = [{"input_ids": [i, i], "labels": [i, i]} for i in range(10)]
    one = StepBatches(examples, batch_size=4, pad_id=0, seed=3)
    again = StepBatches(examples, batch_size=4, pad_id=0, seed=3)
    assert [one.indices(s) for s in range(6)] == [again.indices(s) for s in range(6)]
    # An epoch covers every example once.
    first_epoch = [i for s in range(5) for i in one.indices(s, world=1)][:10]
    assert sorted(first_epoch) == list(range(10))
    # Two ranks with half the batch each see the same global batch as one process.
    half = StepBatches(examples, batch_size=2, pad_id=0, seed=3)
    for s in range(4):
        r0, r1 = half.indices(s, rank=0, world=2), half.indices(s, rank=1, world=2)
        assert r0 + r1 == one.indices(s)
    assert StepBatches(examples, 4, 0, seed=4).indices(0) != one.indices(0)


def test_mixed_examples_balance_domains():
    per = {"a": [{"x": i} for i in range(10)], "b": [{"x": i} for i in range(3)]}
    mixed = mixed_examples(per, seed=0)
    assert len(mixed) == 6
    assert sum(e["domain"] == "a" for e in mixed) == 3


def test_split_path_knows_the_foreign_split_and_refuses_others(tmp_path):
    from smolmoe.data.records import split_path
    assert split_path(tmp_path, "coder", "foreign") == tmp_path / "coder" / "foreign.jsonl"
    with pytest.raises(DataError, match="unknown split 'bogus'.*foreign"):
        split_path(tmp_path, "coder", "bogus")
