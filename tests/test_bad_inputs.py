"""The bad-input corpus: every case ends with ONE line naming the problem, a non-zero exit,
no traceback, and nothing written where the output would go."""
import json
import shutil

import pytest
from click.testing import CliRunner

from smolmoe.cli.main import main

from helpers.tiny_models import make_llama, make_tokenizer

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
    ("truncated", "corrupt weights file"),
    ("missing weights", "no .safetensors"),
    ("config mismatch", "config.json does not match its weights"),
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
    # Fields of the wrong kind, named with the file (issue #26).
    ("experts: math\n", "experts must be a list of texts"),
    ("experts: [math, 3]\n", "experts must be a list of texts"),
    ("experts: [math, story]\ntop_k: two\n", "top_k must be a whole number"),
    ("experts: [math, story]\nseed: 1.5\n", "seed must be a whole number"),
    ("experts: [math, story]\nseed: 36893488147419103232\n", "seed does not fit in 64 bits"),
    ("experts: [math, story]\nbase: {x: 1}\n", "base must be text"),
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


# ---------------------------------------------------------------- a newcomer's first hour (#12)
def _copy_moe(tiny_moe, tmp_path):
    d = tmp_path / "moe"
    shutil.copytree(tiny_moe, d)
    return d


def _no_model_loads(monkeypatch, *modules):
    """Cheap checks must fail before any model is loaded: loading now fails the test."""
    def refuse(*_a, **_k):
        raise AssertionError("a model was loaded before the cheap checks")
    for m in modules:
        monkeypatch.setattr(f"{m}.load_model", refuse)


def test_cheap_checks_run_before_any_model_loads(tiny_moe, trained, tmp_path, monkeypatch):
    _no_model_loads(monkeypatch, "smolmoe.training.stage", "smolmoe.core.modeldir")   # inspect loads via inference/quant.py
    one_line_error(["inspect", "", "--moe", tiny_moe], "prompt is empty")
    one_line_error(["inspect", "   ", "--moe", tiny_moe], "prompt is empty")
    one_line_error(["inspect", "hello", "--moe", tiny_moe, "--layer", "99"], "--layer must be between 0 and 1")
    bad = tmp_path / "data"
    shutil.copytree(trained / "data", bad)
    shutil.copytree(bad / "math", bad / "code")   # tiny_moe's experts: math, code, story
    (bad / "story" / "train.jsonl").write_text('{"messages": [\n')
    one_line_error(["train-router", tiny_moe, "--data", bad, "--out", tmp_path / "r"], "story/train.jsonl:1")
    monkeypatch.setattr("smolmoe.moe.assemble.build_moe", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("the MoE was built before the data was checked")))
    one_line_error(["assemble", "math", "story", "--experts-root", trained / "experts",
                    "--data", bad, "--out", tmp_path / "moe"], "story/train.jsonl:1")
    assert not (tmp_path / "r").exists() and not (tmp_path / "moe").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused(tiny_moe, value):
    one_line_error(["train-router", tiny_moe, "--lr", value], "--lr", code=2)
    one_line_error(["train-expert", "math", "--lr", value], "--lr", code=2)
    one_line_error(["chat", tiny_moe, "--top-p", value], "--top-p", code=2)


def test_nan_in_a_manifest_is_refused():
    from smolmoe.core.config import TrainSettings
    from smolmoe.core.errors import ConfigError
    with pytest.raises(ConfigError, match="lr must be a finite number"):
        TrainSettings(lr=float("nan")).validate()


def test_expert_weights_that_do_not_match_their_config(trained, tmp_path):
    odd = tmp_path / "odd"
    shutil.copytree(trained / "experts" / "story", odd)
    make_llama(tmp_path / "wider", make_tokenizer(tmp_path / "wider"), hidden=48)
    shutil.copy(tmp_path / "wider" / "model.safetensors", odd / "model.safetensors")
    one_line_error(["assemble", trained / "experts" / "math", odd, "--router-init", "random",
                    "--out", tmp_path / "moe"], "odd/config.json does not match its weights")
    assert not (tmp_path / "moe").exists()


@pytest.mark.parametrize("config, fragment", [
    ({"model_type": "mixtral"}, "config.json does not match its weights"),
    ("LAYERS", "declares"),
    ("{nope", "config.json is not valid JSON"),
    ([1, 2], "must be a JSON object with a 'model_type'"),
    ({"hidden_size": 32}, "must be a JSON object with a 'model_type'"),
])
def test_configs_that_do_not_describe_the_weights(tiny_moe, tmp_path, config, fragment):
    """Sizes come from the files: a config that only names the model type would otherwise
    build the type's default (a 47B-parameter Mixtral) and be killed for lack of memory."""
    moe = _copy_moe(tiny_moe, tmp_path)
    if config == "LAYERS":
        config = {**json.loads((moe / "config.json").read_text()), "num_hidden_layers": 64}
    (moe / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    one_line_error(["inspect", "hello", "--moe", moe], fragment)
    one_line_error(["chat", moe], fragment)


def test_a_model_too_large_for_memory_is_refused_before_loading(tiny_moe, monkeypatch):
    monkeypatch.setattr("smolmoe.core.modeldir.available_memory", lambda: 1 << 10)
    one_line_error(["inspect", "hello", "--moe", tiny_moe], "needs 0.0 GiB to load",
                   "only 0.0 GiB of memory is available")


@pytest.mark.parametrize("meta, fragment", [
    ("{oops", "smolmoe.json is not valid JSON"),
    (json.dumps({"experts": 3}), "smolmoe.json is malformed"),
    (json.dumps({"experts": [{"name": "a"}]}), "smolmoe.json is malformed"),
    (json.dumps([]), "smolmoe.json is malformed"),
])
def test_malformed_smolmoe_json(tiny_moe, trained, tmp_path, meta, fragment):
    moe = _copy_moe(tiny_moe, tmp_path)
    (moe / "smolmoe.json").write_text(meta)
    one_line_error(["inspect", "hello", "--moe", moe], fragment)
    one_line_error(["train-router", moe, "--data", trained / "data"], fragment)
    one_line_error(["eval", "--moe", moe, "--data", trained / "data"], fragment)


def test_data_check_on_a_directory(tmp_path):
    one_line_error(["data", "check", tmp_path], "is a directory", code=2)


def test_a_disk_that_fills_during_a_save(trained, tmp_path):
    """A real write failure (the file-size limit makes every large write fail, as a full disk
    does): one line, and neither the output nor its temp dir is left behind."""
    import resource
    import signal
    import subprocess
    import sys

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # fail the write instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
    out = tmp_path / "out" / "moe"
    r = subprocess.run([sys.executable, "-m", "smolmoe.cli", "assemble", "math", "story",
                        "--experts-root", str(trained / "experts"), "--router-init", "random",
                        "--out", str(out)], capture_output=True, text=True, preexec_fn=small_files,
                       timeout=300)
    lines = [l for l in r.stderr.splitlines() if l.strip() and "\r" not in l]
    assert r.returncode == 1 and lines[-1].startswith("error: could not write"), r.stderr
    assert "Traceback" not in r.stderr and "nothing was left behind" in lines[-1]
    assert list((tmp_path / "out").iterdir()) == []


def test_assemble_warns_loudly_when_parity_fails(tmp_path):
    """Experts that differ outside their MLPs: the MoE forced to expert j is not expert j."""
    tok = make_tokenizer(tmp_path / "tok")
    for i, name in enumerate(("one", "two")):
        make_llama(tmp_path / name, tok, seed=i)
    r = CliRunner().invoke(main, ["assemble", str(tmp_path / "one"), str(tmp_path / "two"),
                                  "--router-init", "random", "--out", str(tmp_path / "moe")])
    assert r.exit_code == 0, r.output
    assert "WARNING: parity failed for 1/2 experts (worst two" in r.output   # one gave the rest
    assert "not MLP-only fine-tunes of one base" in r.output and "is not expert j" in r.output


def test_assemble_of_mlp_only_experts_gives_no_parity_warning(trained, tmp_path):
    r = CliRunner().invoke(main, ["assemble", "math", "story", "--experts-root", str(trained / "experts"),
                                  "--router-init", "random", "--out", str(tmp_path / "moe")])
    assert r.exit_code == 0 and "parity failed" not in r.output, r.output


def test_gguf_check_that_cannot_run_fails_before_converting(tiny_moe, tmp_path, monkeypatch):
    import importlib.util
    if importlib.util.find_spec("llama_cpp") is not None:
        pytest.skip("llama-cpp-python is installed: the check can run")
    monkeypatch.setenv("SMOLMOE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("subprocess.run", lambda *a, **k: pytest.fail("something was fetched"))
    one_line_error(["export", tiny_moe, "--format", "gguf", "--out", tmp_path / "m.gguf"],
                   "--check", "llama-cpp-python is not installed", "--no-check")
    assert not (tmp_path / "m.gguf").exists()


def test_gguf_export_says_what_it_fetches(tiny_moe, tmp_path, monkeypatch):
    import subprocess
    monkeypatch.setenv("SMOLMOE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SMOLMOE_LLAMA_CPP", raising=False)
    calls = []

    def offline(args, **_k):
        calls.append(args)
        return subprocess.CompletedProcess(args, 1, "", "ERROR: no network here")
    monkeypatch.setattr("smolmoe.export.gguf.subprocess.run", offline)
    r = CliRunner().invoke(main, ["export", str(tiny_moe), "--format", "gguf", "--no-check",
                                  "--out", str(tmp_path / "m.gguf")])
    assert r.exit_code == 1 and len(calls) == 1 and "download" in calls[0]
    assert "fetching llama-cpp-python==" in r.output and "from PyPI" in r.output
    assert r.output.strip().splitlines()[-1].startswith("error: cannot fetch llama-cpp-python")
