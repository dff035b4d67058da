"""Property-based fuzzing (hypothesis; derandomized, so a fixed seed, and a bounded number of
examples, so it runs in CI) of what comes from outside: the CLI's option parsers, the JSONL
reader, expert manifests and merge configs, and the API's request schema. Whatever the input,
the answer is a value or one line naming what is wrong: never a traceback, never a 500."""
from __future__ import annotations

import json
import os

import click
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smolmoe.core.errors import SmolMoEError

FUZZ = settings(derandomize=True, max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Values that have broken parsers before: huge and negative numbers, nan/inf, YAML's 2e-4,
# lone surrogates, paths that climb, control characters, empties.
NASTY_TEXT = st.sampled_from(["", " ", "0", "-1", "2e-4", "1e999", "nan", "inf", "-inf",
                              str(2 ** 64), str(-(2 ** 70)), "99999999999999999999999", "1.5",
                              "../../x", "/etc/passwd", "a\x00b", "\ud800", "\udfff x", "~",
                              "true", "null", "[]", "{}", "é", "x" * 300])
TEXT = st.one_of(NASTY_TEXT, st.text(max_size=20))
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 80), max_value=2 ** 80),
                   st.floats(allow_nan=True, allow_infinity=True), TEXT)
JSONISH = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def one_line(message: str) -> None:
    assert message and "\n" not in message.strip() and "Traceback" not in message, message


def read_or_refuse(tmp_path_factory, name: str, content: bytes, read):
    """read(path) of a file holding `content`, or None when it refused in one line that
    starts with the file's path."""
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(content)
    try:
        return read(path)
    except SmolMoEError as e:
        one_line(str(e))
        assert str(e).startswith(str(path)), str(e)
        return None


# ---------------------------------------------------------------- CLI option parsers
def _commands():
    from smolmoe.cli.main import main
    out = []

    def walk(group, path):
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                walk(cmd, path + [name])
            else:
                out.append((" ".join(path + [name]), cmd))
    walk(main, [])
    return out


COMMANDS = _commands()
# What a command line can hold: no NUL (argv entries are C strings), and bytes that are not
# UTF-8 arrive as Python's surrogate escapes.
ARGV = TEXT.filter(lambda t: "\x00" not in t).map(
    lambda t: os.fsdecode(t.encode("utf-8", "surrogatepass")))


@pytest.mark.parametrize("path, command", COMMANDS, ids=[p for p, _ in COMMANDS])
@FUZZ
@given(data=st.data())
def test_option_parsers_take_a_value_or_refuse_it_in_one_line(path, command, data):
    ctx = click.Context(command, info_name=path)
    options = [p for p in command.get_params(ctx) if isinstance(p, click.Option)
               and not p.is_flag and p.name not in ("help",)]
    if not options:
        return
    args = []
    for _ in range(data.draw(st.integers(1, 3))):
        option = data.draw(st.sampled_from(options))
        args += [option.opts[0], data.draw(ARGV)]
    try:
        parsed = command.make_context(path, list(args), resilient_parsing=False)
    except click.exceptions.NoArgsIsHelpError:
        return
    except click.ClickException as e:
        one_line(e.format_message())
        return
    except SmolMoEError as e:     # a default computed from $SMOLMOE_HOME
        one_line(str(e))
        return
    # What the parser took, the settings' own check takes or refuses in one line.
    if path == "chat":
        from smolmoe.inference.generate import GenerationSettings
        fields = {k: v for k, v in parsed.params.items()
                  if k in GenerationSettings.__dataclass_fields__}
        try:
            GenerationSettings(**{**fields, "stop": list(fields.get("stop", ()))}).validate()
        except SmolMoEError as e:
            one_line(str(e))


# ---------------------------------------------------------------- the JSONL reader
LINE = st.one_of(JSONISH.map(lambda v: json.dumps(v)),
                 st.fixed_dictionaries({"messages": st.lists(st.fixed_dictionaries(
                     {"role": st.sampled_from(["user", "assistant", "robot", ""]),
                      "content": SCALAR}), max_size=3)}).map(json.dumps),
                 st.fixed_dictionaries({"instruction": SCALAR, "output": SCALAR}).map(json.dumps),
                 st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
                 st.just('{"instruction": "\\ud800", "output": "x"}'), st.just("[" * 5000))


@FUZZ
@given(lines=st.lists(LINE, max_size=5))
def test_the_jsonl_reader_reads_or_names_file_and_line(tmp_path_factory, lines):
    from smolmoe.data.records import load_records
    records = read_or_refuse(tmp_path_factory, "d.jsonl",
                             "\n".join(lines).encode("utf-8", "surrogatepass"), load_records)
    for r in records or []:
        assert any(m["role"] == "assistant" for m in r["messages"])
        for m in r["messages"]:
            m["content"].encode("utf-8")   # valid text only


# ---------------------------------------------------------------- manifests and merge configs
MANIFEST_KEYS = ["name", "domain", "description", "recipe", "positive_prompts", "negative_prompts",
                 "trainable", "finetune", "nonsense"]
FINETUNE_KEYS = ["steps", "lr", "batch_size", "seq_len", "warmup_steps", "seed", "precision",
                 "optimizer", "grad_checkpointing", "min_lr_ratio"]
MERGE_KEYS = ["experts", "output", "base", "top_k", "router_init", "non_ffn", "experts_root",
              "data", "fit_samples", "seed", "base_expert"]


def _mapping(keys):
    return st.dictionaries(st.sampled_from(keys), JSONISH, max_size=len(keys))


def _dump(data) -> bytes:
    try:
        return yaml.safe_dump(data, allow_unicode=True).encode("utf-8", "surrogatepass")
    except yaml.YAMLError:   # text YAML cannot represent (lone surrogates): the raw bytes
        return json.dumps(data).encode()


@FUZZ
@given(data=_mapping(MANIFEST_KEYS), finetune=st.one_of(_mapping(FINETUNE_KEYS), JSONISH))
def test_manifests_load_or_name_file_and_field(tmp_path_factory, data, finetune):
    from smolmoe.core.config import load_manifest
    m = read_or_refuse(tmp_path_factory, "m.yaml", _dump({**data, "finetune": finetune}),
                       load_manifest)
    assert m is None or "/" not in m.name and ".." != m.name and m.finetune.validate()


@FUZZ
@given(data=_mapping(MERGE_KEYS))
def test_merge_configs_load_or_name_file_and_field(tmp_path_factory, data):
    from smolmoe.core.config import load_merge_config
    config = read_or_refuse(tmp_path_factory, "merge.yaml", _dump(data), load_merge_config)
    assert config is None or config.top_k <= len(config.experts)


# ---------------------------------------------------------------- the API request schema
@pytest.fixture(scope="module")
def api(tiny_dir):
    pytest.importorskip("fastapi")
    from helpers.live_server import live_server
    from smolmoe.inference.generate import ChatModel
    from smolmoe.serve import ServerLimits, create_app
    chat = ChatModel.load(tiny_dir)
    with live_server(create_app(chat, ServerLimits(max_tokens=2, default_max_tokens=2,
                                                   max_body_bytes=20_000))) as url:
        yield url, chat.name


def _post(url: str, body: bytes):
    import urllib.error
    import urllib.request
    req = urllib.request.Request(f"{url}/v1/chat/completions", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers.get("content-type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read()


FIELDS = ["model", "messages", "stream", "max_tokens", "temperature", "top_p", "stop", "seed",
          "n", "repetition_penalty", "think", "thinking_budget", "top_k", "stream_options",
          "response_format", "logprobs", "tools"]
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant", "x"]),
                                 "content": st.one_of(TEXT, JSONISH)})


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(FIELDS), JSONISH, max_size=5),
       messages=st.lists(MESSAGE, max_size=3), raw=st.one_of(st.none(), st.binary(max_size=40)))
def test_the_api_answers_every_request_with_a_reply_or_a_json_error(api, fields, messages, raw):
    url, model = api
    body = raw if raw is not None else json.dumps(
        {"model": model, "messages": messages, **fields}).encode("utf-8", "surrogatepass")
    status, kind, answer = _post(url, body)
    assert status in (200, 400, 404, 413), (status, answer)
    if status == 200:
        return
    assert kind == "application/json", answer
    error = json.loads(answer)["error"]
    one_line(error["message"])
    assert error["type"] in ("invalid_request_error", "not_found_error")
