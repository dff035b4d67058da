"""`smolmoe serve`: the openai client unchanged, concurrency without mixed streams, limits."""
import http.client
import json
import threading
import time
import urllib.error
import urllib.request

import click
import pytest

openai = pytest.importorskip("openai", reason="the openai client is not installed")
pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")

from smolmoe.inference.generate import ChatModel, GenerationSettings  # noqa: E402
from smolmoe.serve import ServerLimits, create_app  # noqa: E402

from helpers.live_server import live_server  # noqa: E402


@pytest.fixture(scope="module")
def server(tiny_moe):
    chat = ChatModel.load(tiny_moe)
    limits = ServerLimits(max_body_bytes=64_000, max_tokens=64, default_max_tokens=8)
    with live_server(create_app(chat, limits)) as url:
        yield url, chat


def client(url):
    return openai.OpenAI(base_url=f"{url}/v1", api_key="not-needed", max_retries=0, timeout=60)


def ask(text):
    return [{"role": "user", "content": text}]


def streamed(c, model, text, **kw):
    """(content, chunk ids, per-token experts) of one streamed reply."""
    parts, ids, experts, finish = [], set(), [], None
    for chunk in c.chat.completions.create(model=model, messages=ask(text), stream=True,
                                           temperature=0, **kw):
        ids.add(chunk.id)
        if chunk.choices and chunk.choices[0].delta.content is not None:
            parts.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
        routing = (chunk.model_extra or {}).get("smolmoe")
        if routing:
            experts.append(routing["experts"])
    return "".join(parts), ids, experts, finish


def test_openai_client_streamed_and_not(server):
    url, chat = server
    c = client(url)
    assert [m.id for m in c.models.list()] == ["moe"]
    r = c.chat.completions.create(model="moe", messages=ask("add 3 plus 4"), max_tokens=10,
                                  temperature=0)
    assert r.object == "chat.completion" and r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 10 and r.usage.prompt_tokens == len(chat.encode(ask("add 3 plus 4")))
    extra = r.model_extra["smolmoe"]
    assert len(extra["experts"]) == 10 and all(len(e) == chat.num_layers for e in extra["experts"])
    text, ids, experts, finish = streamed(c, "moe", "add 3 plus 4", max_tokens=10)
    assert text == r.choices[0].message.content and len(ids) == 1 and finish == "length"
    assert experts == extra["experts"]       # the same routing, token by token
    # Our extras pass through the client's extra_body; usage arrives in a last chunk.
    chunks = list(c.chat.completions.create(model="moe", messages=ask("hi"), stream=True,
                                            max_tokens=3, stream_options={"include_usage": True},
                                            extra_body={"repetition_penalty": 1.0, "seed": 3}))
    assert chunks[-1].usage.completion_tokens == 3 and chunks[-1].choices == []


def test_eight_clients_times_25_requests_do_not_mix(server):
    url, _ = server
    prompts = [f"add {i} plus {i + 1}" if i % 2 else f"write a story of {w}"
               for i, w in enumerate("alpha beta gamma delta apple banana cherry dragon".split())]
    expected = {}
    c = client(url)
    for p in prompts:
        r = c.chat.completions.create(model="moe", messages=ask(p), max_tokens=6, temperature=0)
        expected[p] = (r.choices[0].message.content, r.model_extra["smolmoe"]["experts"])
    assert len({v[0] for v in expected.values()}) > 4   # distinct answers: mixing would show
    errors, done = [], []

    def run(prompt):
        c = client(url)
        for i in range(25):
            try:
                if i % 2:
                    text, ids, experts, _ = streamed(c, "moe", prompt, max_tokens=6)
                    assert len(ids) == 1, "chunks of one stream carry different ids"
                else:
                    r = c.chat.completions.create(model="moe", messages=ask(prompt),
                                                  max_tokens=6, temperature=0)
                    text, experts = r.choices[0].message.content, r.model_extra["smolmoe"]["experts"]
                assert (text, experts) == expected[prompt], f"{prompt!r} got {text!r}"
                done.append(1)
            except Exception as e:  # collected, so every thread finishes its bounded loop
                errors.append(f"{type(e).__name__}: {e}")

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(p,)) for p in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    seconds = time.monotonic() - t0
    print(f"8 clients x 25 requests: {len(done)} ok, {len(errors)} errors, {seconds:.1f} s")
    assert errors == [] and len(done) == 200


def _post(url, body: bytes, headers=None):
    req = urllib.request.Request(f"{url}/v1/chat/completions", data=body, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize("body, status, message", [
    ({"model": "moe", "messages": ask("alpha " * 600)}, 400, "context is 512 tokens"),
    ({"model": "moe", "messages": ask("hi"), "max_tokens": 65}, 400, "at most 64"),
    ({"model": "moe", "messages": ask("hi"), "temperature": 9}, 400, "temperature"),
    ({"model": "moe", "messages": [{"role": "robot", "content": "hi"}]}, 400, "role"),
    ({"model": "moe", "messages": []}, 400, "messages"),
    ({"model": "moe", "messages": ask("hi"), "n": 2}, 400, "n:"),
    ({"messages": ask("hi")}, 400, "model"),
    ({"model": "gpt-4", "messages": ask("hi")}, 404, "not served here"),
    ({"model": "moe", "messages": ask("alpha " * 20_000)}, 413, "larger than 64000 bytes"),
    # What we cannot honour is refused, not silently ignored (OpenAI's error shape).
    ({"model": "moe", "messages": ask("hi"), "tools": [{"type": "function", "function": {"name": "f"}}]},
     400, "tools are not supported"),
    ({"model": "moe", "messages": ask("hi"), "tool_choice": "required"}, 400, "tool_choice is not supported"),
    ({"model": "moe", "messages": ask("hi"), "response_format": {"type": "json_object"}}, 400,
     "response_format 'json_object' is not supported"),
    ({"model": "moe", "messages": ask("hi"), "logprobs": True}, 400, "logprobs is not supported"),
    ({"model": "moe", "messages": ask("hi"), "top_logprobs": 3}, 400, "top_logprobs is not supported"),
    ({"model": "moe", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]},
     400, "messages.0.content.1: 'image_url' parts are not supported: this model reads text only"),
])
def test_bad_requests_get_4xx_with_a_json_error(server, body, status, message):
    url, _ = server
    for stream in (False, True):
        code, answer = _post(url, json.dumps({**body, "stream": stream}).encode())
        assert code == status and message in answer["error"]["message"], answer


def test_what_can_be_honoured_still_works(server):
    url, _ = server
    for extra in ({"response_format": {"type": "text"}}, {"logprobs": False}, {"tool_choice": "none"},
                  {"tools": []}):
        body = {"model": "moe", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                "max_tokens": 2, **extra}
        code, answer = _post(url, json.dumps(body).encode())
        assert code == 200 and answer["usage"]["completion_tokens"] <= 2, (extra, answer)
    code, answer = _post(url, json.dumps({"model": "moe", "messages": ask("hi"), "tools": [{}]}).encode())
    assert answer["error"]["param"] == "tools" and answer["error"]["type"] == "invalid_request_error"


def test_the_page_and_the_cli_share_defaults(server):
    from smolmoe.core.config import DEFAULT_MAX_TOKENS
    from smolmoe.inference.generate import GenerationSettings
    from smolmoe.core.palette import EXPERT_COLOURS
    url, _ = server
    with urllib.request.urlopen(f"{url}/api/info", timeout=10) as r:
        info = json.loads(r.read())
    assert info["palette"] == EXPERT_COLOURS and len(set(EXPERT_COLOURS)) == 8
    assert ServerLimits().default_max_tokens == GenerationSettings().max_new_tokens == DEFAULT_MAX_TOKENS
    from smolmoe.cli.main import main
    chat = main.commands["chat"]
    chat_opt = next(p for p in chat.get_params(click.Context(chat)) if p.opts == ["--max-tokens"])
    assert chat_opt.default == DEFAULT_MAX_TOKENS
    # The page's sampling inputs take the API's bounds and chat's defaults (no copy in the HTML).
    temperature = next(p for p in chat.get_params(click.Context(chat)) if p.opts == ["--temperature"])
    assert info["sampling"]["temperature"]["default"] == temperature.default
    assert info["sampling"]["temperature"]["le"] == temperature.type.max
    with urllib.request.urlopen(f"{url}/", timeout=10) as r:
        page = r.read().decode()
    temperature_input = page.split('id="temperature"')[1].split(">")[0]
    assert "max=" not in temperature_input and "value=" not in temperature_input


@pytest.mark.parametrize("host, warned", [("0.0.0.0", True), ("::", True), ("192.168.1.5", True),
                                          ("127.0.0.1", False), ("localhost", False), ("::1", False)])
def test_serving_beyond_loopback_needs_a_key_or_insecure_and_warns(tiny_moe, monkeypatch, host,
                                                                    warned):
    from click.testing import CliRunner
    from smolmoe.cli.main import main
    monkeypatch.setattr("smolmoe.serve.serve", lambda *a, **k: None)   # do not listen
    monkeypatch.delenv("SMOLMOE_API_KEY", raising=False)
    r = CliRunner().invoke(main, ["serve", str(tiny_moe), "--host", host])
    if warned:   # refused before loading anything, in one line
        assert r.exit_code == 1 and "give --api-key" in r.output and "--insecure" in r.output
        assert len(r.output.strip().splitlines()) == 1, r.output
    for extra in (["--insecure"], ["--api-key", "k3y"]):
        r = CliRunner().invoke(main, ["serve", str(tiny_moe), "--host", host, *extra])
        assert r.exit_code == 0, r.output
        assert ("warning: listening on" in r.output) == warned, r.output
    monkeypatch.setenv("SMOLMOE_API_KEY", "k3y")
    assert CliRunner().invoke(main, ["serve", str(tiny_moe), "--host", host]).exit_code == 0


def test_malformed_and_chunked_bodies(server):
    url, _ = server
    code, answer = _post(url, b"{not json")
    assert code == 400 and "error" in answer
    # A chunked body (no Content-Length) is counted as it arrives.
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/v1/chat/completions", body=iter([b"x" * 40_000, b"y" * 40_000]),
                 headers={"Content-Type": "application/json"}, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 413 and "error" in json.loads(resp.read())
    conn.close()
    with urllib.request.urlopen(f"{url}/api/info", timeout=10) as r:
        info = json.loads(r.read())
    assert info["experts"] == ["math", "code", "story"] and info["thinking"] is False
    with urllib.request.urlopen(f"{url}/", timeout=10) as r:
        assert b"<html" in r.read().lower()


def test_a_client_leaving_mid_stream_frees_the_server(server):
    url, _ = server
    c = client(url)
    stream = c.chat.completions.create(model="moe", messages=ask("hi"), stream=True,
                                       max_tokens=64, temperature=0)
    next(iter(stream))
    stream.close()
    t0 = time.monotonic()
    r = c.chat.completions.create(model="moe", messages=ask("hi"), max_tokens=2, temperature=0)
    assert r.usage.completion_tokens == 2 and time.monotonic() - t0 < 10


def test_dense_model_serves_without_routing(tiny_dir):
    chat = ChatModel.load(tiny_dir)
    with live_server(create_app(chat)) as url:
        c = client(url)
        r = c.chat.completions.create(model=chat.name, messages=ask("hi"), max_tokens=3)
        assert r.usage.completion_tokens <= 3 and "smolmoe" not in (r.model_extra or {})


def test_a_request_joins_a_running_one_and_a_leaving_client_frees_its_slot(tiny_moe):
    chat = ChatModel.load(tiny_moe)
    app = create_app(chat, ServerLimits(max_tokens=400, slots=2))
    worker = app.state.worker
    short = ask("add 3 plus 4")
    alone = chat.reply(short, GenerationSettings(max_new_tokens=3)).text
    with live_server(app) as url:
        c = client(url)
        stream = c.chat.completions.create(model="moe", messages=ask("write a story"),
                                           stream=True, max_tokens=400, temperature=0)
        next(iter(stream))
        r = c.chat.completions.create(model="moe", messages=short, max_tokens=3, temperature=0,
                                      extra_body={"repetition_penalty": 1.0})
        # It was served beside the long reply, which is still decoding, and is what it is alone.
        assert r.choices[0].message.content == alone and worker.running == 1
        stream.close()
        deadline = time.monotonic() + 10
        while worker.running and time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker.running == 0 and worker.finished["cancelled"] == 1
