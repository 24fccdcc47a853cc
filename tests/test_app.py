"""End-to-end: `python app.py` in a real process, driven by Debian's Chromium (Playwright) and by
gradio_client over HTTP on loopback."""

from __future__ import annotations

import shutil
import sys

import pytest

from .conftest import ROOT, free_port, serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
XSS = """---
title: "Les castors <script>window.__pwned = 1</script>"
---

Le castor d'Europe construit des huttes de branches au bord des rivières. <script>window.__pwned = 1;
document.title = 'PWNED'</script> <img src=x onerror="window.__pwned = 1; document.body.innerHTML = 'PWNED'">
<a href="javascript:window.__pwned=1">clique</a> Les castors vivent en familles.
"""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    work = tmp_path_factory.mktemp("app")
    sources = work / "sources"
    shutil.copytree(ROOT / "sources", sources)
    (sources / "castors.md").write_text(XSS, encoding="utf-8")
    port = free_port()
    cmd = [sys.executable, "app.py", "--port", str(port), "--index", str(work / "index"), "--sources", str(sources)]
    with serve(cmd, port, work / "app.log"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1300, "height": 900})
        dialogs: list[str] = []
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pg.dialogs = dialogs  # type: ignore[attr-defined]
        yield pg
        browser.close()


def _ask(page, url: str, question: str) -> None:
    page.goto(url)
    page.get_by_label("Votre question").fill(question)
    page.locator("#send").click()


def test_browser_question_shows_marker_and_highlighted_quote(app_url, page, tmp_path):
    _ask(page, app_url, "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?")
    page.locator("#sources mark").first.wait_for(timeout=60_000)
    assert "2,7 milliards" in page.locator("#sources mark").first.inner_text()
    bubbles = page.locator("[data-testid='bot']")
    assert "[1]" in bubbles.last.inner_text()
    page.screenshot(path=str(tmp_path / "answer.png"))


def test_article_html_never_executes(app_url, page, tmp_path):
    _ask(page, app_url, "Que construit le castor d'Europe au bord des rivières ?")
    page.locator("#sources mark").first.wait_for(timeout=60_000)
    assert "huttes" in page.locator("#sources mark").first.inner_text()
    sources_text = page.locator("#sources").inner_text()
    assert "window.__pwned" in sources_text  # the payload is displayed as text, inert
    assert page.evaluate("window.__pwned") is None
    assert page.title() != "PWNED" and page.dialogs == []  # type: ignore[attr-defined]
    assert page.locator("#sources a[href^='javascript:']").count() == 0
    page.screenshot(path=str(tmp_path / "xss.png"))


def test_refusal_shows_related_passages(app_url, page):
    _ask(page, app_url, "Quelle est la capitale de l'Australie ?")
    page.locator("#sources .related").first.wait_for(timeout=60_000)
    assert "pas une réponse" in page.locator("#sources").inner_text()


def test_gradio_client_gets_answer_and_citations(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    result = client.predict("Pour combien Naveen Rao a-t-il vendu MosaicML ?", 5, api_name="/ask")
    assert result["answered"] and "1,3 milliard" in result["text"]
    c = result["citations"][0]
    assert c["quote"] in result["text"] and c["end"] > c["start"]
