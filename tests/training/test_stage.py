"""The stage runner: its order (cheap checks before any load), measurements, what it saves."""
import json

import pytest

from smolmoe.core.config import TrainSettings
from smolmoe.data.records import StepBatches, encode_records, load_records, split_path
from smolmoe.core.errors import DataError, SmolMoEError
from smolmoe.core.modeldir import EXPERT_META
from smolmoe.training.stage import Plan, Stage, run_stage, sample_for_steps

SETTINGS = TrainSettings(steps=4, lr=1e-2, batch_size=2, seq_len=64, warmup_steps=0, save_every=1)


def _stage(tiny_dir, tiny_data, out, calls, **kw):
    def prepare(_model, tokenizer, records):
        calls.append("prepare")
        examples = encode_records(tokenizer, records, 64)

        def measure(_m):
            calls.append("measure")
            return {"n": calls.count("measure")}

        return Plan(StepBatches(examples, 2, tokenizer.pad_token_id, 0),
                    lambda result, before, after: {"steps": result.steps, "before": before,
                                                   "after": after},
                    measure=measure, **kw)

    def read():
        calls.append("read")
        return load_records(split_path(tiny_data, "math", "train"))

    return Stage(tiny_dir, out, SETTINGS, prepare, read=read, meta_file=EXPERT_META)


def test_runs_in_order_and_saves_the_report(tiny_dir, tiny_data, tmp_path):
    calls = []
    report = run_stage(_stage(tiny_dir, tiny_data, tmp_path / "out", calls))
    assert calls == ["read", "prepare", "measure", "measure"]
    assert report == {"steps": 4, "before": {"n": 1}, "after": {"n": 2}}
    assert json.loads((tmp_path / "out" / EXPERT_META).read_text()) == report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]   # checkpoint removed


def test_in_training_measurements_give_the_after(tiny_dir, tiny_data, tmp_path):
    calls = []
    report = run_stage(_stage(tiny_dir, tiny_data, tmp_path / "out", calls, eval_every=2,
                              saved_meta=lambda report: {"wrapped": report}))
    assert calls.count("measure") == 3                # before, after steps 2 and 4; not again
    assert report["after"] == {"n": 3}
    assert json.loads((tmp_path / "out" / EXPERT_META).read_text()) == {"wrapped": report}


def test_cheap_checks_come_before_any_model_loads(tiny_dir, tiny_data, tmp_path, monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("a model was loaded before the cheap checks")
    monkeypatch.setattr("smolmoe.training.stage.load_model", refuse)
    (tmp_path / "taken").mkdir()
    calls = []
    with pytest.raises(SmolMoEError, match="already exists"):
        run_stage(_stage(tiny_dir, tiny_data, tmp_path / "taken", calls))
    assert calls == []                                # refused before reading anything
    stage = _stage(tiny_dir, tiny_data, tmp_path / "out", calls)
    stage.read = lambda: load_records(tmp_path / "missing.jsonl")
    with pytest.raises(DataError):
        run_stage(stage)
    assert not (tmp_path / "out").exists()


def test_only_the_records_a_run_sees_are_sampled():
    records = [{"i": i} for i in range(100)]
    settings = TrainSettings(steps=3, batch_size=4, grad_accum=2)
    picked = sample_for_steps(records, settings, world=2)
    assert len(picked) == 3 * 4 * 2 * 2 and picked == sample_for_steps(records, settings, world=2)
    assert sample_for_steps(records[:10], settings) == records[:10]
