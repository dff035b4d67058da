"""One declaration per setting: its default, bounds, choices and help, checked in one place.

A settings class is a dataclass whose fields are made with `setting(...)`. `check(obj)` validates
every such field against its declaration; the CLI generates its options from the same
declarations (clikit.settings_options) and the server derives its request schema's bounds from
them (serve/schema.py), so no default, bound or choice is written twice. Choices are `Literal`
types on the field, so type checkers see them too.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from .errors import ConfigError

_KEY = "smolmoe.setting"
# Whole numbers from outside (files, options, requests) stay within 64 bits unless a field says
# less: torch, numpy and safetensors take nothing wider.
INT64 = (-(1 << 63), (1 << 63) - 1)
# A name (expert, domain) becomes a path component: letters, digits, '.', '_', '-' only.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Spec:
    """What one field of a settings class allows, beside its default."""
    help: str = ""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    label: str | None = None       # how messages name it (default: the field name)


def setting(default: Any = dataclasses.MISSING, *, help: str = "", ge=None, gt=None, le=None,
            lt=None, label: str | None = None,
            default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field carrying its default, bounds and help (choices: a Literal annotation)."""
    spec = Spec(help=help, ge=ge, gt=gt, le=le, lt=lt, label=label)
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={_KEY: spec})


def specs(cls) -> dict[str, Spec]:
    """The declared fields of a settings class (or instance), in declaration order."""
    return {f.name: f.metadata[_KEY] for f in dataclasses.fields(cls) if _KEY in f.metadata}


@dataclass(frozen=True)
class FieldType:
    """A field's annotation, resolved: its value type, choices and whether None is allowed."""
    base: type
    choices: tuple = ()
    optional: bool = False
    many: bool = False             # list[...]: a repeatable option


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def field_type(cls, name: str) -> FieldType:
    hint = _hints(cls if isinstance(cls, type) else type(cls))[name]
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        return FieldType(type(choices[0]), choices, optional)
    if typing.get_origin(hint) is list:
        return FieldType(typing.get_args(hint)[0], (), optional, many=True)
    return FieldType(hint, (), optional)


def default_of(cls, name: str) -> Any:
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def bounds(cls, name: str) -> dict:
    """The field's bounds as keyword arguments (ge/gt/le/lt), e.g. for pydantic's Field; a whole
    number with no bound on a side gets the 64-bit one."""
    spec = effective_spec(cls, name)
    return {k: getattr(spec, k) for k in ("ge", "gt", "le", "lt") if getattr(spec, k) is not None}


def effective_spec(cls, name: str) -> Spec:
    """The declared spec, with the 64-bit bounds added to a whole number that lacks them."""
    spec, kind = specs(cls)[name], field_type(cls, name)
    if kind.base is not int or kind.choices or kind.many:
        return spec
    if spec.ge is None and spec.gt is None:
        spec = dataclasses.replace(spec, ge=INT64[0])
    if spec.le is None and spec.lt is None:
        spec = dataclasses.replace(spec, le=INT64[1])
    return spec


def describe_bounds(spec: Spec) -> str:
    """'between 1 and 4096', 'in (0, 1]', '>= 0' ... as messages say it."""
    lo, hi = (spec.ge if spec.ge is not None else spec.gt), (spec.le if spec.le is not None else spec.lt)
    if lo is not None and hi is not None:
        if spec.ge is not None and spec.le is not None:
            return f"between {lo} and {hi}"
        return f"in {'[' if spec.ge is not None else '('}{lo}, {hi}{']' if spec.le is not None else ')'}"
    if lo is not None:
        return f"{'>=' if spec.ge is not None else '>'} {lo}"
    return f"{'<=' if spec.le is not None else '<'} {hi}"


def _in_bounds(value, spec: Spec) -> bool:
    return not ((spec.ge is not None and value < spec.ge) or (spec.gt is not None and value <= spec.gt)
                or (spec.le is not None and value > spec.le) or (spec.lt is not None and value >= spec.lt))


def check_value(cls, name: str, value) -> None:
    """Raise ConfigError (one line) unless `value` is allowed for field `name` of `cls`."""
    spec, kind = specs(cls)[name], field_type(cls, name)
    label = spec.label or name
    if value is None and kind.optional:
        return
    if kind.choices:
        if value not in kind.choices:
            raise ConfigError(f"{label} must be one of {', '.join(map(str, kind.choices))}, "
                              f"got {value!r}")
        return
    if kind.many:
        if not isinstance(value, list) or not all(isinstance(v, kind.base) and v for v in value):
            raise ConfigError(f"{label} must be non-empty")
        for v in value:
            if isinstance(v, str):
                check_text(v, label)
        return
    if kind.base is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{label} must be true or false, got {value!r}")
        return
    if kind.base in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{label} must be a number, got {value!r}{_number_hint(value)}")
        if kind.base is int and not isinstance(value, int):
            raise ConfigError(f"{label} must be a whole number, got {value!r}")
        if not math.isfinite(value):   # nan slips through every comparison below
            raise ConfigError(f"{label} must be a finite number, got {value}")
        if not _in_bounds(value, spec):
            raise ConfigError(f"{label} must be {describe_bounds(spec)}, got {value}")
        if kind.base is int and not INT64[0] <= value <= INT64[1]:
            raise ConfigError(f"{label} does not fit in 64 bits, got {value}")
        return
    if not isinstance(value, kind.base):
        raise ConfigError(f"{label} must be a {kind.base.__name__}, got {value!r}")
    if isinstance(value, str):
        check_text(value, label)


def _number_hint(value) -> str:
    """YAML 1.1 reads 2e-4 (no dot) as text: say so where a number was expected."""
    try:
        number = isinstance(value, str) and math.isfinite(float(value))
    except ValueError:
        number = False
    return " (YAML reads a number like 2e-4 as text: write 2.0e-4)" if number else ""


def check_text(text: str, origin: str) -> str:
    """Refuse text that is not valid Unicode (lone surrogates: from JSON escapes such as
    "\\ud800", or bytes that are not UTF-8 in a command line) before a tokenizer meets it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ConfigError(f"{origin} is not valid Unicode (character {e.start}: "
                          f"{text[e.start]!a})") from None
    return text


def check_name(value, origin: str) -> str:
    """A name that becomes one path component (expert, domain): never a path, never '..'."""
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise ConfigError(f"{origin} must be a name (letters, digits, '.', '_', '-'; at most 64, "
                          f"starting with a letter or digit), got {value!r}")
    return value


def _matches(value, hint) -> bool:
    """Whether `value` has the annotated type (str, int, float, bool, Path, list[X], X | Y,
    Literal, dataclasses); bool is not a number here, and an int is a float."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None) or hint is None:
        return value is None
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        return any(_matches(value, a) for a in args)
    if origin is Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint) or (hint.__name__ == "Path" and isinstance(value, str))
    return True


def _describe(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(map(str, args))
    if origin is list:
        return f"a list of {_describe(args[0])}s"
    if hint is type(None):
        return "empty"
    names = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def check_types(obj, where: str):
    """Every field of a dataclass read from a file has its annotated type (values from YAML or
    JSON may be anything), text is valid Unicode; one line naming `where` and the field."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not _matches(value, hints[f.name]):
            raise ConfigError(f"{where}: {f.name} must be {_describe(hints[f.name])}, got "
                              f"{value!r:.80}{_number_hint(value)}")
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                check_text(text, f"{where}: {f.name}")
        if isinstance(value, int) and not isinstance(value, bool) and not (
                INT64[0] <= value <= INT64[1]):
            raise ConfigError(f"{where}: {f.name} does not fit in 64 bits, got {value}")
    return obj


def check(obj):
    """Validate every declared field of a settings object; return it."""
    for name in specs(obj):
        check_value(type(obj), name, getattr(obj, name))
    return obj
