"""settings.py: one declaration per field is what check() enforces."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from smolmoe.core.config import MergeConfig, RouterSettings, TrainSettings
from smolmoe.core.errors import ConfigError
from smolmoe.core.settings import bounds, check, describe_bounds, field_type, setting, specs


@dataclass
class Toy:
    n: int = setting(3, ge=1, le=10, help="a count")
    rate: float = setting(0.5, gt=0, lt=1, help="an open interval")
    mode: Literal["a", "b"] = setting("a", help="a choice")
    budget: int | None = setting(None, ge=0, label="the budget")
    names: list[str] = setting(default_factory=list)
    flag: bool = setting(False)
    free: int = 7     # not a setting: never checked


@pytest.mark.parametrize("field, value, message", [
    ("n", 0, "n must be between 1 and 10, got 0"),
    ("n", 11, "n must be between 1 and 10, got 11"),
    ("n", 2.5, "n must be a whole number"),
    ("n", True, "n must be a number"),
    ("rate", 1, "rate must be in (0, 1), got 1"),
    ("rate", float("nan"), "rate must be a finite number"),
    ("rate", float("inf"), "rate must be a finite number"),
    ("mode", "c", "mode must be one of a, b, got 'c'"),
    ("budget", -1, "the budget must be >= 0, got -1"),
    ("names", ["x", ""], "names must be non-empty"),
    ("flag", "yes", "flag must be true or false"),
])
def test_check_refuses_each_bad_value_naming_the_field(field, value, message):
    with pytest.raises(ConfigError) as e:
        check(Toy(**{field: value}))
    assert str(e.value).startswith(message)


def test_check_accepts_the_edges_and_none_where_optional():
    assert check(Toy(n=1, rate=0.999, mode="b", budget=None, names=["x"], flag=True, free=-5))
    assert check(Toy(n=10, budget=0))


def test_declarations_resolve_to_types_choices_and_bounds():
    assert "free" not in specs(Toy)
    assert field_type(Toy, "mode").choices == ("a", "b")
    assert field_type(Toy, "budget").optional and field_type(Toy, "budget").base is int
    assert field_type(Toy, "names").many
    assert bounds(Toy, "rate") == {"gt": 0, "lt": 1}
    assert describe_bounds(specs(Toy)["n"]) == "between 1 and 10"


def test_stage_settings_validate_through_their_declarations():
    with pytest.raises(ConfigError, match="optimizer must be one of adamw, adamw8bit"):
        TrainSettings(optimizer="sgd").validate()
    with pytest.raises(ConfigError, match="lr must be in"):
        TrainSettings(lr=0.0).validate()
    with pytest.raises(ConfigError, match="heal must be one of none, norms, lora"):
        RouterSettings(heal="all").validate()
    with pytest.raises(ConfigError, match="alpha must be between 0 and 100"):
        RouterSettings(alpha=101).validate()
    with pytest.raises(ConfigError, match="top_k must be"):
        MergeConfig(experts=["a", "b"], top_k=0).validate()
    assert TrainSettings().updated(steps=7, lr=None).steps == 7
