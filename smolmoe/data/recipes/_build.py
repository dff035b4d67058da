"""build(): recipes -> de-duplicated, group-disjoint, capped train/val/test JSONL files."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable

from ...core.errors import DataError
from ...core.settings import setting
from ...core.io import atomic_dir, check_writable_target, write_json, write_jsonl

from ._checks import refusal_problem
from ._common import MAX_CHARS, _ANSI, _INVISIBLE, looks_garbled, stable_hash
from . import registry
from .sources import PACKAGES, Fetcher, supply_hint

SPLITS = ("train", "val", "test")
FOREIGN_SPLIT = "foreign"
MAX_EVAL_FRACTION = 0.10  # never hold out more than this share of a source's items per eval split


@dataclass(frozen=True)
class BuildSizes:
    """How many records a build keeps per domain (`smolmoe data build` takes its options here)."""
    max_train: int = setting(4000, ge=1, help="Most training records per domain.")
    max_eval: int = setting(300, ge=1, help="Most records per domain in val and in test.")


@dataclass(frozen=True)
class MixRules:
    """How varied a domain's train split must be (issues #10, #21): an expert trained mostly on
    one source learns that source's format, not the domain's skill, and a build that leans on
    one package breaks when that package stops being served.

    With sources missing (a package could not be had) a domain still builds from
    `degraded_min_sources`; its shares may then leave the min/max bounds and the package rules
    may break: both are recorded as warnings instead of failing the build."""
    min_sources: int = 3
    min_share: float = 0.10
    max_share: float = 0.50
    degraded_min_sources: int = 2
    min_packages: int = 2             # a domain's train sources come from this many packages
    max_package_share: float = 0.40   # of all training records of a full build, per package


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


def check_mix(domain: str, per_source: dict[str, int], rules: MixRules = MixRules(),
              degraded: bool = False, warnings: list[str] | None = None) -> dict[str, float]:
    """Each train source's share of the train split; DataError when the mix breaks `rules`.

    `degraded` (sources are missing): `rules.degraded_min_sources` suffice, and a share out of
    bounds is appended to `warnings` instead of raising."""
    total = sum(per_source.values())
    shares = {s: n / total for s, n in sorted(per_source.items())} if total else {}
    need = min(rules.min_sources, rules.degraded_min_sources) if degraded else rules.min_sources
    if len(shares) < need:
        raise DataError(f"domain '{domain}': train split has {len(shares)} source(s), "
                        f"needs at least {need}")
    for s, share in shares.items():
        if not rules.min_share <= share <= rules.max_share:
            _broken(f"domain '{domain}': source {s} is {share:.1%} of the train split "
                    f"(allowed {rules.min_share:.0%}-{rules.max_share:.0%})", degraded, warnings)
    return shares


def _broken(problem: str, degraded: bool, warnings: list[str] | None) -> None:
    """A rule broken: an error in a normal build, a warning when sources are missing."""
    if not degraded:
        raise DataError(problem)
    if warnings is not None:
        warnings.append(problem + " because sources are missing")


def check_packages(domain: str, per_package: dict[str, int], rules: MixRules = MixRules(),
                   degraded: bool = False, warnings: list[str] | None = None) -> None:
    """A domain's train sources must come from `rules.min_packages` packages (stdlib and the
    generators here count as one each)."""
    if len(per_package) < rules.min_packages:
        _broken(f"domain '{domain}': train sources come from {len(per_package)} package(s) "
                f"({', '.join(sorted(per_package))}), needs at least {rules.min_packages}",
                degraded, warnings)


def package_shares(per_package: dict[str, int], rules: MixRules = MixRules(),
                   degraded: bool = False, warnings: list[str] | None = None) -> dict[str, float]:
    """Each package's share of all training records of a build; DataError (a warning when
    sources are missing) when one supplies more than `rules.max_package_share`."""
    total = sum(per_package.values())
    shares = {p: round(n / total, 4) for p, n in sorted(per_package.items())} if total else {}
    for p, share in shares.items():
        if share > rules.max_package_share:
            _broken(f"package {p} supplies {share:.1%} of all training records "
                    f"(at most {rules.max_package_share:.0%} allowed)", degraded, warnings)
    return shares


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


def collect(recipe, fetch) -> tuple[list[dict], dict, list[dict]]:
    """Validated, length-filtered, exact-de-duplicated examples of one recipe, its stats, and
    its missing sources: [{"source", "package", "why", "role"}] for each source whose read
    raised SourceUnavailable or another DataError (nothing of it is kept).

    A recipe reports an example its own checks rejected by yielding `dropped(reason, source)`
    (see _common); those, and everything dropped here, are counted by reason in
    stats["dropped"]. Replies are checked against the refusal detector: a record carrying
    `"harmful"` must refuse exactly when it is harmful; in a recipe with HELPFUL_ONLY set,
    no reply may refuse.
    """
    seen, records = set(), []
    dropped: Counter = Counter()
    yielded = 0
    helpful_only = getattr(recipe, "HELPFUL_ONLY", False)
    raw, missing = _examples(recipe, fetch)
    for ex in raw:
        yielded += 1
        if isinstance(ex, dict) and "dropped" in ex:
            dropped[str(ex["dropped"])] += 1
            continue
        harmful = ex.get("harmful") if isinstance(ex, dict) else None
        ex = _sanitize(ex, recipe.DOMAIN)
        if ex is None:
            dropped["invalid"] += 1
            continue
        if sum(len(m["content"]) for m in ex["messages"]) > MAX_CHARS:
            dropped["too_long"] += 1
            continue
        problem = refusal_problem(ex["messages"][-1]["content"], bool(harmful)) \
            if harmful is not None or helpful_only else None
        if problem:
            dropped[problem] += 1
            continue
        key = json.dumps([[m["role"], m["content"]] for m in ex["messages"]], ensure_ascii=False)
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        ex["_key"] = key
        records.append(ex)
    if not records:
        error = DataError(f"recipe '{recipe.DOMAIN}' produced no usable examples")
        error.missing = missing
        raise error
    stats = {"yielded": yielded, "kept": len(records), "dropped": dict(sorted(dropped.items()))}
    return records, stats, missing


def _examples(recipe, fetch) -> tuple[list, list[dict]]:
    """Every source's examples, one source after another (each Source reads only its own),
    and the sources that could not be read. A source is read whole before any of it is kept,
    so one that fails halfway leaves nothing behind."""
    out, missing = [], []
    foreign = getattr(recipe, "FOREIGN", None)
    for source in recipe.SOURCES:
        try:
            items = list(source.read(fetch))
        except DataError as e:   # SourceUnavailable, or a file the package no longer has
            missing.append({"source": source.name, "package": source.package, "why": str(e),
                            "role": "foreign" if source.name == foreign else "train"})
            continue
        out.extend(items)
    return out, missing


def _take_foreign(domain: str, records: list[dict], foreign: str | None,
                  stats: dict) -> tuple[list[dict], list[dict]]:
    """Split off the held-out source's records; drop any that repeat a training prompt."""
    if not foreign:
        return records, []
    rest = [r for r in records if r["source"] != foreign]
    held = [r for r in records if r["source"] == foreign]
    if not held:
        raise DataError(f"recipe '{domain}': its foreign source {foreign} yielded no examples")
    shared = {r["group"] for r in rest} & {r["group"] for r in held}
    if shared:
        raise DataError(f"recipe '{domain}': group {sorted(shared)[0]} is in both the foreign "
                        f"source and a training source")
    prompts = {_prompt(r) for r in rest}
    kept = [r for r in held if _prompt(r) not in prompts]
    if len(kept) < len(held):
        stats["dropped"]["foreign_prompt_in_train"] = len(held) - len(kept)
    return rest, kept


def _prompt(r: dict) -> str:
    return json.dumps(r["messages"][:-1], ensure_ascii=False)  # everything but the reply


def _source_entry(source, foreign: str | None, shares: dict[str, float],
                  missing: list[dict]) -> dict:
    role = "foreign" if source.name == foreign else "train"
    if source.name in {m["source"] for m in missing}:
        return {**source.as_dict(), "role": role, "missing": True}
    if role == "foreign":
        return {**source.as_dict(), "role": role}
    return {**source.as_dict(), "role": role, "share": round(shares.get(source.name, 0.0), 4)}


def _sanitize(ex: dict, domain: str) -> dict | None:
    """Check a recipe's example and strip control junk; None for an unusable example."""
    try:
        msgs = ex["messages"]
        source, group = ex["source"], ex["group"]
    except (KeyError, TypeError):
        raise DataError(f"recipe '{domain}' yielded a malformed example: {str(ex)[:120]}") from None
    if not (isinstance(source, str) and isinstance(group, str) and isinstance(msgs, list) and msgs):
        raise DataError(f"recipe '{domain}' yielded a malformed example: {str(ex)[:120]}")
    out = []
    # An optional system message first (e.g. a role to play), then user/assistant turns.
    offset = 1 if isinstance(msgs[0], dict) and msgs[0].get("role") == "system" else 0
    for i, m in enumerate(msgs):
        expected = "system" if i < offset else "user" if (i - offset) % 2 == 0 else "assistant"
        if not isinstance(m, dict) or m.get("role") != expected or not isinstance(m.get("content"), str):
            raise DataError(f"recipe '{domain}' yielded turns out of order in {source} {group}")
        text = _INVISIBLE.sub("", _ANSI.sub("", m["content"])).strip()
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates from a broken source file
            return None
        if not text or looks_garbled(text):
            return None
        out.append({"role": expected, "content": text})
    if out[-1]["role"] != "assistant" or len(out) < 2 + offset:
        return None
    clean = {"messages": out, "source": source, "group": group}
    harmful = ex.get("harmful")
    if harmful is not None:  # guardian: is the reference reply a refusal of a harmful prompt?
        if not isinstance(harmful, bool):
            raise DataError(f"recipe '{domain}' yielded a non-boolean 'harmful' in {source} {group}")
        clean["harmful"] = harmful
    return clean


def _output(r: dict, domain: str) -> dict:
    """The JSONL record: messages, domain, source, group, and "harmful" where the recipe set it."""
    out = {"messages": r["messages"], "domain": domain, "source": r["source"], "group": r["group"]}
    if "harmful" in r:
        out["harmful"] = r["harmful"]
    return out


def _merge_groups(records: list[dict]) -> dict[str, str]:
    """Group id -> representative id, merging groups that share an identical prompt.

    Two source items that ask exactly the same thing must land in the same split, or a test
    prompt would be trained on under another item's name.
    """
    parent: dict[str, str] = {}

    def find(g):
        parent.setdefault(g, g)
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    first_group_of_prompt: dict[str, str] = {}
    for r in records:
        g = find(r["group"])
        other = first_group_of_prompt.setdefault(_prompt(r), g)
        a, b = find(other), g
        if a != b:
            parent[max(a, b)] = min(a, b)  # deterministic: the smaller id represents
    return {g: find(g) for g in list(parent)}


def split(records: list[dict], seed: int, max_eval: int) -> dict[str, list[dict]]:
    """Assign whole source items (groups) to splits by a seeded, process-stable hash.

    The held-out share is set per source: enough items for that source's fair part of
    max_eval (twice over, for slack), never more than MAX_EVAL_FRACTION. So a 15k-item
    source gives up 0.5% of its items and a 400-item one 10%, and val/test keep the same
    source mix as the (fairly capped) training split.
    """
    rep = _merge_groups(records)
    source_of = {}
    for r in records:
        source_of.setdefault(rep[r["group"]], r["source"])
    sizes = defaultdict(int)
    for source in source_of.values():
        sizes[source] += 1
    wanted = 2 * max_eval / len(sizes)
    frac = {s: min(MAX_EVAL_FRACTION, wanted / n) for s, n in sizes.items()}
    out = {s: [] for s in SPLITS}
    for r in records:
        g = rep[r["group"]]
        f = frac[source_of[g]]
        u = stable_hash(seed, "split", g) / 2**64
        out["test" if u < f else "val" if u < 2 * f else "train"].append(r)
    return out


def cap(records: list[dict], limit: int, seed: int) -> list[dict]:
    """Keep at most `limit` records, sharing the budget fairly between sources.

    Each source gets an equal quota (a small source keeps everything, the rest is shared
    by the big ones), so e.g. 15k arithmetic items cannot crowd out 2k strategyqa ones.
    """
    if len(records) <= limit:
        return records
    by_source = defaultdict(list)
    for r in records:
        by_source[r["source"]].append(r)
    for items in by_source.values():
        items.sort(key=lambda r: stable_hash(seed, "cap", r["_key"]))
    quota = {s: 0 for s in by_source}
    left = limit
    while left > 0:
        open_ = sorted(s for s in by_source if quota[s] < len(by_source[s]))
        share = max(1, left // len(open_))
        for s in open_:
            take = min(share, len(by_source[s]) - quota[s], left)
            quota[s] += take
            left -= take
            if left == 0:
                break
    return [r for s in sorted(by_source) for r in by_source[s][:quota[s]]]


def order(records: list[dict], seed: int) -> list[dict]:
    """A seeded shuffle, so files do not come in blocks of one source."""
    return sorted(records, key=lambda r: stable_hash(seed, "order", r["_key"]))


def _per_source(records: list[dict]) -> dict[str, int]:
    counts = defaultdict(int)
    for r in records:
        counts[r["source"]] += 1
    return dict(sorted(counts.items()))
