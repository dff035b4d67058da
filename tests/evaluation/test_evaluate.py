"""Per-domain losses: token-weighted over assistant tokens only; how each expert is scored."""
import pytest

from smolmoe.data.records import encode_records, load_records, split_path
from smolmoe.core.errors import DataError
from smolmoe.evaluation.loss import evaluate, loss_on_records, mean_loss, moe_evaluate
from smolmoe.evaluation.oracle import expert_scoring
from smolmoe.moe.meta import MoeMeta
from smolmoe.core.modeldir import load_model, load_tokenizer



def test_loss_counts_assistant_tokens_and_does_not_depend_on_batching(tiny_dir, tiny_data):
    model, tok = load_model(tiny_dir), load_tokenizer(tiny_dir)
    records = load_records(split_path(tiny_data, "math", "test"))
    one = loss_on_records(model, tok, records, batch_size=1)
    many = loss_on_records(model, tok, records, batch_size=8)
    labelled = sum(sum(l != -100 for l in e["labels"][1:]) for e in encode_records(tok, records, 384))
    assert one["tokens"] == many["tokens"] == labelled and one["records"] == len(records)
    assert abs(one["loss"] - many["loss"]) < 1e-5     # token-weighted, not a mean of batch means


def test_mean_loss_weights_domains_by_tokens():
    assert mean_loss({"a": {"loss": 1.0, "tokens": 30}, "b": {"loss": 4.0, "tokens": 10}}) == 1.75


def test_evaluate_scores_only_the_pairs_asked_for(tiny_dir, tiny_data):
    report = evaluate({"x": tiny_dir, "y": tiny_dir}, tiny_data, ["math", "story"], limit=2,
                      pairs=lambda model, domain: (model, domain) != ("y", "story"))
    assert set(report["results"]["x"]) == {"math", "story"} and set(report["results"]["y"]) == {"math"}
    assert report["results"]["x"]["math"] == report["results"]["y"]["math"]


def test_expert_scoring_prefers_the_dense_directory(tiny_dir, tmp_path):
    meta = MoeMeta.from_doc({"experts": [{"name": "exact", "domain": "math"}, {"name": "off", "domain": "story"}],
                             "parity_max_abs_logit_diff": {"exact": 1e-6, "off": 0.5}})
    assert expert_scoring(meta, {"name": "exact", "source": str(tiny_dir)}) == (tiny_dir, f"dense {tiny_dir}")
    gone = str(tmp_path / "gone")
    assert expert_scoring(meta, {"name": "exact", "source": gone}) == (None, "forced")
    assert expert_scoring(meta, {"name": "off", "source": gone})[1] == "forced (not exact: dense dir missing)"


def test_moe_evaluate_needs_a_split_of_some_expert_domain(tiny_moe, tmp_path):
    with pytest.raises(DataError, match="none of the MoE's expert domains"):
        moe_evaluate(tiny_moe, tmp_path)
