"""`smolmoe inspect`: which experts handled a prompt, per layer and per token."""
import json

from click.testing import CliRunner

from smolmoe.cli.main import main

from helpers.tiny_models import merge_trained


def test_inspect_shows_layers_usage_and_tokens(trained, tmp_path):
    moe = tmp_path / "moe"
    merge_trained(trained, moe, router_init="fit")
    r = CliRunner().invoke(main, ["inspect", "add 3 plus 4", "--moe", str(moe), "--generate", "4",
                                  "--json", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "r.json").read_text())
    view = report["prompt_view"]
    assert [row["layer"] for row in view["layers"]] == [0, 1]
    assert abs(sum(view["usage"].values()) - 1) < 1e-6
    assert "".join(t for t, _ in view["tokens"]) == "add 3 plus 4"
    assert report["answer_view"] is None or len(report["answer_view"]["tokens"]) <= 4
    assert "top experts per layer" in r.output and "overall usage" in r.output
    bad = CliRunner().invoke(main, ["inspect", "hi", "--moe", str(moe), "--layer", "9"])
    assert bad.exit_code == 1 and "--layer must be between 0 and 1" in bad.output
