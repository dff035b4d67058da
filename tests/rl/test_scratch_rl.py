"""Verifiable rewards and the GRPO / GSPO losses."""
import pytest
import torch

from smolmoe.core.config import TrainSettings
from smolmoe.data.records import IGNORE_INDEX, collate
from smolmoe.core.errors import ConfigError
from smolmoe.rl import arithmetic
from smolmoe.rl.grpo import RLSettings, group_advantages, policy_loss, rl_train
from smolmoe.rl.logprobs import sequence_logps, token_logps



def test_problems_have_exact_answers_and_disjoint_splits():
    train, test = arithmetic.problems(400, "train"), arithmetic.problems(100, "test")
    key = lambda p: (p.op, p.a, p.b)
    assert not {key(p) for p in train} & {key(p) for p in test}
    for p in train[:50]:
        assert p.answer == {"+": p.a + p.b, "-": p.a - p.b, "*": p.a * p.b}[p.op]
        assert arithmetic.parse_answer(p.reply()) == p.answer
        assert arithmetic.format_ok(p.reply()[len("<think>"):])


@pytest.mark.parametrize("completion, reward", [
    ("\n3 + 4 = 7\n</think>\n\nThe answer is 7.", 1.1),
    ("\n3 + 4 = 8\n</think>\n\nThe answer is 8.", 0.1),
    ("The answer is 7.", 1.0),                       # right, but no thinking block: no format bonus
    ("\n3 + 4 = 7\n</think>\n\n答案是 7。", 1.1),
    ("\n</think>\n\nThe answer is 7. The answer is 7.", 1.0),
    ("seven", 0.0),
])
def test_reward_is_exact_answer_plus_format(completion, reward):
    assert arithmetic.reward(completion, 7) == pytest.approx(reward)


def test_group_advantages_are_relative_within_each_group():
    adv = group_advantages([1, 0, 0, 0, 1, 1, 1, 1], 4)
    assert adv[0] > 0 > adv[1] and torch.allclose(adv[4:], torch.zeros(4))
    assert adv[:4].sum().abs() < 1e-5


@pytest.mark.parametrize("algo", ["grpo", "gspo"])
def test_a_step_on_the_policy_loss_favours_the_rewarded_completion(scratch_root, algo):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(scratch_root / "model")
    tok = AutoTokenizer.from_pretrained(scratch_root / "model")
    prompt = tok("12 + 7 =")["input_ids"]
    rows = [{"input_ids": prompt + tok(c)["input_ids"],
             "labels": [IGNORE_INDEX] * len(prompt) + tok(c)["input_ids"]} for c in (" 19", " 18")]
    batch = collate(rows, tok.pad_token_id)
    with torch.no_grad():
        batch["old_logps"], _ = token_logps(model, batch)
        before = sequence_logps(model, batch)
    batch.update(advantages=torch.tensor([1.0, -1.0]), rewards=torch.tensor([1.0, 0.0]),
                 correct=torch.tensor([1.0, 0.0]))
    loss, metrics = policy_loss(RLSettings(algo=algo))(model, batch)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.05 * p.grad
        after = sequence_logps(model, batch)
    assert after[0] > before[0] and after[1] < before[1]
    assert metrics["reward"] == 0.5


def test_gspo_clips_the_sequence_ratio(scratch_root):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(scratch_root / "model")
    tok = AutoTokenizer.from_pretrained(scratch_root / "model")
    ids = tok("1 + 1 = 2")["input_ids"]
    batch = collate([{"input_ids": ids, "labels": ids}], tok.pad_token_id)
    with torch.no_grad():
        logps, _ = token_logps(model, batch)
    # The policy is 10% more likely per token than the sampler: far outside GSPO's 4e-4 band.
    batch.update(old_logps=logps - 0.1, advantages=torch.tensor([1.0]),
                 rewards=torch.tensor([1.0]), correct=torch.tensor([1.0]))
    loss, metrics = policy_loss(RLSettings(algo="gspo"))(model, batch)
    assert metrics["clip_frac"] == 1.0
    assert loss.item() == pytest.approx(-(1 + 4e-4), rel=1e-5)
    loss.backward()
    assert all(p.grad is None or p.grad.abs().max() == 0 for p in model.parameters())


def test_rl_train_runs_end_to_end_and_reports_accuracy(scratch_root, tmp_path):
    records = [arithmetic.prompt_record(p) for p in arithmetic.problems(20, "train")]
    test = [arithmetic.prompt_record(p) for p in arithmetic.problems(6, "test")]
    info = rl_train(scratch_root / "model", records, test, tmp_path / "rl",
                    TrainSettings(steps=2, lr=1e-3, batch_size=2, warmup_steps=0),
                    RLSettings(algo="gspo", group_size=2, max_new_tokens=6))
    assert set(info["test_before"]) == {"accuracy", "format", "n", "interval"} and info["test_after"]["n"] == 6
    assert (tmp_path / "rl" / "config.json").is_file()
    with pytest.raises(ConfigError, match="algo"):
        RLSettings(algo="ppo").validate()


def test_consistency_reward_checks_the_answer_repeats_the_worked_result():
    right, copied_wrong, inconsistent = ("\n3 * 9 = 27\n</think>\n\nThe answer is 27.",
                                         "\n3 * 9 = 22\n</think>\n\nThe answer is 22.",
                                         "\n3 * 9 = 22\n</think>\n\nThe answer is 27.")
    assert arithmetic.consistent(right) and arithmetic.consistent(copied_wrong)
    assert not arithmetic.consistent(inconsistent) and not arithmetic.consistent("The answer is 27.")
    r = [arithmetic.reward(c, 27, 0.1, 0.5) for c in (right, copied_wrong, inconsistent)]
    assert r == pytest.approx([1.6, 0.6, 1.1])
