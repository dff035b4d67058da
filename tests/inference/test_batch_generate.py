"""The engine's batch entry point gives exactly the replies of one-at-a-time greedy decoding."""
from __future__ import annotations

from smolmoe.inference.generate import ChatModel, GenerationSettings


PROMPTS = ["add 3 plus 4", "write a story of the dragon and the castle of alpha beta gamma",
           "hello", "sql select from table where value is the answer of two numbers", "sum"]


def _one_by_one(chat: ChatModel, n: int) -> list[str]:
    settings = GenerationSettings(max_new_tokens=n)
    return [chat.reply([{"role": "user", "content": p}], settings).text for p in PROMPTS]


def _batched(chat: ChatModel, n: int, batch_size: int):
    return chat.reply_batch([[{"role": "user", "content": p}] for p in PROMPTS], n, batch_size)


def test_batched_greedy_equals_one_at_a_time(tiny_dir):
    chat = ChatModel.load(tiny_dir)
    alone = _one_by_one(chat, 12)
    # Prompts of different lengths: rows are left-padded; a batch of 2 also leaves a row alone.
    for batch_size in (2, 8):
        replies = _batched(chat, 12, batch_size)
        assert [r.text for r in replies] == alone
    assert all(r.completion_tokens <= 12 for r in replies)
    assert len({len(t) for t in alone}) > 1 or any(r.finish_reason == "length" for r in replies)


def test_batched_moe_forced_expert_equals_one_at_a_time(tiny_moe):
    from smolmoe.moe.hooks import force_expert
    chat = ChatModel.load(tiny_moe)
    with force_expert(chat.model, 1):
        alone = _one_by_one(chat, 10)
        batched = [r.text for r in _batched(chat, 10, 4)]
    assert batched == alone
    assert [r.text for r in _batched(chat, 10, 4)] == _one_by_one(chat, 10)


def test_rows_that_end_early_leave_the_batch(tiny_dir):
    # An end-of-turn as the first token ends that row with "stop" and no text, while others go on.
    chat = ChatModel.load(tiny_dir)
    replies = _batched(chat, 6, 8)
    for r in replies:
        assert r.finish_reason in ("stop", "length")
        assert (r.finish_reason == "length") == (r.completion_tokens == 6)


def test_per_conversation_limits_match_one_at_a_time(tiny_dir):
    chat = ChatModel.load(tiny_dir)
    limits = [3, 9, 1, 6, 4]
    alone = [chat.reply([{"role": "user", "content": p}], GenerationSettings(max_new_tokens=n)).text
             for p, n in zip(PROMPTS, limits)]
    replies = chat.reply_batch([[{"role": "user", "content": p}] for p in PROMPTS], limits, 8)
    assert [r.text for r in replies] == alone
    assert all(r.completion_tokens <= n for r, n in zip(replies, limits))


def test_bad_limits_are_one_clear_error(tiny_dir):
    import pytest
    from smolmoe.core.errors import ConfigError
    chat = ChatModel.load(tiny_dir)
    with pytest.raises(ConfigError):
        chat.reply_batch([[{"role": "user", "content": "hi"}]], [4, 5])
    with pytest.raises(ConfigError):
        chat.reply_batch([[{"role": "user", "content": "hi"}]], 0)
