"""The bad-input corpus: every case ends with ONE line naming the problem, a non-zero exit,
no traceback, and nothing written where the output would go."""
import json
import shutil

import pytest
from click.testing import CliRunner

from smolmoe.cli import main

from conftest import make_llama, make_tokenizer

GOOD = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
JSONL = {
    "malformed": (b'{"messages": [\n', "not valid JSON"),
    "empty": (b"", "no records"),
    "blank lines only": (b"\n\n  \n", "no records"),
    "non-utf8": (b'{"instruction": "\xff\xfe", "output": "x"}\n', "not valid UTF-8"),
    "wrong schema": (b'{"prompt": "a", "completion": "b"}\n', "needs 'messages'"),
    "messages not a list": (b'{"messages": "hello"}\n', "non-empty list"),
    "bad role": (b'{"messages": [{"role": "bot", "content": "x"}]}\n', "needs a role"),
    "content not a string": (b'{"messages": [{"role": "user", "content": 5}]}\n', "string 'content'"),
    "no assistant turn": (b'{"messages": [{"role": "user", "content": "x"}]}\n', "no assistant"),
    "top-level array": (b"[1]\n", "expected a JSON object"),
    "instruction not string": (b'{"instruction": 1, "output": "x"}\n', "must be strings"),
    "bad line after good": (GOOD.encode() + b"{oops}\n", ":2: not valid JSON"),
}


def one_line_error(args, *fragments, code=None):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code != 0, r.output
    if code is not None:
        assert r.exit_code == code, r.output
    lines = [l for l in r.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.output
    assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit)
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("case", sorted(JSONL))
def test_bad_jsonl_in_data_check(tmp_path, case):
    content, fragment = JSONL[case]
    f = tmp_path / "d.jsonl"
    f.write_bytes(content)
    one_line_error(["data", "check", f], fragment, str(f))


@pytest.mark.parametrize("case", ["malformed", "non-utf8", "wrong schema", "empty"])
def test_bad_training_data_writes_nothing(tiny_dir, experts_dir, tmp_path, case):
    data = tmp_path / "data"
    (data / "math").mkdir(parents=True)
    (data / "math" / "train.jsonl").write_bytes(JSONL[case][0])
    one_line_error(["train-expert", "math", "--base", tiny_dir, "--data", data, "--out", tmp_path / "o"],
                   JSONL[case][1])
    assert not (tmp_path / "o").exists()


def _broken_model(tiny_dir, tmp_path, how):
    d = tmp_path / "model"
    shutil.copytree(tiny_dir, d)
    weights = d / "model.safetensors"
    if how == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif how == "missing weights":
        weights.unlink()
    elif how == "config mismatch":
        cfg = json.loads((d / "config.json").read_text())
        cfg["hidden_size"] = 64
        (d / "config.json").write_text(json.dumps(cfg))
    elif how == "config not json":
        (d / "config.json").write_text("{nope")
    return d


@pytest.mark.parametrize("how, fragment", [
    ("truncated", "cannot load model"),
    ("missing weights", "no .safetensors"),
    ("config mismatch", "cannot load model"),
    ("config not json", "config.json is not valid JSON"),
])
def test_broken_base_models(tiny_dir, tiny_data, experts_dir, tmp_path, how, fragment):
    base = _broken_model(tiny_dir, tmp_path, how)
    one_line_error(["train-expert", "math", "--base", base, "--data", tiny_data, "--out", tmp_path / "o"],
                   fragment)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, fragment, code", [
    (["train-expert", "poet"], "unknown expert 'poet'", 1),
    (["train-expert"], "or pass --all", 1),
    (["train-expert", "math", "--steps", "0"], "--steps", 2),
    (["train-expert", "math", "--lr", "2"], "--lr", 2),
    (["train-expert", "math", "--batch-size", "-1"], "--batch-size", 2),
    (["train-expert", "math", "--precision", "fp4"], "--precision", 2),
    (["no-such-command"], "No such command", 2),
])
def test_bad_options(tiny_dir, tiny_data, experts_dir, tmp_path, args, fragment, code):
    one_line_error([*args, "--base", tiny_dir, "--data", tiny_data, "--out", tmp_path / "o"]
                   if args[0] == "train-expert" else args, fragment, code=code)
    assert not (tmp_path / "o").exists()


def test_paths(tiny_dir, tiny_data, experts_dir, tmp_path):
    one_line_error(["train-expert", "math", "--base", tmp_path / "nowhere", "--data", tiny_data,
                    "--out", tmp_path / "o"], "model directory not found")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(["train-expert", "math", "--base", tiny_dir, "--data", tiny_data,
                    "--out", blocker / "o"], "is not a directory")
    one_line_error(["eval", tiny_dir, "--data", tmp_path / "no-data"], "data directory not found")
    one_line_error(["eval"], "at least one model directory")


def test_existing_output_is_never_clobbered(trained, tmp_path):
    out = tmp_path / "moe"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    one_line_error(["assemble", "math", "story", "--experts-root", trained / "experts",
                    "--data", trained / "data", "--out", out], "already exists", "--overwrite")
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("variant, fragment", [
    ("hidden", "differ in hidden_size"),
    ("vocab", "differ in vocab_size"),
    ("tokenizer", "different tokenizers"),
    ("missing", "expert 'ghost' not found"),
])
def test_mismatched_experts(trained, tmp_path, variant, fragment):
    other = tmp_path / "other"
    if variant == "hidden":
        make_llama(other, make_tokenizer(other), hidden=48)
    elif variant == "vocab":
        make_llama(other, make_tokenizer(other), vocab=500)
    elif variant == "tokenizer":
        shutil.copytree(trained / "experts" / "story", other)
        (other / "chat_template.jinja").write_text("{{ messages }}")
    experts = [trained / "experts" / "math", other if variant != "missing" else "ghost"]
    one_line_error(["assemble", *experts, "--experts-root", trained / "experts", "--router-init", "random",
                    "--out", tmp_path / "moe"], fragment)
    assert not (tmp_path / "moe").exists()


@pytest.mark.parametrize("yaml_text, fragment", [
    ("experts: [math, story]\ntop_k: 5\n", "top_k=5 is more than the 2 experts"),
    ("experts: [math]\n", "at least two experts"),
    ("experts: [math, story]\nrouter_init: magic\n", "router_init must be one of"),
    ("experts: [math, story]\ncolour: red\n", "unknown field(s) colour"),
    ("experts: [math, story\n", "not valid YAML"),
    ("- just a list\n", "expected a mapping"),
])
def test_bad_merge_config_files(trained, tmp_path, yaml_text, fragment):
    cfg = tmp_path / "merge.yaml"
    cfg.write_text(yaml_text)
    one_line_error(["assemble", "--config", cfg, "--experts-root", trained / "experts",
                    "--out", tmp_path / "moe"], fragment)
    assert not (tmp_path / "moe").exists()


def test_moe_commands_on_bad_inputs(trained, tmp_path):
    dense = trained / "experts" / "math"
    one_line_error(["inspect", "hello", "--moe", dense], "is not an MoE directory")
    one_line_error(["train-router", dense, "--data", trained / "data"], "is not an MoE directory")
    one_line_error(["train-router", dense, "--alpha", "-1"], "--alpha", code=2)
    one_line_error(["assemble", "math", "story", "--experts-root", trained / "experts",
                    "--data", tmp_path / "no-data", "--out", tmp_path / "moe"], "not found")
    assert not (tmp_path / "moe").exists()


def test_prompt_longer_than_the_context(trained, tmp_path):
    moe = tmp_path / "moe"
    CliRunner().invoke(main, ["assemble", "math", "story", "--experts-root", str(trained / "experts"),
                              "--router-init", "random", "--out", str(moe)])
    one_line_error(["inspect", "alpha " * 600, "--moe", moe], "longer than the model's context of 512")
