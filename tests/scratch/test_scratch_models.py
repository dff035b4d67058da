"""Presets, tokenizer and chat template, thinking budget: the from-scratch building blocks."""
import pytest
import torch

from smolmoe.data.records import IGNORE_INDEX, encode_chat
from smolmoe.core.errors import ConfigError, DataError
from smolmoe.scratch.presets import build_model, describe, get_preset, parameter_counts
from smolmoe.scratch.thinking import budget_report, chat
from smolmoe.scratch.tokenizer import THINK_CLOSE, THINK_OPEN, train_tokenizer

from helpers.scratch_fixtures import bilingual_texts


def test_cortex_preset_is_about_0_6b_total_0_2b_active():
    d = describe("cortex")
    assert 0.55e9 < d["total"] < 0.65e9
    assert 0.18e9 < d["active"] < 0.24e9
    assert (d["experts"], d["top_k"], d["heads"], d["kv_heads"]) == (8, 2, 12, 4)


def test_tiny_preset_has_cortex_shape_and_counts_active_experts():
    model = build_model(get_preset("tiny"))
    c = model.config
    assert c.mlp_only_layers == [0] and c.shared_expert_intermediate_size > 0
    assert c.num_key_value_heads < c.num_attention_heads
    assert c.rope_parameters["rope_theta"] == 1e4
    layer0, layer1 = model.model.layers[0].mlp, model.model.layers[1].mlp
    assert not hasattr(layer0, "experts") and hasattr(layer1, "shared_expert")
    counts = parameter_counts(model)
    routed_one_layer = sum(p.numel() for p in layer1.experts.parameters())
    per_expert = routed_one_layer // c.num_experts
    assert counts["total"] - counts["active"] == (c.num_hidden_layers - 1) * per_expert * (c.num_experts - 2)
    assert 1e6 < counts["total"] < 20e6


def test_unknown_preset_and_bad_shapes_are_config_errors():
    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("huge")
    from smolmoe.scratch.presets import model_config
    with pytest.raises(ConfigError, match="top_k"):
        model_config(get_preset("tiny", top_k=9))


def test_saved_model_loads_with_stock_transformers(scratch_root):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(scratch_root / "model")
    tok = AutoTokenizer.from_pretrained(scratch_root / "model")
    assert model.config.model_type == "qwen2_moe" and model.config.vocab_size == len(tok)
    ids = tok("你好 hello", return_tensors="pt")["input_ids"]
    assert model(ids).logits.shape == (1, ids.shape[1], len(tok))


def test_tokenizer_round_trips_bilingual_text_and_keeps_chat_tokens_whole(tmp_path):
    tok = train_tokenizer(bilingual_texts(), tmp_path / "tok", vocab_size=400)
    text = "新年讲话 the cat sat, 12 + 7 = 19 ü€"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok("12345")["input_ids"] == [tok.convert_tokens_to_ids(d) for d in "12345"]
    for special in ("<|im_start|>", "<|im_end|>", "<|pad|>", THINK_OPEN, THINK_CLOSE):
        assert len(tok(special, add_special_tokens=False)["input_ids"]) == 1, special
    with pytest.raises(ConfigError):
        train_tokenizer(["x"], tmp_path / "small", vocab_size=100)
    with pytest.raises(DataError):
        train_tokenizer(["", "  "], tmp_path / "empty", vocab_size=400)


def test_chat_template_switches_thinking_and_labels_only_the_reply(scratch_root):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(scratch_root / "tok")
    user = [{"role": "user", "content": "hi"}]
    on = tok.apply_chat_template(user, tokenize=False, add_generation_prompt=True, enable_thinking=True)
    off = tok.apply_chat_template(user, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert on.endswith("assistant\n<think>\n") and off.endswith("<think>\n\n</think>\n\n")
    thinking = user + [{"role": "assistant", "content": "<think>\nhmm\n</think>\n\nhello"}]
    plain = user + [{"role": "assistant", "content": "hello"}]
    assert tok.apply_chat_template(thinking, tokenize=False).startswith(on)
    assert tok.apply_chat_template(plain, tokenize=False).startswith(off)
    enc = encode_chat(tok, thinking, 128)
    labelled = tok.decode([i for i, l in zip(enc["input_ids"], enc["labels"]) if l != IGNORE_INDEX])
    assert labelled == "<think>\nhmm\n</think>\n\nhello<|im_end|>"


@pytest.mark.parametrize("budget", [0, 3, 7])
def test_thinking_budget_is_never_exceeded_and_an_answer_follows(scratch_root, budget):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(scratch_root / "model")
    tok = AutoTokenizer.from_pretrained(scratch_root / "model")
    # An untrained model never closes <think> by itself: only the budget can end the thinking.
    close = tok.convert_tokens_to_ids(THINK_CLOSE)
    with torch.no_grad():
        model.lm_head.weight[close] = -model.lm_head.weight[close].abs()
    prompts = [[{"role": "user", "content": f"question {i}"}] for i in range(6)]
    outs = chat(model, tok, prompts, think=True, budget=budget, max_new_tokens=budget + 8)
    for o in outs:
        assert o["thinking_tokens"] == budget and o["closed"] and o["answer"], o


def test_budget_report_counts_prompts(scratch_root):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(scratch_root / "model")
    tok = AutoTokenizer.from_pretrained(scratch_root / "model")
    rows = budget_report(model, tok, [[{"role": "user", "content": "x"}]] * 4, [2, 5])
    assert [r["budget"] for r in rows] == [2, 5]
    assert all(r["max_thinking_tokens"] <= r["budget"] and r["within_budget"] == 4 for r in rows)


def test_no_thinking_prompt_spends_no_thinking_tokens(scratch_root):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(scratch_root / "model")
    tok = AutoTokenizer.from_pretrained(scratch_root / "model")
    think = tok.convert_tokens_to_ids(THINK_OPEN)
    with torch.no_grad():
        model.lm_head.weight[think] = 0
    out = chat(model, tok, [[{"role": "user", "content": "x"}]], think=False, max_new_tokens=6)[0]
    assert out["thinking_tokens"] == 0
