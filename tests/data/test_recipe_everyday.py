"""everyday: cheat-sheet commands, conversions and dates; numbers re-checked, harmful-sounding
and non-shell entries dropped, nothing refused, written only by full builds."""
from __future__ import annotations

import calendar
import datetime as dt
import re

from helpers.fake_fetch import FakeFetch

from smolmoe.data.recipes import everyday
from smolmoe.data.recipes._collect import collect
from smolmoe.data.recipes._checks import evaluate_arithmetic
from smolmoe.data.refusal import is_refusal

SHEET_DIR = "cheat-2.5.1/cheat/cheatsheets/"
TAR = """# To extract an uncompressed archive:
tar -xvf /path/to/foo.tar

# To create a .gz archive:
tar -czvf /path/to/foo.tgz /path/to/foo/

# To use parallel (multi-threaded) implementation of compression algorithms:
tar -z ... -> tar -Ipigz ...
"""
SCREEN = """# To detach from the session:
Ctrl-a d
"""
SQLMAP = """# To run an sql injection against a url:
sqlmap -u "http://example.com/?id=1"
"""
CURL = """# To download a file:
curl -O https://example.com/file.txt

# To crack a password hash with a wordlist:
curl -s https://example.com | hashcat hash.txt
"""


def fake_files(tmp_path) -> dict:
    return {("cheat", SHEET_DIR + "tar"): TAR, ("cheat", SHEET_DIR + "screen"): SCREEN,
            ("cheat", SHEET_DIR + "sqlmap"): SQLMAP, ("cheat", SHEET_DIR + "curl"): CURL}


def _records(tmp_path):
    records, stats, missing = collect(everyday, FakeFetch(fake_files(tmp_path)))
    assert missing == []
    return records, stats


def test_cheat_entries_become_requests_with_the_sheet_command(tmp_path):
    records, stats = _records(tmp_path)
    cheat = {r["messages"][0]["content"]: r["messages"][1]["content"]
             for r in records if r["source"] == "cheat/sheets"}
    assert len(cheat) == 3
    tar = next(a for q, a in cheat.items() if "extract an uncompressed archive" in q)
    assert "```sh\ntar -xvf /path/to/foo.tar\n```" in tar and "tar" in tar
    assert all("curl" in q or "tar" in q for q in cheat)
    dropped = stats["dropped"]
    assert dropped["cheat_unclear_entry"] == 1           # the "... -> ..." pseudo-command
    assert dropped["cheat_not_a_shell_command"] == 1     # screen's key binding
    assert dropped["sounds_harmful"] == 1                # the password-cracking line
    assert not any("sqlmap" in q for q in cheat)          # that sheet is skipped whole


def test_no_reference_answer_refuses_and_numbers_are_right(tmp_path):
    records, _ = _records(tmp_path)
    assert all(not is_refusal(r["messages"][-1]["content"]) for r in records)
    sources = {r["source"] for r in records}
    assert sources == {"cheat/sheets", "generator/conversions", "generator/dates"}
    checked = 0
    for r in records:
        answer = r["messages"][-1]["content"]
        m = re.search(r": ([\d.() ×÷+/−-]+?) = ([\d.,]+)\.", answer)
        if r["source"] == "generator/conversions" and m:
            expr = m.group(1).replace("/", "/")
            assert abs(evaluate_arithmetic(expr.replace("−", "-")) -
                       float(m.group(2).replace(",", ""))) <= 0.01, answer
            checked += 1
    assert checked > 100
    weekday = next(r for r in records if r["group"] == "weekday:2025-01-01")
    assert weekday["messages"][-1]["content"] == "January 1, 2025 is a Wednesday."
    tz = next(r for r in records if r["group"] == "tz:Tokyo:Mumbai:7")
    assert tz["messages"][-1]["content"].startswith("It's 03:30 (3:30 am) in Mumbai.")
    leap = next(r for r in records if r["group"] == "leap:2028")
    assert leap["messages"][-1]["content"].startswith("Yes, 2028 is a leap year")
    assert calendar.isleap(2028) and dt.date(2025, 1, 1).weekday() == 2


def test_enough_items_for_the_test_and_router_splits(tmp_path):
    records, _ = _records(tmp_path)
    generated = {r["group"] for r in records if r["source"].startswith("generator/")}
    # without the cheat sheets the generators alone still fill test (300) + train (600)
    assert len(generated) >= everyday.SIZE + everyday.TRAIN_SIZE // 2
    assert len({r["group"] for r in records}) == len(records)


def test_without_cheat_the_generators_still_build(tmp_path):
    fetch = FakeFetch(fake_files(tmp_path), unavailable={"cheat"})
    records = []
    for source in everyday.SOURCES:
        try:
            records += [r for r in source.read(fetch) if "dropped" not in r]
        except Exception as e:  # the fetcher raises for the missing package only
            assert source.package == "cheat", e
    assert {r["source"] for r in records} == {"generator/conversions", "generator/dates"}
