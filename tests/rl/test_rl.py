"""RL on real (HF) models: operand-disjoint tasks, answer-line rewards, GRPO/GSPO steps on a
tiny Llama, LoRA, and DPO pairs from a model's own samples."""
import json
from dataclasses import dataclass

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from smolmoe.cli.main import main
from smolmoe.core.config import TrainSettings
from smolmoe.rl import arithmetic
from smolmoe.rl.report import curves, write_report
from smolmoe.rl.selfpairs import pick_pair, sample_pairs
from smolmoe.rl.grpo import RLSettings, RolloutBatches, policy_loss, rl_train
from smolmoe.evaluation.tasks.metrics import wilson_interval
from smolmoe.rl.logprobs import sequence_logps
from smolmoe.training.lora import LoraSettings


def test_train_and_held_out_prompts_share_no_operands_and_answers_are_exact():
    train, test = arithmetic.task_problems("small-arithmetic", "train"), arithmetic.task_problems("small-arithmetic", "test")
    key = lambda r: tuple(r["operands"])
    assert not {key(r) for r in train} & {key(r) for r in test}
    assert len(train) + len(test) == len(arithmetic.small_arithmetic_operands()) and len(test) >= 200
    for r in train[:50] + test[:50]:
        op, a, b = r["operands"]
        assert r["answer"] == {"+": a + b, "-": a - b, "*": a * b}[op]
    # The split follows the operands, not the wording: another seed rewords, same split.
    reworded = arithmetic.task_problems("small-arithmetic", "test", seed=1)
    assert [key(r) for r in reworded] == [key(r) for r in test]
    assert [r["messages"] for r in reworded] != [r["messages"] for r in test]


@pytest.mark.parametrize("reply, reward", [
    ("7 + 5 = 12. The answer is 12.", 1.1),
    ("The answer is 12", 1.0),                          # right, no closing full stop: no format bonus
    ("The answer is 13.", 0.1),                         # wrong, well formatted
    ("The answer is 13. The answer is 12.", 1.0),       # last answer counts; two answers: no bonus
    ("The answer is 12. I hope this helps!", 1.0),      # the answer line is not the end
    ("It is 12.", 0.0),                                 # no answer line
    ("The answer is: 1,2.", 1.0),                       # thousands separators are read through
])
def test_answer_line_reward_on_hand_made_replies(reply, reward):
    assert arithmetic.ANSWER_LINE.reward(reply, 12, format_weight=0.1) == pytest.approx(reward)


def test_wilson_interval_brackets_the_proportion():
    low, high = wilson_interval(30, 200)
    assert low < 0.15 < high and high - low < 0.11
    assert wilson_interval(0, 50)[0] == 0.0 and wilson_interval(50, 50)[1] == 1.0


@dataclass(frozen=True)
class ParityTask:
    """A stand-in verifiable rule that random tiny models satisfy about half of the time."""
    think: bool | None = None

    def correct(self, completion, answer):
        return len(completion) % 2 == answer

    def formatted(self, completion):
        return True

    def reward(self, completion, answer, format_weight=0.1, consistency_weight=0.0):
        return float(self.correct(completion, answer))


def parity_records(n=8):
    return [{"messages": [{"role": "user", "content": f"add {i} plus {i + 1}"}], "answer": 0}
            for i in range(n)]


def load_tiny(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    return AutoModelForCausalLM.from_pretrained(tiny_dir), AutoTokenizer.from_pretrained(tiny_dir)


@pytest.mark.parametrize("algo", ["grpo", "gspo"])
def test_a_policy_step_on_a_tiny_llama_favours_the_higher_reward_completions(tiny_dir, algo):
    model, tok = load_tiny(tiny_dir)
    rl = RLSettings(algo=algo, group_size=6, max_new_tokens=8, temperature=1.0)
    batch = RolloutBatches(model, tok, parity_records(), 3, rl, seed=1, task=ParityTask(),
                           precision="no").batch(0)
    adv = batch["advantages"]
    assert (adv > 0).any() and (adv < 0).any()       # the sampled groups carry a signal
    with torch.no_grad():
        before = sequence_logps(model, batch)
    loss, _ = policy_loss(rl)(model, batch)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.05 * p.grad
        moved = sequence_logps(model, batch) - before
    assert moved[adv > 0].mean() > 0 > moved[adv < 0].mean()


def test_lora_rl_trains_only_the_adapter_and_reports_curves(tiny_dir, tmp_path):
    info = rl_train(tiny_dir, parity_records(), parity_records(4), tmp_path / "rl",
                    TrainSettings(steps=2, lr=5e-2, batch_size=3, warmup_steps=0),
                    RLSettings(group_size=6, iterations=1, max_new_tokens=8),
                    task=ParityTask(), lora=LoraSettings(r=4, alpha=8), eval_every=1)
    source, merged = load_file(tiny_dir / "model.safetensors"), load_file(tmp_path / "rl/model.safetensors")
    changed = {k for k in source if not torch.equal(source[k], merged[k])}
    assert changed and all("proj" in k for k in changed)        # LoRA targets the linear layers
    assert "model.embed_tokens.weight" not in changed and info["trainable_params"] < 10_000
    assert (tmp_path / "rl/adapter/adapter_config.json").is_file()
    c = curves(info)
    assert [p["step"] for p in c["held_out"]] == [0, 1, 2] and len(c["train"]) == 2
    written = write_report(info, tmp_path / "report.json")
    assert json.loads((tmp_path / "report.json").read_text())["curves"] == c
    assert written["png"].endswith(".png") or written["png"].startswith("skipped")


def test_dpo_pairs_hold_a_verified_right_chosen_and_a_wrong_rejected_reply():
    record = {"messages": [{"role": "user", "content": "What is 7 + 5?"}], "answer": 12}
    replies = ["The answer is 13.", "It is 12.", "7 + 5 = 12. The answer is 12.", "The answer is 11."]
    pair = pick_pair(record, replies, arithmetic.ANSWER_LINE)
    assert pair["chosen"] == "7 + 5 = 12. The answer is 12."    # right and well formatted
    assert pair["rejected"] in ("The answer is 13.", "It is 12.", "The answer is 11.")
    assert not arithmetic.ANSWER_LINE.correct(pair["rejected"], 12)
    assert pick_pair(record, ["The answer is 12."] * 3, arithmetic.ANSWER_LINE) is None
    assert pick_pair(record, ["The answer is 1."] * 3, arithmetic.ANSWER_LINE) is None


def test_sampled_pairs_on_a_tiny_llama_are_verified(tiny_dir):
    model, tok = load_tiny(tiny_dir)
    task = ParityTask()
    pairs = sample_pairs(model, tok, parity_records(), task, samples=4, temperature=0.6,
                         max_new_tokens=8, precision="no", prompts_per_batch=4)
    assert pairs
    for p in pairs:
        assert task.correct(p["chosen"], 0) and not task.correct(p["rejected"], 0)


def test_rl_commands_reject_a_missing_model_in_one_line(tmp_path):
    result = CliRunner().invoke(main, ["rl", "grpo", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error:") and len(result.output.strip().splitlines()) == 1


def test_a_rollout_is_reused_across_iterations_with_every_micro_batch(tiny_dir):
    model, tok = load_tiny(tiny_dir)
    rl = RLSettings(group_size=2, iterations=2, max_new_tokens=4)
    batches = RolloutBatches(model, tok, parity_records(), 2, rl, task=ParityTask(), precision="no")
    first = [batches.batch(0, micro, 2) for micro in (0, 1)]
    assert [batches.batch(1, micro, 2) for micro in (0, 1)] == first    # step 1: same rollout
    assert batches.batch(2, 0, 2) is not first[0]                       # step 2: a fresh one


def test_rl_grpo_and_eval_commands_on_a_tiny_llama(tiny_dir, tmp_path):
    out = tmp_path / "rl"
    result = CliRunner().invoke(main, ["rl", "grpo", str(tiny_dir), "--out", str(out), "--steps", "2",
                                       "--batch-size", "1", "--grad-accum", "1", "--group-size", "2",
                                       "--test-limit", "3", "--max-new-tokens", "4", "--eval-every", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "rl_report.json").read_text())
    assert [p["step"] for p in report["curves"]["held_out"]] == [0, 1, 2]
    assert report["test_before"]["n"] == 3 and report["task"] == "small-arithmetic"
    result = CliRunner().invoke(main, ["rl", "eval", str(out), "--test-limit", "3", "--max-new-tokens", "4"])
    assert result.exit_code == 0 and "held-out accuracy" in result.output and "(n=3)" in result.output


def test_self_dpo_samples_its_pairs_as_its_settings_say_then_trains(tiny_dir, tmp_path):
    from smolmoe.core.config import DPOSettings
    from smolmoe.rl.selfpairs import SelfPairSettings, self_dpo
    records = parity_records(6)
    info = self_dpo(tiny_dir, records, records, tmp_path / "dpo",
                    TrainSettings(steps=1, lr=1e-3, batch_size=2, seq_len=64, warmup_steps=0,
                                  precision="no"),
                    ParityTask(), pairs=SelfPairSettings(prompts=4, samples=4, temperature=1.0),
                    preference=DPOSettings(beta=0.2), max_new_tokens=6)
    assert info["train_pairs"] > 0 and (tmp_path / "dpo" / "config.json").is_file()
    assert {k: info["pair_sampling"][k] for k in ("prompts", "samples", "temperature")} == \
        {"prompts": 4, "samples": 4, "temperature": 1.0}
    with pytest.raises(Exception, match="samples must be >= 2"):
        self_dpo(tiny_dir, records, records, tmp_path / "bad", TrainSettings(), ParityTask(),
                 pairs=SelfPairSettings(samples=1))


def test_a_rollout_is_on_policy_aligned_and_prompted_as_evaluation_prompts_are(tiny_dir, monkeypatch):
    """The invariants issue #22 named for the first iteration on a rollout, as sampled: the
    sampler's own log-probs are the old log-probs (same tokens, same policy), the training
    forward gives them again (ratio exactly 1), each reward is its own prompt's, and the
    rollout prompt is the prompt greedy evaluation scores."""
    from smolmoe.inference import engine
    from smolmoe.data.records import IGNORE_INDEX
    from smolmoe.inference.generate import prompt_ids
    from smolmoe.rl.logprobs import token_logps
    model, tok = load_tiny(tiny_dir)
    sampled: dict = {}                  # per engine sequence: log p of each token it drew (T=1)
    pick = engine.Sequence._pick

    def recording_pick(self, logits, end_ids):
        token = pick(self, logits, end_ids)
        sampled.setdefault(id(self), []).append(float(torch.log_softmax(logits.float(), -1)[token]))
        return token
    monkeypatch.setattr(engine.Sequence, "_pick", recording_pick)
    records = [dict(r, answer=i % 2) for i, r in enumerate(parity_records())]   # answers differ
    rl = RLSettings(group_size=4, max_new_tokens=8, temperature=1.0)
    batch = RolloutBatches(model, tok, records, 3, rl, seed=2, task=ParityTask(),
                           precision="no").batch(0)
    mask = batch["labels"][:, 1:] != IGNORE_INDEX
    assert len(sampled) == len(batch["rewards"])
    for row, row_mask, logps in zip(batch["old_logps"], mask, sampled.values()):
        assert torch.allclose(row[row_mask], torch.tensor(logps)[:int(row_mask.sum())], atol=1e-4)
    model.train()
    with torch.no_grad():
        logps, _ = token_logps(model, batch)
    assert torch.equal(logps * mask, batch["old_logps"] * mask)        # ratio exactly 1
    by_prompt = {tuple(prompt_ids(tok, r["messages"], think=ParityTask().think)): r for r in records}
    group_prompt = None
    for i in range(len(batch["rewards"])):
        ids = batch["input_ids"][i][batch["attention_mask"][i].bool()].tolist()
        start = int((batch["labels"][i] != IGNORE_INDEX).nonzero()[0])
        record = by_prompt[tuple(ids[:start])]                 # the evaluation prompt, token for token
        if i % rl.group_size == 0:
            group_prompt = ids[:start]
        assert ids[:start] == group_prompt                     # one prompt per group
        text = tok.decode(ids[start:], skip_special_tokens=True)
        assert batch["rewards"][i] == ParityTask().reward(text, record["answer"])


def test_unscaled_advantages_keep_a_format_only_group_small_and_a_right_answer_large():
    """Issue #22's suspected collapse: rollouts right ~6 % of the time, so most groups differ
    only by the 0.1 format reward. Divided by the group's std (scale_rewards="group") such a
    group's advantages are as large as a right/wrong group's; left in reward units ("none",
    Dr. GRPO) they stay a tenth of it."""
    from smolmoe.rl.grpo import group_advantages
    format_only = [0.1, 0.1, 0.0, 0.0, 0.1, 0.0, 0.1, 0.0]        # all wrong, half formatted
    one_right = [1.1, 0.1, 0.0, 0.0, 0.1, 0.0, 0.1, 0.0]          # one right answer
    rewards = format_only + one_right
    scaled = group_advantages(rewards, 8, "group")
    assert scaled[:8].abs().max() > 0.9                            # format inflated to ~1
    plain = group_advantages(rewards, 8, "none")
    assert plain[:8].abs().max() <= 0.05 + 1e-6                    # 0.1 - mean 0.05
    assert plain[8] == pytest.approx(1.1 - sum(one_right) / 8)     # reward minus group mean
    assert plain[8] > 10 * plain[:8].abs().max()
    assert torch.allclose(plain.view(2, 8).sum(1), torch.zeros(2), atol=1e-6)
    assert torch.equal(group_advantages([0.1] * 8, 8, "none"), torch.zeros(8))


def test_rl_grpo_defaults_come_from_the_one_declared_rollout_recipe():
    from smolmoe.cli.rl import rl_grpo
    from smolmoe.scratch.budgets import RL_ROLLOUTS
    import click
    defaults = {p.name: p.default for p in rl_grpo.get_params(click.Context(rl_grpo))}
    for name, value in RL_ROLLOUTS.items():
        assert defaults[name] == value
