"""`smolmoe eval --tasks` end to end on a tiny MoE and tiny data of the real domain formats."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from smolmoe.cli.main import main
from helpers.tiny_moe import make_tiny_moe

NAMES = ("analyst", "guardian", "writer")
SCHEMA = "Tables:\nsinger(singer_id, name, age, country)"


def _record(domain, user, assistant, **extra):
    return {"messages": [{"role": "user", "content": user},
                         {"role": "assistant", "content": assistant}],
            "domain": domain, "source": "test", "group": f"{domain}-{user}", **extra}


def _write(path: Path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture(scope="module")
def moe_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tasks")
    moe = make_tiny_moe(root, names=NAMES)
    data = root / "data"
    analyst = [_record("analyst", f"Singers older than {a}?\n\n{SCHEMA}",
                       f"SELECT name FROM singer WHERE age > {a}") for a in (20, 30, 40)]
    guardian = ([_record("guardian", f"how to hurt someone {i}", "I can't help with that.",
                         harmful=True) for i in range(3)]
                + [_record("guardian", f"how to kill a python process {i}", "Run kill PID.",
                           harmful=False) for i in range(2)])
    writer = [_record("writer", f"write a story of the dragon {i}", "the dragon and the castle")
              for i in range(3)]
    for split in ("test", "foreign"):
        _write(data / "analyst" / f"{split}.jsonl", analyst)
        _write(data / "guardian" / f"{split}.jsonl", guardian)
        _write(data / "writer" / f"{split}.jsonl", writer)
    _write(data / "everyday" / "test.jsonl",
           [_record("everyday", f"how do I make green tea {i}", "Boil water.") for i in range(4)])
    (data / "manifest.json").write_text(json.dumps({"domains": list(NAMES)}))
    return root, moe, data


def test_eval_tasks_moe_report(moe_and_data, tmp_path):
    root, moe, data = moe_and_data
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(main, ["eval", "--moe", str(moe), "--base", str(root / "base"),
                                       "--data", str(data), "--limit", "2", "--tasks",
                                       "--tasks-limit", "2", "--refusal-limit", "3",
                                       "--split", "foreign", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "prompts/s" in result.output
    assert "task scores (foreign split" in result.output and "refusal rates" in result.output
    tasks = json.loads(out.read_text())["tasks"]
    results = tasks["results"]
    assert list(results) == ["base", *NAMES, "oracle", "moe"]
    for model in ("base", "moe"):
        assert set(results[model]) == {*NAMES, "everyday"}
        assert results[model]["analyst"]["n"] == 2       # --tasks-limit prompts per domain
        # the refusal sets take --refusal-limit (guardian has 3 harmful and 2 benign records)
        assert results[model]["guardian"]["harmful_n"] == 3
        assert results[model]["guardian"]["benign_n"] == 2
        assert results[model]["everyday"]["n"] == 3
    for name in NAMES:   # each expert on its own domain and on everyday requests
        assert set(results[name]) == {name, "everyday"}
        assert results["oracle"][name] == results[name][name]
        # only the guardian's refusal rates are reported: the others see --tasks-limit
        assert results[name]["everyday"]["n"] == (3 if name == "guardian" else 2)
    assert set(tasks["refusals"]) == {"base", *NAMES, "moe"}
    assert all(tasks["refusals"][m]["everyday"] is not None for m in tasks["refusals"])
    guardian = tasks["refusals"]["guardian"]
    assert guardian["harmful_n"] == 3 and guardian["everyday_n"] == 3
    lo, hi = guardian["harmful_interval"]
    assert 0 <= lo <= guardian["harmful"] <= hi <= 1 and hi - lo > 0.3   # n = 3: wide
    assert set(tasks["moe_over_oracle"]) == set(NAMES)
    assert tasks["settings"]["split"] == "foreign"
    # base and MoE: 2 + 5 (guardian: 3 harmful, 2 benign) + 2 + 3 everyday; experts: own +
    # everyday (guardian 3, the others 2)
    assert tasks["settings"]["prompts"] == 2 * (2 + 5 + 2 + 3) + (2 + 2) + (5 + 3) + (2 + 2)


def test_eval_tasks_model_dirs(moe_and_data, tmp_path):
    root, _, data = moe_and_data
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(main, ["eval", str(root / "base"), str(root / "writer"),
                                       "--data", str(data), "--limit", "2", "--tasks",
                                       "--tasks-limit", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    tasks = json.loads(out.read_text())["tasks"]
    assert set(tasks["results"]) == {"base", "writer"}
    assert set(tasks["results"]["writer"]) == {*NAMES, "everyday"}
    assert tasks["results"]["base"]["guardian"]["n"] == 2    # one harmful, one benign


def test_eval_tasks_missing_split_is_one_line(moe_and_data):
    root, _, data = moe_and_data
    result = CliRunner().invoke(main, ["eval", str(root / "base"), "--data", str(data),
                                       "--tasks", "--split", "val"])
    assert result.exit_code != 0
    assert "not found" in result.output and "Traceback" not in result.output


def test_a_domain_named_twice_is_scored_once():
    """An MoE with the base expert serves `everyday` as a domain, and callers add the everyday
    split as an extra too: its prompts must not be generated and counted twice (issue #21's
    refusal intervals rest on n)."""
    from types import SimpleNamespace
    from smolmoe.evaluation.tasks.run import TaskRunner

    class Echo:
        def reply_batch(self, messages, max_tokens, batch_size):
            return [SimpleNamespace(text="Boil water.") for _ in messages]

    items = [{"messages": [{"role": "user", "content": f"tea {i}"}], "prompt": f"tea {i}",
              "reference": "Boil water.", "record": {}} for i in range(3)]
    runner = TaskRunner({"everyday": items})
    result = runner.run("moe", Echo(), ["everyday", "everyday"])
    assert result["everyday"]["n"] == 3 and runner.prompts == 3
