"""The claims check's verdicts: a value past its threshold fails, a failed stage fails its claims."""
import importlib.util
import sys
from pathlib import Path
from helpers import REPO

SPEC = importlib.util.spec_from_file_location(
    "claims", REPO / "scripts" / "claims.py")
claims = sys.modules["claims"] = importlib.util.module_from_spec(SPEC)  # dataclasses look it up
SPEC.loader.exec_module(claims)


def test_values_are_compared_with_each_threshold_and_direction():
    bench = {"moe_per_token_cost_vs_dense": 2.5, "bf16_greedy_agreement": 0.99,
             "int8_greedy_agreement": 0.97}
    rows = {r["id"]: r for r in claims.check(claims.CLAIMS, {"bench": bench}, {})}
    assert set(rows) == {"bench.prefill_ratio", "bench.bf16_agreement",
                         "bench.int8_agreement"}                  # only stages run
    assert rows["bench.prefill_ratio"]["passed"] is False   # <= 2.0
    assert rows["bench.bf16_agreement"]["passed"] is True   # >= 0.98
    assert rows["bench.int8_agreement"]["passed"] is False  # >= 0.98


def test_a_failed_stage_or_a_missing_figure_fails_its_claims():
    rows = claims.check(claims.CLAIMS, {"bench": {"bf16_greedy_agreement": 1.0}}, {"rl": "exited 1"})
    by_id = {r["id"]: r for r in rows}
    assert by_id["rl.grpo_gain"]["passed"] is False and by_id["rl.grpo_gain"]["error"] == "exited 1"
    assert by_id["bench.prefill_ratio"]["passed"] is False
    assert "not measured" in by_id["bench.prefill_ratio"]["error"]
    assert "FAIL" in claims.table_markdown(rows)


def test_a_reported_figure_is_shown_but_never_fails():
    wall = next(c for c in claims.CLAIMS if c.op == claims.REPORT)
    [row] = claims.check([wall], {"demo": {"total_s": 10_000 * 60}}, {})
    assert row["passed"] and row["value"] == 10_000
    [row] = claims.check([wall], {}, {"demo": "exited 1"})
    assert not row["passed"]       # a stage that failed still fails its reported figures
    assert "reported" in claims.table_markdown([row])


def test_every_claim_names_its_document_and_a_known_stage():
    for c in claims.CLAIMS:
        assert c.stage in claims.STAGES and c.op in (">=", "<=", claims.REPORT) and c.where and c.spread
    assert len({c.id for c in claims.CLAIMS}) == len(claims.CLAIMS)
