"""The web page in real headless Chromium: streamed tokens coloured by expert, legend, heat map."""
import os
import shutil
import time

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium "
                "chromium-driver)", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from smolmoe.inference.generate import ChatModel  # noqa: E402
from smolmoe.serve import ServerLimits, create_app  # noqa: E402

from helpers.tiny_models import make_llama, make_tokenizer  # noqa: E402
from helpers.live_server import live_server  # noqa: E402
from helpers.tiny_moe import EXPERTS, make_tiny_moe  # noqa: E402

# Counts token spans each time the page adds some, so the test can tell a stream from one blob.
WATCH_TOKENS = """
window.__batches = [];
new MutationObserver(() => window.__batches.push(document.querySelectorAll('.token').length))
  .observe(document.getElementById('log'), {childList: true, subtree: true});
"""


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,860"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER),
                              options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait(driver, condition, seconds=30):
    return WebDriverWait(driver, seconds, poll_frequency=0.1).until(condition)


def send(browser, text: str, max_tokens: int) -> None:
    """Type a message with this max-tokens setting, send it, wait for the reply's heat map."""
    field = browser.find_element(By.ID, "max-tokens")
    field.clear()
    field.send_keys(str(max_tokens))
    browser.find_element(By.ID, "input").send_keys(text)
    browser.find_element(By.ID, "send").click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#heatmap table"))


def test_chat_streams_coloured_tokens_with_legend_and_heatmap(browser, tiny_moe, tmp_path):
    chat = ChatModel.load(tiny_moe)
    with live_server(create_app(chat, ServerLimits(max_tokens=400))) as url:
        browser.get(url + "/")
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#legend .legend-item"))
        legend = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#legend .legend-item")]
        assert legend == list(EXPERTS)
        assert not browser.find_element(By.ID, "thinking").is_displayed()  # no <think> here
        browser.execute_script(WATCH_TOKENS)
        send(browser, "add 3 plus 4", max_tokens=300)
        tokens = browser.find_elements(By.CSS_SELECTOR, ".msg.assistant .token")
        batches = browser.execute_script("return window.__batches")
        # Streamed: the reply's tokens arrived in several separate batches, not all at once.
        assert len(tokens) > 100 and len(set(batches)) >= 3, batches
        colours = {t.value_of_css_property("background-color") for t in tokens}
        by_majority = [t.get_attribute("data-expert") for t in tokens]
        assert len(colours) >= 2 and all(c != "rgba(0, 0, 0, 0)" for c in colours)
        assert set(by_majority) <= {"0", "1", "2"}
        rows = browser.find_elements(By.CSS_SELECTOR, "#heatmap tr")
        assert len(rows) == chat.num_layers + 1
        headers = [th.get_attribute("textContent") for th in rows[0].find_elements(By.CSS_SELECTOR, "th.expert")]
        assert headers == list(EXPERTS)
        # Colouring by one layer repaints the same tokens from that layer's routing.
        browser.execute_script("const s = document.getElementById('layer'); s.value = '1';"
                               "s.dispatchEvent(new Event('change'));")
        by_layer1 = [t.get_attribute("data-expert") for t in tokens]
        routing = browser.execute_script(
            "return [...document.querySelectorAll('.msg.assistant .token')]"
            ".map(t => JSON.parse(t.dataset.experts)[1])")
        assert by_layer1 == [str(e) for e in routing]
        browser.execute_script("const s = document.getElementById('layer'); s.value = 'majority';"
                               "s.dispatchEvent(new Event('change'));")
        shot = tmp_path / "web.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("SMOLMOE_SCREENSHOT_DIR"):
            shutil.copy(shot, os.environ["SMOLMOE_SCREENSHOT_DIR"])
        # A refused request shows its JSON error in the page.
        browser.find_element(By.ID, "input").send_keys("alpha " * 600)
        browser.find_element(By.ID, "send").click()
        error = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.error"))
        assert "context is 512 tokens" in error[0].text


def test_thinking_controls_only_for_thinking_models(browser, tmp_path):
    tok = make_tokenizer(tmp_path)
    tok.add_tokens(["<think>", "</think>"], special_tokens=True)
    make_llama(tmp_path, tok, vocab=len(tok))
    with live_server(create_app(ChatModel.load(tmp_path))) as url:
        browser.get(url + "/")
        wait(browser, lambda d: "dense" in d.find_element(By.ID, "model-name").text)
        assert browser.find_element(By.ID, "thinking").is_displayed()
        assert "Dense model" in browser.find_element(By.ID, "legend").text
        browser.find_element(By.ID, "input").send_keys("hello")
        browser.find_element(By.ID, "send").click()
        time.sleep(0.2)
        wait(browser, lambda d: d.find_element(By.ID, "send").is_enabled())
        assert not browser.find_elements(By.CSS_SELECTOR, ".msg.error")


def _rgb(hex_colour: str) -> str:
    n = int(hex_colour[1:], 16)
    return f"{n >> 16}, {(n >> 8) & 255}, {n & 255}"


def test_eight_experts_thirty_layers_colour_blind_palette_and_whole_heatmap(browser, tmp_path):
    """The demo's shape: 8 experts, 30 layers. Legend, tokens and heat map share one palette
    (Okabe-Ito), every heat-map row is visible without scrolling, max tokens as the CLI's."""
    from smolmoe.core.config import DEFAULT_MAX_TOKENS
    from smolmoe.core.palette import EXPERT_COLOURS
    names = ("coder", "writer", "thinker", "encyclopedia", "summarizer", "analyst", "actor", "guardian")
    moe = make_tiny_moe(tmp_path, names=names, layers=30)
    with live_server(create_app(ChatModel.load(moe))) as url:
        browser.get(url + "/")
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#legend .legend-item"))
        assert browser.find_element(By.ID, "max-tokens").get_attribute("value") == str(DEFAULT_MAX_TOKENS)
        swatches = [s.value_of_css_property("background-color")
                    for s in browser.find_elements(By.CSS_SELECTOR, "#legend .swatch")]
        assert swatches == [f"rgba({_rgb(c)}, 1)" for c in EXPERT_COLOURS]
        send(browser, "write a story of the dragon", max_tokens=12)
        rows = browser.find_elements(By.CSS_SELECTOR, "#heatmap tr")
        assert len(rows) == 31
        bottom = browser.execute_script("return arguments[0].getBoundingClientRect().bottom", rows[-1])
        side = browser.execute_script(
            "return document.getElementById('side').getBoundingClientRect().bottom")
        assert bottom <= side, "the heat map's last rows are cut off"
        # Each cell is tinted with its column's expert colour.
        for e, cell in enumerate(rows[5].find_elements(By.CSS_SELECTOR, "td")):
            background = cell.value_of_css_property("background-color")
            assert background.startswith(f"rgba({_rgb(EXPERT_COLOURS[e])}") or background.endswith(", 0)"), background
        shot = tmp_path / "web8.png"
        browser.save_screenshot(str(shot))
        if os.environ.get("SMOLMOE_SCREENSHOT_DIR"):
            shutil.copy(shot, os.environ["SMOLMOE_SCREENSHOT_DIR"])
