"""Routing read from the model's outputs names the same experts a forward hook on each router
saw (the way smolmoe captured it before): in a prefill, in each decode step, in inspect and in
the evaluation's routing matrix."""
from __future__ import annotations

import contextlib

import pytest
import torch

from smolmoe.inference.generate import ChatModel, GenerationSettings
from smolmoe.moe.hooks import moe_blocks
from smolmoe.core.modeldir import load_model
from smolmoe.moe.router_outputs import forward, last_position, routing_record


@contextlib.contextmanager
def router_hooks(model):
    """Every router's logits per forward call, as a hook on the router module records them."""
    calls: dict[int, list[torch.Tensor]] = {}

    def hook(layer):
        def fn(_module, _inputs, output):
            calls.setdefault(layer, []).append(output[0].detach().float())
        return fn
    handles = [b.gate.register_forward_hook(hook(i)) for i, b in enumerate(moe_blocks(model))]
    try:
        yield calls
    finally:
        for h in handles:
            h.remove()


@pytest.fixture(scope="module")
def chat(tiny_moe):
    return ChatModel.load(tiny_moe)


def test_prefill_router_logits_equal_what_the_router_returns(chat):
    ids = torch.tensor([[5, 9, 30, 41, 7, 7, 12], [3, 3, 3, 8, 19, 22, 40]])
    mask = torch.ones_like(ids)
    mask[1, :3] = 0                                           # a left-padded row
    with torch.no_grad(), router_hooks(chat.model) as seen:
        logits, router_logits, _ = forward(chat.model, ids, routing=True, attention_mask=mask)
    assert len(router_logits) == chat.num_layers == len(seen)
    for layer, t in enumerate(router_logits):
        assert t.shape == (ids.numel(), 3)
        assert torch.equal(t.float(), seen[layer][0])
    assert torch.equal(routing_record(router_logits).top1(),
                       torch.stack([seen[l][0].argmax(-1) for l in sorted(seen)]))
    assert torch.equal(last_position(router_logits, 2)[:, 0], seen[0][0].view(2, 7, 3)[:, -1])
    plain = chat.model(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(logits, plain, atol=1e-5)           # the same forward, head included


def test_each_decoded_token_names_the_experts_the_hook_saw(chat):
    prompt = chat.encode([{"role": "user", "content": "add 3 plus 4"}])
    engine = chat.engine(slots=1)
    with router_hooks(chat.model) as seen:
        seq = engine.add(prompt, GenerationSettings(max_new_tokens=6), routing=True)
        engine.run()
    assert seq.tokens and len(seq.experts) == len(seq.tokens)
    # Forward call i chose token i: its routing is the last position of that call.
    hooked = [[seen[l][i][-1].argmax().item() for l in sorted(seen)]
              for i in range(len(seq.tokens))]
    assert seq.experts == hooked


def test_inspect_names_the_experts_the_hook_saw(chat, tiny_moe):
    from smolmoe.evaluation.inspect_routing import inspect_prompt
    with router_hooks(chat.model) as seen:
        report = inspect_prompt(tiny_moe, "add 3 plus 4", layer=0, model=chat.model,
                                tokenizer=chat.tokenizer)
    names = report["experts"]
    top1 = seen[0][0].argmax(-1).tolist()
    # The user's text is the prompt's tokens just before the template's end of turn.
    ids = chat.encode([{"role": "user", "content": "add 3 plus 4"}])
    pieces = report["prompt_view"]["tokens"]
    assert "".join(t for t, _ in pieces) == "add 3 plus 4"
    start = next(i for i in range(len(ids))
                 if chat.tokenizer.decode(ids[i:i + len(pieces)]).strip() == "add 3 plus 4")
    expected = [names[top1[start + i]] for i in range(len(pieces))]
    assert [e for _, e in pieces] == expected


def test_evaluation_routing_matrix_equals_the_hooked_count(tiny_moe, tiny_data):
    from smolmoe.core.modeldir import load_tokenizer
    from smolmoe.core.precision import autocast
    from smolmoe.data.records import load_records, split_path
    from smolmoe.evaluation.loss import eval_batches, moe_routing
    model, tok = load_model(tiny_moe), load_tokenizer(tiny_moe)
    records = {d: load_records(split_path(tiny_data, d, "test")) for d in ("math", "story")}
    report = moe_routing(model, tok, records, ["math", "code", "story"], max_len=64)
    for d in records:
        counts = torch.zeros(3)
        for batch in eval_batches(tok, records[d], 64, 8):
            with torch.no_grad(), autocast("auto"), router_hooks(model) as seen:   # as evaluation runs
                model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            assistant = (batch["labels"] != -100).flatten()
            for l in seen:
                counts += torch.bincount(seen[l][0][assistant].argmax(-1), minlength=3).float()
        assert report["routing_matrix"][d] == pytest.approx((counts / counts.sum()).tolist())
