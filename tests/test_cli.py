"""The CLI end to end on a tiny model: training, evaluation, and one-line errors."""
import json

import pytest
from click.testing import CliRunner

from smolmoe.cli import main


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    lines = [l for l in result.output.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in lines[0], lines[0]


def test_every_command_has_help():
    for cmd in ([], ["base"], ["data", "build"], ["train-expert"], ["eval"]):
        r = run(*cmd, "--help")
        assert r.exit_code == 0 and "Usage:" in r.output


def test_train_expert_and_eval(tiny_dir, tiny_data, experts_dir, tmp_path):
    out = tmp_path / "experts"
    r = run("train-expert", "--all", "--base", tiny_dir, "--data", tiny_data, "--out", out)
    assert r.exit_code == 0, r.output
    from transformers import AutoModelForCausalLM
    for name in ("math", "story"):
        model = AutoModelForCausalLM.from_pretrained(out / name)
        meta = json.loads((out / name / "smolmoe_expert.json").read_text())
        assert meta["domain"] == name and meta["trainable"] == "mlp"
        assert model.config.model_type == "llama"
    assert not any(p.name.endswith(".checkpoint") for p in out.iterdir())
    report_file = tmp_path / "report.json"
    r = run("eval", tiny_dir, out / "math", out / "story", "--data", tiny_data, "--json", report_file)
    assert r.exit_code == 0, r.output
    res = json.loads(report_file.read_text())["results"]
    base = res[tiny_dir.name]
    # Each expert learned its own domain's pattern better than the untouched base.
    assert res["math"]["math"]["loss"] < base["math"]["loss"]
    assert res["story"]["story"]["loss"] < base["story"]["loss"]
    # An existing expert is not clobbered without --overwrite.
    r = run("train-expert", "math", "--base", tiny_dir, "--data", tiny_data, "--out", out)
    assert_one_line_error(r, "already exists", "--overwrite")


def test_unknown_expert(tiny_dir, tiny_data, experts_dir, tmp_path):
    r = run("train-expert", "poet", "--base", tiny_dir, "--data", tiny_data, "--out", tmp_path / "o")
    assert_one_line_error(r, "unknown expert 'poet'", "math")
    assert not (tmp_path / "o").exists()


def test_bad_base_path(tiny_data, experts_dir, tmp_path):
    r = run("train-expert", "math", "--base", tmp_path / "nowhere", "--data", tiny_data,
            "--out", tmp_path / "o")
    assert_one_line_error(r, "not found", "nowhere")
    assert not (tmp_path / "o").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run("base", "--base", empty), "no config.json")


def test_missing_and_malformed_data(tiny_dir, experts_dir, tmp_path):
    data = tmp_path / "data"
    r = run("train-expert", "math", "--base", tiny_dir, "--data", data, "--out", tmp_path / "o")
    assert_one_line_error(r, "not found", "train.jsonl")
    (data / "math").mkdir(parents=True)
    (data / "math" / "train.jsonl").write_text('{"messages": [{"role": "user"}]}\n')
    r = run("train-expert", "math", "--base", tiny_dir, "--data", data, "--out", tmp_path / "o")
    assert_one_line_error(r, "train.jsonl:1", "content")
    assert not (tmp_path / "o").exists()
    assert list((tmp_path).glob(".o*")) == []


def test_corrupt_weights(tiny_dir, tiny_data, experts_dir, tmp_path):
    import shutil
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dir, broken)
    (broken / "model.safetensors").write_bytes(b"\x00" * 64)
    r = run("train-expert", "math", "--base", broken, "--data", tiny_data, "--out", tmp_path / "o")
    assert_one_line_error(r, "cannot load model", "broken")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--steps", "0"], "--steps"),
    (["--lr", "5"], "--lr"),
])
def test_out_of_range_options(tiny_dir, tiny_data, experts_dir, tmp_path, args, fragment):
    r = run("train-expert", "math", "--base", tiny_dir, "--data", tiny_data,
            "--out", tmp_path / "o", *args)
    assert r.exit_code == 2 and fragment in r.output
