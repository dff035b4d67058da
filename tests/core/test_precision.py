import torch

from smolmoe.core import precision
from smolmoe.core.config import TrainSettings
from smolmoe.training.loop import train


def test_auto_follows_the_cpu(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: True)
    assert precision.resolve("auto", "cpu") == "bf16"
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: False)
    assert precision.resolve("auto", "cpu") == "no"
    assert precision.resolve("no", "cpu") == "no" and precision.resolve("bf16", "cpu") == "bf16"


def test_autocast_runs_products_in_the_chosen_format():
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with precision.autocast("bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with precision.autocast("no"):
        assert (a @ b).dtype == torch.float32


def test_stages_of_different_precisions_run_in_one_process(tiny_dir):
    """accelerate's precision is process-wide; the loop must not trip over a change."""
    from smolmoe.core.modeldir import load_model
    from smolmoe.data.records import StepBatches

    seen = []

    def loss_fn(model, batch):
        logits = model(input_ids=batch["input_ids"]).logits
        seen.append(logits.dtype)
        return logits.float().pow(2).mean(), {"loss": torch.tensor(0.0)}

    ex = [{"input_ids": [1, 2, 3, 4], "labels": [1, 2, 3, 4]}] * 4
    for p in ("bf16", "no", "bf16"):
        model = load_model(tiny_dir)
        train(model, StepBatches(ex, 2, 0, 0), TrainSettings(steps=1, warmup_steps=0, precision=p),
              loss_fn=loss_fn)
    assert seen == [torch.bfloat16, torch.float32, torch.bfloat16]
