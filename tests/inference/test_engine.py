"""The one decoding engine: continuous batching gives each request what it gets alone."""
from __future__ import annotations

import pytest

from smolmoe.inference.engine import Engine
from smolmoe.core.errors import ModelError
from smolmoe.inference.generate import ChatModel, GenerationSettings

from helpers.tiny_models import make_llama, make_tokenizer

PROMPTS = ["add 3 plus 4", "write a story of the dragon and the castle of alpha beta gamma",
           "hello", "sql select from table where value is the answer of two numbers", "sum"]


def _alone(chat: ChatModel, prompt: list[int], settings: GenerationSettings, routing=False):
    engine = chat.engine(slots=1)
    seq = engine.add(prompt, settings, routing=routing)
    engine.run()
    return seq


def _staggered(chat: ChatModel, requests, slots: int, routing=False):
    """Requests join one per step while the earlier ones decode."""
    engine, seqs, widths = chat.engine(slots), [], []
    for prompt, settings in requests:
        seqs.append(engine.add(prompt, settings, routing=routing))
        engine.step()
        widths.append(len(engine.running))
    engine.run()
    return seqs, widths


@pytest.mark.parametrize("which", ["dense", "moe"])
def test_each_request_joining_a_running_batch_gets_its_reply_alone(which, tiny_dir, tiny_moe):
    chat = ChatModel.load(tiny_dir if which == "dense" else tiny_moe)
    greedy = [GenerationSettings(max_new_tokens=n) for n in (12, 5, 9, 12, 3)]
    requests = [(chat.encode([{"role": "user", "content": p}]), s) for p, s in zip(PROMPTS, greedy)]
    # A sampled request in the same batch must not change anyone's greedy reply.
    requests.insert(2, (requests[0][0], GenerationSettings(max_new_tokens=12, temperature=1.0,
                                                           seed=3)))
    seqs, widths = _staggered(chat, requests, slots=4, routing=chat.is_moe)
    assert max(widths) > 1                     # they really decoded together
    for (prompt, settings), seq in zip(requests, seqs):
        alone = _alone(chat, prompt, settings, routing=chat.is_moe)
        assert seq.tokens == alone.tokens and seq.finish == alone.finish
        assert len(seq.tokens) <= settings.max_new_tokens
        if chat.is_moe:
            assert seq.experts == alone.experts and len(seq.experts) == len(seq.tokens)


def test_slots_bound_the_batch_and_the_rest_wait(tiny_dir):
    chat = ChatModel.load(tiny_dir)
    engine = chat.engine(slots=2)
    seqs = [engine.add(chat.encode([{"role": "user", "content": p}]),
                       GenerationSettings(max_new_tokens=4)) for p in PROMPTS]
    peak = 0
    while engine.busy:
        engine.step()
        peak = max(peak, len(engine.running))
    assert peak == 2 and all(s.finish in ("stop", "length") for s in seqs)


def test_a_cancelled_sequence_leaves_at_the_next_step(tiny_dir):
    chat = ChatModel.load(tiny_dir)
    prompt = chat.encode([{"role": "user", "content": "write a story"}])
    gone = []
    engine = chat.engine(slots=4)
    left = engine.add(prompt, GenerationSettings(max_new_tokens=30), cancelled=lambda: bool(gone))
    stays = engine.add(chat.encode([{"role": "user", "content": "hello"}]),
                       GenerationSettings(max_new_tokens=10))
    engine.step()
    engine.step()
    assert len(engine.running) == 2
    gone.append(1)
    events = engine.step()
    assert (left, None) in events and left.finish == "cancelled"
    assert engine.running == [stays] and engine.mask.shape[0] == 1
    engine.run()
    assert stays.tokens == _alone(chat, stays.prompt, stays.settings).tokens


def test_seeded_sampling_is_the_same_in_a_batch_and_alone(tiny_dir):
    chat = ChatModel.load(tiny_dir)
    settings = GenerationSettings(max_new_tokens=10, temperature=1.2, top_k=20, top_p=0.9,
                                  repetition_penalty=1.2, seed=11)
    prompt = chat.encode([{"role": "user", "content": "add 3 plus 4"}])
    other = (chat.encode([{"role": "user", "content": "hello"}]), GenerationSettings(max_new_tokens=10))
    seqs, _ = _staggered(chat, [other, (prompt, settings)], slots=2)
    assert seqs[1].tokens == _alone(chat, prompt, settings).tokens


@pytest.fixture(scope="module")
def thinker(tmp_path_factory):
    """A tiny model whose tokenizer has <think>/</think>; untrained, it never closes a thought."""
    path = tmp_path_factory.mktemp("thinker")
    tok = make_tokenizer(path)
    tok.add_tokens(["<think>", "</think>"], special_tokens=True)
    make_llama(path, tok, vocab=len(tok))
    chat = ChatModel.load(path)
    import torch
    close = chat.think_ids[1]
    with torch.no_grad():
        chat.model.lm_head.weight[close] = 0   # logit 0: never the largest of 400
    return chat


def test_thinking_budget_holds_in_a_batch_and_matches_alone(thinker):
    open_id, close = thinker.think_ids
    requests = [(thinker.encode([{"role": "user", "content": p}], think=True),
                 GenerationSettings(max_new_tokens=budget + 6, think=True, thinking_budget=budget))
                for p, budget in zip(PROMPTS, (0, 3, 5, 2, 4))]
    seqs, _ = _staggered(thinker, requests, slots=3)
    for (prompt, settings), seq in zip(requests, seqs):
        assert close in seq.tokens
        thought = [t for t in seq.tokens[:seq.tokens.index(close)] if t != open_id]
        assert len(thought) == settings.thinking_budget      # forced exactly at the budget
        after = seq.tokens[seq.tokens.index(close) + 1:]
        assert open_id not in after                           # one thought per turn
        assert seq.tokens == _alone(thinker, prompt, settings).tokens


def test_a_prompt_that_fills_the_context_is_refused(tiny_dir):
    chat = ChatModel.load(tiny_dir)
    engine = chat.engine(slots=1)
    with pytest.raises(ModelError, match="no room"):
        engine.add([1] * chat.context_length, GenerationSettings())
    with pytest.raises(ModelError, match="slot"):
        Engine(chat.model, chat.rules, slots=0)


def test_inspect_generate_reports_the_routing_chat_streams(tiny_moe):
    from smolmoe.evaluation.inspect_routing import inspect_prompt
    chat = ChatModel.load(tiny_moe)
    reply = chat.reply([{"role": "user", "content": "add 3 plus 4"}],
                       GenerationSettings(max_new_tokens=6))
    report = inspect_prompt(tiny_moe, "add 3 plus 4", generate=6, layer=1,
                            model=chat.model, tokenizer=chat.tokenizer)
    assert report["answer"] == reply.text
    names = report["experts"]
    assert [e for _, e in report["answer_view"]["tokens"]] == [names[e[1]] for e in reply.experts]


def test_dtype_bf16_where_supported_and_one_line_where_not(tiny_dir, monkeypatch):
    import torch
    from click.testing import CliRunner
    from smolmoe.core import precision
    from smolmoe.cli.main import main
    from smolmoe.core.errors import ConfigError
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: True)
    chat = ChatModel.load(tiny_dir, dtype="bf16")
    assert {p.dtype for p in chat.model.parameters()} == {torch.bfloat16}
    assert chat.reply([{"role": "user", "content": "hi"}],
                      GenerationSettings(max_new_tokens=3)).finish_reason in ("stop", "length")
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert precision.generation_dtype("auto") == torch.float32
    with pytest.raises(ConfigError, match="bf16 is not supported here"):
        precision.generation_dtype("bf16")
    r = CliRunner().invoke(main, ["chat", str(tiny_dir), "--dtype", "bf16"], input="hi\n")
    assert r.exit_code == 1 and "bf16 is not supported" in r.output
    assert r.output.strip().count("\n") == 0
