"""build(): recipes -> de-duplicated, group-disjoint, capped train/val/test JSONL files, each
domain read (_collect.py), checked against the mix rules (_mix.py) and split (_split.py)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

from ...core.errors import DataError
from ...core.io import atomic_dir, check_writable_target, write_json, write_jsonl
from ...core.settings import setting
from . import registry
from ._collect import _output, collect
from ._common import MAX_CHARS, stable_hash
from ._mix import MixRules, check_mix, check_packages, package_shares
from ._split import FOREIGN_SPLIT, SPLITS, _per_source, _take_foreign, cap, order, split
from .sources import PACKAGES, Fetcher, supply_hint


@dataclass(frozen=True)
class BuildSizes:
    """How many records a build keeps per domain (`smolmoe data build` takes its options here)."""
    max_train: int = setting(4000, ge=1, help="Most training records per domain.")
    max_eval: int = setting(300, ge=1, help="Most records per domain in val and in test.")


class DomainFailed(DataError):
    """A domain that lost too many sources to build: it fails alone, the others are written."""

    def __init__(self, domain: str, message: str):
        super().__init__(message)
        self.domain = domain


class BuildReport(dict):
    """{domain: {"train", "val", "test", "foreign", "shares", "foreign_source", "note",
    "missing", "warnings"}} for every domain that was written, plus, as attributes:
    `failed` {domain: one-line reason} (domains and extra splits that were not written),
    `missing` {domain: [{"source", "package", "why", "role"}]} and `warnings` (lines to show)."""

    def __init__(self):
        super().__init__()
        self.failed: dict[str, str] = {}
        self.missing: dict[str, list[dict]] = {}
        self.warnings: list[str] = []


def extra_splits(names) -> list:
    """The general splits a build of these domains also writes: everyday, on full builds."""
    if set(names) != set(registry.DOMAINS):
        return []
    from . import everyday
    return [everyday]


def build_steps(names) -> int:
    """How many on_progress 'done' calls a build of these domains makes (for a progress bar)."""
    return len(set(names)) + len(extra_splits(names))


def build(out_dir, domains=None, seed: int = 0, cache_dir=None, overwrite: bool = False,
          max_train: int = BuildSizes.max_train, max_eval: int = BuildSizes.max_eval,
          on_progress: Callable[[str, str], None] | None = None, fetch=None,
          mix: MixRules = MixRules(), sources_dir=None) -> BuildReport:
    """Build `<out_dir>/<domain>/{train,val,test,foreign}.jsonl` + meta.json, and manifest.json.

    `fetch` replaces the package fetcher (tests pass a fake); by default archives are read from
    `sources_dir` (or `$SMOLMOE_SOURCES`) first, else downloaded into `cache_dir` (default
    `<SMOLMOE_HOME>/sources`). A recipe's `FOREIGN` source goes whole to foreign.jsonl and
    nowhere else. A full build (every domain) also writes the everyday split (test, and train
    for the routers only), listed in the manifest's "extra", and checks that no package
    supplies more than `mix.max_package_share` of all training records. `mix` is the rule on
    train sources (tests with tiny recipes relax it).

    Each source is read on its own: one whose package cannot be had (SourceUnavailable, or any
    DataError while reading it) is missing, not its domain. The domain builds from the rest
    (meta.json lists `missing` and the quota change), without foreign.jsonl if the foreign
    source is the missing one; a domain left with too few sources fails alone, with one line
    naming the packages and how to supply them. Other errors (a recipe's bug, a mix that breaks
    the rules with every source there) fail the whole build. The output directory is written
    atomically: every domain directory in it is complete, the failed ones are absent and listed
    in manifest.json's "failed". Returns a BuildReport.
    """
    if isinstance(domains, str):
        domains = [domains]
    names = list(registry.DOMAINS) if domains is None else [registry.get_recipe(d).DOMAIN for d in domains]
    recipes = [registry.get_recipe(n) for n in dict.fromkeys(names)]
    # Held-out general splits come with full builds only (all domains, however they were named).
    extras = extra_splits(names)
    full = set(names) == set(registry.DOMAINS)
    check_writable_target(out_dir, overwrite)  # before minutes of reading sources
    if fetch is None:
        fetch = Fetcher(cache_dir, local_dir=sources_dir)
    progress = on_progress or (lambda domain, stage: None)

    report = BuildReport()
    built = {}
    for recipe in recipes:
        progress(recipe.DOMAIN, "collect")
        try:
            built[recipe.DOMAIN] = _build_domain(recipe, fetch, seed, max_train, max_eval, mix,
                                                 progress)
        except DomainFailed as e:
            report.failed[e.domain] = str(e)
        progress(recipe.DOMAIN, "done")
    degraded = bool(report.failed) or any(b["missing"] for b in built.values())
    per_package = defaultdict(int)
    for b in built.values():
        for package, n in b["per_package"].items():
            per_package[package] += n
    whole_build: list[str] = []
    shares = package_shares(per_package, mix, degraded, whole_build) if full else {}

    manifest = {"seed": seed, "max_train": max_train, "max_eval": max_eval, "domains": {},
                "failed": {}, "missing": {}, "package_shares": shares}
    with atomic_dir(out_dir, overwrite) as tmp:
        for domain, b in built.items():
            for s, recs in b["splits"].items():
                write_jsonl(tmp / domain / f"{s}.jsonl", (_output(r, domain) for r in recs))
            write_json(tmp / domain / "meta.json", b["meta"])
            manifest["domains"][domain] = b["meta"]["counts"]
            report[domain] = b["report"]
            if b["missing"]:
                report.missing[domain] = manifest["missing"][domain] = b["missing"]
            report.warnings.extend(b["warnings"])
        for extra in extras:
            progress(extra.DOMAIN, "collect")
            try:
                manifest.setdefault("extra", {})[extra.DOMAIN], missing = \
                    _write_extra(tmp, extra, fetch, seed)
                if missing:
                    report.missing[extra.DOMAIN] = manifest["missing"][extra.DOMAIN] = missing
            except DomainFailed as e:
                report.failed[e.domain] = str(e)
            progress(extra.DOMAIN, "done")
        report.warnings.extend(whole_build)
        manifest["failed"] = dict(report.failed)
        manifest["warnings"] = list(report.warnings)
        write_json(tmp / "manifest.json", manifest)
    return report


def _build_domain(recipe, fetch, seed, max_train, max_eval, mix, progress) -> dict:
    """One domain's splits, meta.json and report entry, in memory. DomainFailed when sources
    are missing and what is left cannot make the domain; DataError for a recipe's own bug."""
    domain = recipe.DOMAIN
    foreign_name = getattr(recipe, "FOREIGN", None)
    if foreign_name and foreign_name not in {src.name for src in recipe.SOURCES}:
        raise DataError(f"recipe '{domain}': FOREIGN {foreign_name} is not one of its SOURCES")
    try:
        records, stats, missing = collect(recipe, fetch)
    except DataError as e:   # nothing usable: a domain failure only if sources were missing
        if not getattr(e, "missing", None):
            raise
        raise DomainFailed(domain, _failure_line(domain, e, e.missing)) from None
    warnings: list[str] = []
    try:
        progress(domain, "split")
        missing_names = {m["source"] for m in missing}
        if foreign_name in missing_names:
            warnings.append(f"domain '{domain}': its foreign source {foreign_name} is missing: "
                            f"no foreign.jsonl")
        held_out = foreign_name if foreign_name not in missing_names else None
        records, foreign = _take_foreign(domain, records, held_out, stats)
        splits = split(records, seed, max_eval)
        caps = {"train": max_train, "val": max_eval, "test": max_eval}
        splits = {s: order(cap(splits[s], caps[s], seed), seed) for s in SPLITS}
        if held_out:
            splits[FOREIGN_SPLIT] = order(cap(foreign, max_eval, seed), seed)
        per_source = {s: _per_source(recs) for s, recs in splits.items()}
        shares = check_mix(domain, per_source["train"], mix, bool(missing), warnings)
        package_of = {src.name: src.package for src in recipe.SOURCES}
        per_package = defaultdict(int)
        for s, n in per_source["train"].items():
            per_package[package_of.get(s, s)] += n
        check_packages(domain, per_package, mix, bool(missing), warnings)
    except DataError as e:
        if not missing:
            raise
        raise DomainFailed(domain, _failure_line(domain, e, missing)) from None
    train_sources = [s.name for s in recipe.SOURCES if s.name != foreign_name]
    quota = None
    if any(m["role"] == "train" for m in missing):
        before, after = len(train_sources), len(per_source["train"])
        quota = {"train_sources_planned": before, "train_sources_built": after,
                 "quota_before": max_train // max(before, 1), "quota_after": max_train // max(after, 1),
                 "note": (f"the missing sources' share went to the other {after} train sources: "
                          f"the train cap's equal quota per source rose from "
                          f"{max_train // max(before, 1)} to {max_train // max(after, 1)} records")}
    counts = {s: len(recs) for s, recs in splits.items()}
    meta = {
        "domain": domain, "description": recipe.DESCRIPTION,
        "sources": [_source_entry(s, foreign_name, shares, missing) for s in recipe.SOURCES],
        "foreign_source": held_out,
        "counts": counts, "seed": seed, "note": recipe.NOTE,
        "per_source": per_source,
        "package_shares": {p: round(n / sum(per_package.values()), 4)
                           for p, n in sorted(per_package.items())},
        "benchmarks": sorted(s.name for s in recipe.SOURCES if s.benchmark),
        "missing": missing, **({"quota": quota} if quota else {}), "warnings": warnings,
        "stats": {**stats, "max_train": max_train, "max_eval": max_eval, "max_chars": MAX_CHARS}}
    entry = {**counts, "shares": shares, "foreign_source": held_out, "note": recipe.NOTE,
             "missing": missing, "warnings": warnings}
    return {"splits": splits, "meta": meta, "report": entry, "missing": missing,
            "warnings": warnings, "per_package": dict(per_package)}


def _failure_line(domain: str, error: Exception, missing: list[dict]) -> str:
    """The one line a domain that lost too many sources fails with: what is missing, how to
    supply it."""
    packages = list(dict.fromkeys(m["package"] for m in missing))
    what = ", ".join(f"{m['source']} ({_spec(m['package'])})" for m in missing)
    reason = str(error).removeprefix(f"domain '{domain}': ").removeprefix(f"recipe '{domain}' ")
    return f"domain '{domain}' not built: {reason}; missing {what}. To supply: {supply_hint(packages)}"


def _spec(package: str) -> str:
    pin = PACKAGES.get(package)
    return f"{pin.name}=={pin.version}" if pin else package


def _write_extra(tmp, extra, fetch, seed: int) -> tuple[dict, list[dict]]:
    """A split from a source no domain uses (e.g. everyday requests): test.jsonl, and where the
    recipe asks for one (TRAIN_SIZE) a group-disjoint train.jsonl that only the routers use.
    Returns the manifest entry and the missing sources; DomainFailed when none could be read."""
    names = {s.name for s in extra.SOURCES}
    for domain in registry.DOMAINS:
        shared = names & {s.name for s in registry.get_recipe(domain).SOURCES}
        if shared:
            raise DataError(f"the {extra.DOMAIN} split's source {sorted(shared)[0]} is also used "
                            f"by domain '{domain}': it would not be held out")
    try:
        records, stats, missing = collect(extra, fetch)
    except DataError as e:
        lost = getattr(e, "missing", None)
        if not lost:
            raise
        raise DomainFailed(extra.DOMAIN, _failure_line(extra.DOMAIN, e, lost)) from None
    # Whole groups to test first (by a seeded hash), the rest to train: no goal in both.
    groups = sorted({r["group"] for r in records}, key=lambda g: stable_hash(seed, "extra", g))
    test_groups = set(groups[:extra.SIZE])
    splits = {"test": [r for r in records if r["group"] in test_groups],
              "train": [r for r in records if r["group"] not in test_groups]}
    sizes = {"test": extra.SIZE, "train": getattr(extra, "TRAIN_SIZE", 0)}
    counts = {}
    for name, part in splits.items():
        if not (sizes[name] and part):
            continue
        part = order(cap(part, sizes[name], seed), seed)
        write_jsonl(tmp / extra.DOMAIN / f"{name}.jsonl", (_output(r, extra.DOMAIN) for r in part))
        counts[name] = len(part)
    write_json(tmp / extra.DOMAIN / "meta.json", {
        "domain": extra.DOMAIN, "description": extra.DESCRIPTION,
        "sources": [{**s.as_dict(), "role": "general"} for s in extra.SOURCES],
        "counts": counts, "seed": seed, "missing": missing, "stats": stats})
    built = sorted(names - {m["source"] for m in missing})
    return {**counts, "sources": built}, missing


def _source_entry(source, foreign: str | None, shares: dict[str, float],
                  missing: list[dict]) -> dict:
    role = "foreign" if source.name == foreign else "train"
    if source.name in {m["source"] for m in missing}:
        return {**source.as_dict(), "role": role, "missing": True}
    if role == "foreign":
        return {**source.as_dict(), "role": role}
    return {**source.as_dict(), "role": role, "share": round(shares.get(source.name, 0.0), 4)}


