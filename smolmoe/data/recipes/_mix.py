"""The rules on a domain's mix of sources and packages (issues #10, #21), checked on every build."""
from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import DataError


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
