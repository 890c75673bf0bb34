"""The html graph opened in a real headless Chromium: it renders, and a click shows gradients.

Uses Debian's chromium (/usr/bin/chromium; .ci/run installs it) driven by Playwright from PyPI
with `executable_path`, so no browser build is ever downloaded. The screenshot is kept in
test-artifacts/ (gitignored) for a person to look at.
"""

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli

CHROMIUM = os.environ.get("BACKPROP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# As root in a container: no sandbox, no GPU, and none of Chromium's own network traffic.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (uv sync installs the dev group)")

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        # A persistent context is how Playwright takes a --user-data-dir of our own: a new,
        # empty one per run.
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 640})
        yield context
        context.close()


def test_clicking_the_sigmoid_gate_shows_its_upstream_local_and_downstream(browser, tmp_path):
    page_file = tmp_path / "neuron.html"
    result = CliRunner().invoke(cli, [
        "graph", "1/(1+exp(-(w0*x0 + w1*x1 + w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2",
        "w2=-3", "--group", "sigmoid", "--roles", "-o", str(page_file)])
    assert result.exit_code == 0, result.stderr

    page = browser.new_page()
    page.goto(page_file.as_uri())
    # The drawing rendered: every node of the grouped graph is an SVG group with a size.
    nodes = page.locator("#drawing svg g.node:not(.edge-label)")
    assert nodes.count() == 11  # 5 inputs, 4 gates, σ, and the output's label
    sigma = page.locator("#drawing g.node", has_text="σ")
    box = sigma.bounding_box()
    assert box is not None and box["width"] > 10 and box["height"] > 10
    assert "Click a node" in page.inner_text("#panel")

    # A real mouse click at the circle's centre, as a learner would.
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    panel = page.inner_text("#panel")
    assert "gate σ" in panel
    assert "sigmoid gate: local gradient (1 - σ) σ, σ being its output" in panel
    rows = [line.split("\t") for line in panel.splitlines()]
    assert ["forward value", "0.731059"] in rows
    assert ["upstream gradient", "1"] in rows
    assert ["w0*x0 + w1*x1 + w2", "1", "0.196612", "0.196612"] in rows  # input, value, local, down
    assert "selected" in (sigma.get_attribute("class") or "")

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "graph_html_click.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # A second click moves the panel to another node: the x0 input, whose gradient is 0.39.
    page.click("#n1")
    rows = [line.split("\t") for line in page.inner_text("#panel").splitlines()]
    assert ["upstream gradient", "0.393224"] in rows
    page.close()


WIDE = "f = a*b + c*d + v*g + h*k + m*n + p*q + r*s + t*u"


@pytest.mark.parametrize("made", [
    ["quiz", "--seed", "7", "--worksheet", "{out}"],
    ["graph", "1/(1+exp(-(w0*x0 + w1*x1 + w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3",
     "-o", "{out}"],
    ["graph", WIDE, *(f"{v}={k}" for k, v in enumerate("abcdvghkmnpqrstu", 1)), "-o", "{out}"],
], ids=["worksheet", "neuron graph", "wide graph"])
def test_the_page_fits_a_1000_px_window_with_the_output_label_inside(browser, tmp_path, made):
    # Rendered for real at a 1000 px window: the output's label lies inside the viewport and
    # nothing scrolls sideways (a CSS rule alone does not show that the drawing was scaled).
    page_file = tmp_path / "page.html"
    result = CliRunner().invoke(cli, [w.format(out=page_file) for w in made])
    assert result.exit_code == 0, result.stderr
    page = browser.new_page()
    page.set_viewport_size({"width": 1000, "height": 700})
    page.goto(page_file.as_uri())
    inner = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= inner
    label = page.locator("svg g.node.output").first
    box = label.bounding_box()
    assert box is not None and box["width"] > 1 and box["height"] >= 7  # scaled, still legible
    assert 0 <= box["x"] and box["x"] + box["width"] <= inner
    assert (label.text_content() or "").strip()  # the label is drawn, not an empty box
    page.close()
