"""`smolmoe serve` under hostile clients: bounded requests (400), linear stop matching, a client
that leaves frees its slot (streamed or not), bearer auth, SIGTERM, JSON errors only.
(The load test that mixes hostile and normal requests is a measurement: bench/bench_hostile.py.)"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")

from smolmoe.inference.generate import (MAX_STOP_CHARS, MAX_STOPS, ChatModel, StopMatcher,  # noqa: E402
                              StreamEvent)
from smolmoe.serve import ServerLimits, create_app  # noqa: E402

from helpers.live_server import live_server  # noqa: E402

KEY = "s3cret-key"


def ask(text):
    return [{"role": "user", "content": text}]


def post(url, body, headers=None, path="/v1/chat/completions", timeout=60):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}{path}", data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("content-type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read()


def get(url, path, headers=None):
    req = urllib.request.Request(f"{url}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("content-type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read()


@pytest.fixture(scope="module")
def server(tiny_moe):
    chat = ChatModel.load(tiny_moe)
    app = create_app(chat, ServerLimits(max_body_bytes=64_000, max_tokens=400, slots=2))
    with live_server(app) as url:
        yield url, app.state.worker


def test_stop_matcher_finds_what_find_finds_and_holds_back_prefixes():
    # An adversarial stop (a^255 b) over a text of a's: KMP keeps one state per stop.
    stop = "a" * (MAX_STOP_CHARS - 1) + "b"
    m, sent = StopMatcher([stop, "zz"]), []
    for _ in range(2000):
        out, hit = m.push(StreamEvent("aaaa", 1))
        sent += out
        assert not hit
    # Whole tokens are held back while their text could begin the stop (255 characters).
    assert 8000 - (MAX_STOP_CHARS - 1) - 4 < sum(len(e.text) for e in sent) <= 8000 - (MAX_STOP_CHARS - 1)
    out, hit = m.push(StreamEvent("ab tail", 2))
    assert hit and "".join(e.text for e in sent + out) == "a" * (8002 - MAX_STOP_CHARS)
    # The earliest match wins, even when a later-starting one ends first.
    m = StopMatcher(["xabcd", "bc"])
    out, hit = m.push(StreamEvent("..xabcd", 1))
    assert hit and "".join(e.text for e in out) == ".."


@pytest.mark.parametrize("extra, param, message", [
    ({"stop": ["a"] * (MAX_STOPS + 1)}, "stop", f"at most {MAX_STOPS} stop strings"),
    ({"stop": "x" * (MAX_STOP_CHARS + 1)}, "stop", f"at most {MAX_STOP_CHARS} characters"),
    ({"stop": ["ok", 5]}, "stop.1", "valid string"),
    ({"seed": 2 ** 64}, "seed", "less than or equal to 9223372036854775807"),
    ({"top_k": -(2 ** 70)}, "top_k", "greater than or equal to 0"),
    ({"thinking_budget": 2 ** 63}, "thinking_budget", "less than or equal"),
    ({"max_tokens": 401}, "max_tokens", "at most 400"),
    ({"n": 3}, "n", "less than or equal to 1"),
    ({"messages": ask("hi \ud800 there")}, "messages.0.content", "not valid Unicode"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}]},
     "messages.0.content.0.text", "not valid Unicode"),
    ({"messages": ask("hi") * 1025}, "messages", "at most 1024"),
    ({"model": "moe\ud800"}, "model", "not valid Unicode"),
])
def test_a_request_over_a_bound_gets_a_400_naming_the_parameter(server, extra, param, message):
    url, worker = server
    for stream in (False, True):
        body = {"model": "moe", "messages": ask("hi"), "stream": stream, **extra}
        code, kind, raw = post(url, json.dumps(body).encode())
        error = json.loads(raw)["error"]
        assert code == 400 and kind == "application/json", raw
        assert message in error["message"] and error["param"] == param, error
        assert error["type"] == "invalid_request_error"
    assert worker.waiting == 0


def test_a_non_streamed_client_that_leaves_frees_its_slot(server):
    url, worker = server
    host, port = url.removeprefix("http://").split(":")
    before = worker.finished["cancelled"]
    body = json.dumps({"model": "moe", "messages": ask("write a story"), "max_tokens": 400,
                       "temperature": 0, "stop": ["never appears \u2603"]}).encode()
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    deadline = time.monotonic() + 30
    while not worker.running and time.monotonic() < deadline:
        time.sleep(0.005)
    assert worker.running == 1
    s.close()   # the client gives up before the reply
    while worker.running and time.monotonic() < deadline:
        time.sleep(0.005)
    assert worker.running == 0 and worker.finished["cancelled"] == before + 1
    assert worker.waiting == 0


def test_every_error_is_an_openai_json_body_never_plain_text(server, monkeypatch):
    url, worker = server
    for method, path, code in (("GET", "/v1/nothing", 404), ("GET", "/v1/chat/completions", 405),
                               ("POST", "/v1/models", 405)):
        status, kind, raw = (get(url, path) if method == "GET" else post(url, {}, path=path))
        assert status == code and kind == "application/json" and "message" in json.loads(raw)["error"]
    for raw_body in (b"\xff\xfe not utf-8", b"[1, 2]", b'{"model": "moe", "messages": "hi"}',
                     b'{"model": 5, "messages": [{"role": "user", "content": 7}]}', b"1e999999"):
        status, kind, raw = post(url, raw_body)
        assert status == 400 and kind == "application/json", raw
        assert "\n" not in json.loads(raw)["error"]["message"]
    # A chat template that fails on a conversation: that conversation's 400.
    chat = worker.chat
    monkeypatch.setattr(chat.tokenizer, "chat_template", "{{ raise_exception('roles must alternate') }}")
    status, kind, raw = post(url, {"model": "moe", "messages": ask("hi")})
    assert status == 400 and "chat template failed" in json.loads(raw)["error"]["message"]
    # Anything unexpected is a 500 with the same JSON shape.
    monkeypatch.setattr(chat, "encode", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    status, kind, raw = post(url, {"model": "moe", "messages": ask("hi")})
    assert status == 500 and kind == "application/json"
    assert json.loads(raw)["error"]["type"] == "server_error"


def test_an_api_key_guards_every_api_route_but_not_the_page(tiny_moe):
    chat = ChatModel.load(tiny_moe)
    with live_server(create_app(chat, ServerLimits(max_tokens=4), api_key=KEY)) as url:
        body = {"model": "moe", "messages": ask("hi"), "max_tokens": 2}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY},
                        {"Authorization": f"Basic {KEY}"}, {"Authorization": f"Bearer {KEY}x"}):
            for status, kind, raw in (post(url, body, headers), get(url, "/v1/models", headers),
                                      get(url, "/api/info", headers)):
                error = json.loads(raw)["error"]
                assert status == 401 and kind == "application/json", raw
                assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
        auth = {"Authorization": f"Bearer {KEY}"}
        assert post(url, body, auth)[0] == 200
        assert get(url, "/v1/models", auth)[0] == get(url, "/api/info", auth)[0] == 200
        assert get(url, "/")[0] == 200 and get(url, "/static/app.js")[0] == 200
        openai = pytest.importorskip("openai")
        c = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0, timeout=60)
        assert c.chat.completions.create(model="moe", messages=ask("hi"), max_tokens=2).choices
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="nope", max_retries=0).models.list()


def test_the_key_is_compared_in_constant_time():
    import inspect
    from smolmoe.serve.app import BearerAuth
    assert "hmac.compare_digest" in inspect.getsource(BearerAuth)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_tells_every_in_flight_client_and_stops_within_5_s(tiny_moe, tmp_path):
    # The tiny model's context (512 positions) would end a reply within a second on an idle
    # machine, before the signal: a longer context keeps both requests decoding until it.
    import shutil
    moe = shutil.copytree(tiny_moe, tmp_path / "moe")
    config = json.loads((moe / "config.json").read_text())
    config["max_position_embeddings"] = 1 << 16
    (moe / "config.json").write_text(json.dumps(config))
    tiny_moe = moe
    port = _free_port()
    env = {**os.environ, "SMOLMOE_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "smolmoe.cli", "serve", str(tiny_moe),
                             "--port", str(port), "--max-tokens", "100000"],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):   # the model loads
            try:
                get(url, "/v1/models")
                break
            except OSError:
                time.sleep(0.1)
        results = {}

        def client(name, stream):
            body = {"model": "moe", "messages": ask("write a story"), "max_tokens": 100000,
                    "temperature": 0, "stop": ["\u2603never"], "stream": stream}
            results[name] = post(url, body, timeout=60)
        threads = [threading.Thread(target=client, args=(n, n == "streamed"))
                   for n in ("streamed", "whole")]
        for t in threads:
            t.start()
        time.sleep(1.5)   # both are decoding (the limit is far away)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        stopped = time.monotonic() - t0
        for t in threads:
            t.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert stopped < 5, f"took {stopped:.1f} s"
    status, kind, raw = results["whole"]
    assert status == 503 and json.loads(raw)["error"]["code"] == "server_shutdown", raw
    status, kind, raw = results["streamed"]
    events = [line[6:] for line in raw.decode().splitlines() if line.startswith("data: ")]
    assert status == 200 and events[-1] == "[DONE]", events[-3:]
    assert json.loads(events[-2])["error"]["code"] == "server_shutdown"
    assert "Traceback" not in proc.stderr.read()
