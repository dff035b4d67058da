"""The CLI end to end on a tiny model: training, evaluation, and one-line errors."""
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from smolmoe.cli.main import main
from helpers import REPO



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
    assert_one_line_error(r, "corrupt weights file", "broken")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--steps", "0"], "--steps"),
    (["--lr", "5"], "--lr"),
])
def test_out_of_range_options(tiny_dir, tiny_data, experts_dir, tmp_path, args, fragment):
    r = run("train-expert", "math", "--base", tiny_dir, "--data", tiny_data,
            "--out", tmp_path / "o", *args)
    assert r.exit_code == 2 and fragment in r.output


def _options_without_help(command, path):
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _options_without_help(sub, path + [name])
    for p in command.get_params(click.Context(command)):   # options built on first use too
        if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip():
            yield f"{' '.join(path)} {p.opts[0]}"


def test_every_option_has_help_text():
    commands = set()

    def names(command, path):
        commands.add(" ".join(path))
        for name, sub in getattr(command, "commands", {}).items():
            names(sub, path + [name])
    names(main, ["smolmoe"])
    assert {"smolmoe scratch run", "smolmoe scratch grpo", "smolmoe serve"} <= commands
    assert list(_options_without_help(main, ["smolmoe"])) == []


def test_demo_layout_is_found_with_no_path_argument(trained, tmp_path, monkeypatch):
    """What the demo leaves in $SMOLMOE_HOME is where every command looks by default."""
    import shutil

    from smolmoe.core.config import home_path, smolmoe_home
    monkeypatch.setenv("SMOLMOE_HOME", str(tmp_path / "home"))
    shutil.copytree(trained / "data", home_path("data"))
    shutil.copytree(trained / "experts", home_path("experts"))
    r = run("assemble", "math", "story", "--router-init", "random")
    assert r.exit_code == 0 and (tmp_path / "home" / "moe" / "smolmoe.json").is_file(), r.output
    r = run("train-router", "--steps", "1", "--batch-size", "2", "--per-domain", "4")
    assert r.exit_code == 0 and "trainable parameters" in r.output, r.output
    r = run("inspect", "add 3 plus 4")
    assert r.exit_code == 0 and ("[math]" in r.output or "[story]" in r.output), r.output
    r = run("eval", "--moe", "--base", trained / "base", "--limit", "2")
    assert r.exit_code == 0 and "routing matrix" in r.output, r.output
    r = CliRunner().invoke(main, ["chat", "--max-tokens", "2", "--temperature", "0"], input="hi\n")
    assert r.exit_code == 0, r.output
    # The demo writes to the same place when given no --out.
    import importlib.util
    spec = importlib.util.spec_from_file_location("demo", REPO / "scripts" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    out = next(p for p in demo.main.params if p.name == "out")
    assert Path(out.get_default(click.Context(demo.main), call=True)) == smolmoe_home()


def test_missing_default_directories_name_the_step_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SMOLMOE_HOME", str(tmp_path / "empty"))
    hint = "(run `bash scripts/demo.sh` or `smolmoe assemble` first)"
    for args in (["inspect", "hello"], ["chat"], ["serve"], ["train-router"], ["eval", "--moe"]):
        assert_one_line_error(run(*args), f"{tmp_path / 'empty' / 'moe'} does not exist", hint)


def test_inspect_names_experts_and_shows_emoji(tiny_moe):
    r = run("inspect", "add 3 plus 4 🙂 ok", "--moe", tiny_moe)
    assert r.exit_code == 0, r.output
    line = r.output[r.output.index("prompt tokens, top-1 expert"):]
    assert "🙂" in line and "\ufffd" not in r.output
    named = [f"[{n}]" for n in ("math", "code", "story")]
    assert sum(line.count(n) for n in named) >= 5, line   # every token carries its expert's name


def test_a_missing_optional_dependency_is_one_line(tiny_moe, monkeypatch):
    import sys
    for name in [m for m in sys.modules if m == "smolmoe.serve" or m.startswith("smolmoe.serve.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)   # `import fastapi` now fails
    assert_one_line_error(run("serve", tiny_moe), "fastapi is not installed", "pip install")
