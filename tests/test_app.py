"""End-to-end: `python app.py` in a real process, driven by Debian's Chromium (Playwright) and by
gradio_client over HTTP on loopback."""

from __future__ import annotations

import os
import re
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
def app(tmp_path_factory):
    """The app in its own process on a free port: (url, its sources folder)."""
    work = tmp_path_factory.mktemp("app")
    sources = work / "sources"
    shutil.copytree(ROOT / "sources", sources)
    (sources / "castors.md").write_text(XSS, encoding="utf-8")
    port = free_port()
    cmd = [sys.executable, "app.py", "--port", str(port), "--index", str(work / "index"), "--sources", str(sources)]
    with serve(cmd, port, work / "app.log"):
        yield f"http://127.0.0.1:{port}", sources


@pytest.fixture(scope="module")
def app_url(app):
    return app[0]


@pytest.fixture
def browser():
    """A function opening a page in Chromium with a browser language and colour scheme."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        def open_page(locale: str = "fr-FR", color_scheme: str = "light"):  # type: ignore[no-untyped-def]
            context = chromium.new_context(
                locale=locale, color_scheme=color_scheme, viewport={"width": 1300, "height": 900}
            )
            pg = context.new_page()
            dialogs: list[str] = []
            pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            pg.dialogs = dialogs  # type: ignore[attr-defined]
            return pg

        yield open_page
        chromium.close()


@pytest.fixture
def page(browser):
    """A page in a French browser (the tests read the French labels)."""
    return browser()


def _marked(page) -> str:
    """The quoted spans highlighted in the sources panel, once the first is shown (an answer may
    quote two sentences of a passage, in document order: the one holding the answer is not always
    the first)."""
    marks = page.locator("#sources mark")
    marks.first.wait_for(timeout=60_000)
    return "\n".join(marks.all_inner_texts())


def _ask(page, url: str, question: str) -> None:
    page.goto(url)
    page.get_by_label("Votre question").fill(question)
    page.locator("#send").click()


def test_browser_question_shows_marker_and_highlighted_quote(app_url, page, tmp_path):
    _ask(page, app_url, "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?")
    assert "2,7 milliards" in _marked(page)
    bubbles = page.locator("[data-testid='bot']")
    assert "[1]" in bubbles.last.inner_text()
    # Assistive technology: the panel is a live region under its own heading, and no heading level
    # is skipped on the page (h2 title, h3 panel, h4 passages).
    panel = page.locator("#sources section")
    assert panel.get_attribute("aria-live") == "polite"
    assert panel.get_attribute("aria-labelledby") == "sources-heading"
    levels = page.evaluate("[...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1])")
    assert levels and all(b - a <= 1 for a, b in zip([1, *levels], levels, strict=False)), levels
    page.screenshot(path=str(tmp_path / "answer.png"))


def test_article_html_never_executes(app_url, page, tmp_path):
    _ask(page, app_url, "Que construit le castor d'Europe au bord des rivières ?")
    assert "huttes" in _marked(page)
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


def test_a_close_call_shows_the_other_passage(app_url, page):
    """When the reranker could hardly tell the cited passage from another one, the sources panel
    shows that other passage whole under a title saying so, and the API's answer names it."""
    from gradio_client import Client

    question = "Combien Databricks a-t-il levé ?"
    _ask(page, app_url, question)
    _marked(page)
    page.locator("#close-call .related").first.wait_for(timeout=60_000)
    shown = page.locator("#close-call").inner_text()
    assert "À vérifier aussi" in shown
    result = Client(app_url, verbose=False).predict(question, 5, api_name="/ask")
    close = result["close_passages"]
    assert close and not {c["chunk_id"] for c in result["citations"]} & set(close)
    texts = {p["chunk"]["chunk_id"]: p["chunk"]["text"] for p in result["passages"]}
    for chunk_id in close:
        assert " ".join(texts[chunk_id].split()[:8]) in " ".join(shown.split())


def test_gradio_client_gets_answer_and_citations(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    result = client.predict("Pour combien Naveen Rao a-t-il vendu MosaicML ?", 5, api_name="/ask")
    assert result["answered"] and "1,3 milliard" in result["text"]
    c = result["citations"][0]
    assert c["quote"] in result["text"] and c["end"] > c["start"]
    local = client.predict("Pour combien Naveen Rao a-t-il vendu MosaicML ?", 5, "local", api_name="/ask")
    assert local["answerer"].startswith("llama.cpp:") and local["question"]
    for c in local["citations"]:
        assert c["quote"] and c["end"] - c["start"] == len(c["quote"])
    with pytest.raises(Exception, match="unknown answerer"):
        client.predict("Bonjour ?", 5, "gpt", api_name="/ask")


def test_the_answerability_threshold_is_the_callers(app_url):
    """`min_support` through the API: the answer reports the support it reached; a threshold above it
    refuses the same question; a value outside 0-1 is a clear error."""
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    q = "Pour combien Naveen Rao a-t-il vendu MosaicML ?"
    default = client.predict(q, 5, api_name="/ask")
    assert default["answered"] and 0.34 <= default["support"] <= 1
    strict = client.predict(q, 5, "", [], min(1.0, default["support"] + 0.01), api_name="/ask")
    assert not strict["answered"] and strict["citations"] == [] and strict["support"] == default["support"]
    with pytest.raises(Exception, match="min_support must be between 0 and 1"):
        client.predict(q, 5, "", [], 1.5, api_name="/ask")


def _shown(page) -> str:
    """What the page shows a user: chat bubbles, sources panel and any error toast (for failure
    messages)."""
    bubbles = page.locator("[data-testid='bot'], [data-testid='user']").all_inner_texts()
    toasts = page.locator(".toast-body").all_inner_texts()
    return f"chat={bubbles!r} sources={page.locator('#sources').inner_text()[:600]!r} toasts={toasts!r}"


def _set_until_shown(page, act, selector: str, value: str) -> None:
    """Change a setting with `act` until the input at `selector` shows `value`. Done just as its
    accordion opens, a change is sometimes put back to the default as the component mounts (seen in
    CI, and 1 run in 3 locally for the threshold): the test would then ask under the default."""
    from playwright.sync_api import expect

    for _ in range(20):
        act()
        if page.locator(selector).input_value() == value:
            break
        page.wait_for_timeout(250)
    expect(page.locator(selector)).to_have_value(value)


def test_a_stricter_threshold_set_in_the_browser_refuses(app_url, page):
    page.goto(app_url)
    page.get_by_text("Réglages").click()
    number = page.locator("#min-support input[type=number]")
    _set_until_shown(page, lambda: (number.fill("1"), number.blur()), "#min-support input[type=range]", "1")
    page.get_by_label("Votre question").fill("Combien Google a-t-il payé pour faire revenir Noam Shazeer ?")
    page.locator("#send").click()
    try:
        page.locator("#support").wait_for(timeout=120_000)  # shown whether it answers or refuses
    except Exception as exc:
        raise AssertionError(f"no support line after 120 s; {_shown(page)}") from exc
    support = page.locator("#support").inner_text()
    assert "seuil 1.00 non atteint" in support, _shown(page)
    assert page.locator("#sources .related").count() and "pas une réponse" in page.locator("#sources").inner_text()


OTTER = """---
title: "La loutre de mer, outil en main"
---

La loutre de mer utilise des pierres pour ouvrir les oursins et les coquillages. Elle peut rester sous
l'eau jusqu'à cinq minutes. Les loutres dorment en se tenant par la patte pour ne pas dériver.
"""


def test_upload_in_the_browser_then_ask_about_the_new_article(app, page, tmp_path):
    url, sources = app
    article = tmp_path / "loutres.md"
    article.write_text(OTTER, encoding="utf-8")
    page.goto(url)
    page.get_by_text("Articles", exact=True).click()
    page.locator("#upload input[type=file]").set_input_files(str(article))
    page.locator("#add").click()
    page.get_by_text("loutres.md ajouté et indexé").wait_for(timeout=120_000)
    assert (sources / "loutres.md").read_text(encoding="utf-8") == OTTER

    page.get_by_label("Votre question").fill("Combien de temps la loutre de mer peut-elle rester sous l'eau ?")
    page.locator("#send").click()
    assert "cinq minutes" in _marked(page)
    assert "La loutre de mer, outil en main" in page.locator("#sources").inner_text()
    assert "[1]" in page.locator("[data-testid='bot']").last.inner_text()

    # The same name again is refused unless "replace" is ticked; nothing is lost.
    page.locator("#upload input[type=file]").set_input_files(str(article))
    page.locator("#add").click()
    page.get_by_text("loutres.md already exists").wait_for(timeout=60_000)
    page.screenshot(path=str(tmp_path / "upload.png"))


WATCH_PROGRESS = """(() => {
    window.__progress = [];
    new MutationObserver(() => {
        for (const el of document.querySelectorAll(".progress-text, .progress-level, .meta-text, .eta-bar")) {
            const t = el.textContent.trim();
            if (t && !window.__progress.includes(t)) window.__progress.push(t);
        }
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
})()"""


def _article(title: str, topic: str, fact: str, paragraphs: int = 40) -> str:
    """A Markdown article long enough (many passages) for indexing to take a visible moment."""
    body = "\n\n".join(
        f"Le paragraphe {i} traite de {topic} dans la région numéro {i}, avec des observations de terrain "
        f"répétées chaque saison par les équipes locales et consignées dans le carnet {i}."
        for i in range(paragraphs)
    )
    return f'---\ntitle: "{title}"\n---\n\n{fact}\n\n{body}\n'


def test_upload_two_articles_with_progress_then_remove_one(app, page, tmp_path):
    url, sources = app
    herons, lynx = tmp_path / "herons.md", tmp_path / "lynx.md"
    herons.write_text(
        _article("Le héron cendré", "hérons", "Le héron cendré niche dans des héronnières de quarante nids."),
        encoding="utf-8",
    )
    lynx.write_text(
        _article("Le lynx boréal", "lynx", "Le lynx boréal chasse surtout le chevreuil au crépuscule."),
        encoding="utf-8",
    )
    page.goto(url)
    page.get_by_text("Articles", exact=True).click()
    page.locator("#articles-table").wait_for(timeout=30_000)
    before = page.locator("#articles-table tbody tr").count()
    page.evaluate(WATCH_PROGRESS)
    page.locator("#upload input[type=file]").set_input_files([str(herons), str(lynx)])
    page.locator("#add").click()
    page.get_by_text("herons.md ajouté et indexé").wait_for(timeout=180_000)
    status = page.locator("#upload-status").inner_text()
    assert "lynx.md ajouté et indexé" in status and "2 ajouté(s), 0 mis à jour, 0 refusé(s)" in status
    seen = page.evaluate("window.__progress")
    assert any("2/2 articles" in t for t in seen) and any("Indexation" in t for t in seen), f"no progress: {seen}"
    page.wait_for_function(f"document.querySelectorAll('#articles-table tbody tr').length === {before + 2}")
    assert "Le lynx boréal" in page.locator("#articles-table").inner_text()

    page.locator("#remove-choice input").click()
    page.get_by_role("option", name="Le lynx boréal (lynx.md)").click()
    page.locator("#remove").click()
    page.get_by_text("Retirer 1 article(s) de l’index : lynx.md ?").wait_for(timeout=30_000)
    page.locator("#remove-yes").click()
    page.get_by_text("lynx.md retiré").wait_for(timeout=60_000)
    page.wait_for_function(f"document.querySelectorAll('#articles-table tbody tr').length === {before + 1}")
    assert not (sources / "lynx.md").exists() and (sources / ".removed" / "lynx.md").exists()

    page.get_by_label("Votre question").fill("Que chasse le lynx boréal au crépuscule ?")
    page.locator("#send").click()
    page.locator("#sources .citation, #sources .related").first.wait_for(timeout=120_000)
    shown = page.locator("#sources").inner_text() + page.locator("[data-testid='bot']").last.inner_text()
    assert "Le lynx boréal" not in shown and "chevreuil" not in shown


LAST_BOT_HAS_MARKER = """(() => {
    const b = document.querySelectorAll("[data-testid='bot']");
    return b.length >= 2 && b[b.length - 1].innerText.includes("[1]");
})()"""


def test_follow_up_question_uses_the_conversation(app_url, page):
    first = "Quelle entreprise a annoncé la plus grande levée de fonds jamais réalisée par une entreprise tech ?"
    _ask(page, app_url, first)
    bot = page.locator("[data-testid='bot']")
    bot.first.wait_for(timeout=60_000)
    page.locator("#sources mark").first.wait_for(timeout=60_000)
    page.get_by_label("Votre question").fill("Quel âge a cette société ?")
    page.locator("#send").click()
    page.wait_for_function("document.querySelectorAll(\"[data-testid='bot']\").length >= 2", timeout=60_000)
    page.wait_for_function(
        LAST_BOT_HAS_MARKER,
        timeout=60_000,
    )
    assert "11 ans" in bot.last.inner_text()


def _choose_answerer(page, name: str) -> None:
    """Pick `name` in the settings' answerer list (the settings panel open)."""
    _set_until_shown(
        page,
        lambda: (page.locator("#answerer input").click(), page.get_by_role("option", name=name).click()),
        "#answerer input",
        name,
    )


def test_local_answer_streams_into_the_chat(app_url, page):
    page.goto(app_url)
    page.get_by_text("Réglages").click()
    _choose_answerer(page, "local")
    # Record every text the last bot message shows while the answer arrives.
    page.evaluate(
        """() => { window.__seen = new Set();
        new MutationObserver(() => { const b = document.querySelectorAll("[data-testid='bot']");
          if (b.length) window.__seen.add(b[b.length-1].innerText); })
        .observe(document.body, {childList: true, subtree: true, characterData: true}); }"""
    )
    page.get_by_label("Votre question").fill("Combien Google a-t-il payé pour faire revenir Noam Shazeer ?")
    page.locator("#send").click()
    page.locator("#sources .citation, #sources .related").first.wait_for(timeout=240_000)
    seen = page.evaluate("[...window.__seen]")
    assert len(seen) >= 3, seen  # placeholder, partial text(s), verified answer


def test_the_stop_button_stops_a_running_answer(app_url, page):
    """Stop while the local model prepares its answer: no answer or citation arrives, and the next
    question is answered as usual."""
    page.goto(app_url)
    page.get_by_text("Réglages").click()
    _choose_answerer(page, "local")
    page.get_by_label("Votre question").fill("Combien Google a-t-il payé pour faire revenir Noam Shazeer ?")
    page.locator("#send").click()
    page.locator("[data-testid='bot']").first.wait_for(timeout=30_000)  # the placeholder: it is running
    page.locator("#stop").click()
    page.wait_for_timeout(15_000)  # longer than the local model takes to answer here
    assert page.locator("#sources .citation").count() == 0
    assert "[1]" not in page.locator("[data-testid='bot']").last.inner_text()

    _choose_answerer(page, "extractive")
    page.get_by_label("Votre question").fill("Qui est Naveen Rao ?")
    page.locator("#send").click()
    page.locator("#sources .citation").first.wait_for(timeout=120_000)


def test_the_page_follows_the_browser_language(app_url, browser):
    """Every string of ours in English for an English browser, in French for a French one: labels,
    examples, and what the server renders (the sources panel)."""
    from playwright.sync_api import expect

    en = browser("en-US")
    en.goto(app_url)
    expect(en.locator("#send")).to_have_text("Send")
    expect(en.locator("#examples-en")).to_be_visible()
    en.get_by_label("Your question").fill("How much did Google pay to bring back Noam Shazeer?")
    en.locator("#send").click()
    en.locator("#sources mark").first.wait_for(timeout=120_000)
    shown = en.locator("body").inner_text()
    for english in ("Ask your articles", "New conversation", "Stop", "Settings", "Examples", "Articles"):
        assert english in shown, english
    for english in ("How many researchers can build frontier models?", "Support from the sources", "characters"):
        assert english in shown, english
    for french in ("Envoyer", "Arrêter", "Réglages", "Exemples", "caractères", "Appui des sources", "Nouvelle"):
        assert french not in shown, french

    fr = browser("fr-FR")
    fr.goto(app_url)
    expect(fr.locator("#send")).to_have_text("Envoyer")
    expect(fr.locator("#examples-fr")).to_be_visible()  # shown by the page's load event
    shown = fr.locator("body").inner_text()
    for french in ("Questions sur vos articles", "Nouvelle conversation", "Réglages", "Exemples", "apparaîtront"):
        assert french in shown, french
    for english in ("Ask your articles", "New conversation", "Examples", "How many researchers"):
        assert english not in shown, english


def test_a_marker_click_brings_up_and_highlights_its_citation(app_url, page):
    from playwright.sync_api import expect

    _ask(page, app_url, "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?")
    _marked(page)
    links = page.locator("[data-testid='bot'] a[href^='#citation-']")
    assert links.count() >= 1
    link = links.nth(links.count() - 1)
    target = page.locator(link.get_attribute("href") or "")
    assert page.locator(".citation.active").count() == 0
    link.click()
    expect(target).to_have_class(re.compile(r"\bactive\b"))
    assert page.locator(".citation.active").count() == 1 and page.url.rstrip("/") == app_url.rstrip("/")
    assert target.evaluate("e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight }")


CONTRAST = """(selector) => {
  // WCAG contrast of an element's text against what is behind it, from the computed colours
  // (any CSS colour syntax, read back through a canvas).
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const rgba = (c) => { ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = "#000"; ctx.fillStyle = c; ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data; return [d[0], d[1], d[2], d[3] / 255]; };
  const el = document.querySelector(selector);
  if (!el) return null;
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const b = rgba(getComputedStyle(e).backgroundColor);
    if (b[3] > 0) { layers.push(b); if (b[3] >= 1) break; }
  }
  let bg = [255, 255, 255];
  for (const b of layers.reverse()) bg = [0, 1, 2].map((i) => b[i] * b[3] + bg[i] * (1 - b[3]));
  const fg = rgba(getComputedStyle(el).color);
  const text = [0, 1, 2].map((i) => fg[i] * fg[3] + bg[i] * (1 - fg[3]));
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = (c) => { const [r, g, b] = c.map(channel); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const [a, b] = [lum(text), lum(bg)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_has_contrast_4_5_in_light_and_dark_themes(app_url, browser, scheme):
    """The highlighted quote, the meta line, the close-call and closest-passage titles and body text,
    measured from the page's computed colours with the system's theme light or dark."""
    page = browser("fr-FR", scheme)
    page.goto(app_url)
    page.get_by_text("Réglages").click()  # a low threshold, so the second question gets the closest passage
    number = page.locator("#min-support input[type=number]")
    _set_until_shown(page, lambda: (number.fill("0.1"), number.blur()), "#min-support input[type=range]", "0.1")
    page.get_by_label("Votre question").fill("Combien Databricks a-t-il levé ?")  # a close call
    page.locator("#send").click()
    page.locator("#close-call").wait_for(timeout=120_000)
    assert page.evaluate("document.body.classList.contains('dark')") == (scheme == "dark")
    ratios = {
        selector: page.evaluate(CONTRAST, selector)
        for selector in ("#sources mark", "#sources .meta", "#close-call .close-title", "#sources blockquote")
    }
    ratios["bot"] = page.evaluate(CONTRAST, "[data-testid='bot'] p")
    ratios["heading"] = page.evaluate(CONTRAST, "#sources h4")

    page.get_by_label("Votre question").fill("Quel salaire touche Naveen Rao ?")
    page.locator("#send").click()
    page.locator("#closest").wait_for(timeout=120_000)
    ratios["#closest"] = page.evaluate(CONTRAST, "#closest")
    assert all(r is not None and r >= 4.5 for r in ratios.values()), ratios


def test_the_conversation_survives_a_reload(app_url, page):
    from playwright.sync_api import expect

    question = "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?"
    _ask(page, app_url, question)
    marked = _marked(page)
    page.reload()
    expect(page.locator("[data-testid='user']").last).to_contain_text(question, timeout=30_000)
    expect(page.locator("[data-testid='bot']").last).to_contain_text("2,7 milliards")
    assert _marked(page) == marked
    page.locator("[data-testid='bot'] a[href^='#citation-']").first.click()  # still linked to the panel
    assert page.locator(".citation.active").count() == 1
    page.locator("#clear").click()
    expect(page.locator("[data-testid='bot']")).to_have_count(0)
    page.reload()
    page.locator("#send").wait_for()
    page.wait_for_timeout(2000)  # the restore on load has run
    assert page.locator("[data-testid='bot']").count() == 0 and page.locator("#sources mark").count() == 0


def test_unsupported_sentences_are_marked_in_the_chat_message():
    import importlib

    from rag.records import Answer

    app = importlib.import_module("app")
    text = app.chat_text(Answer("q", "Vrai [1]. Inventé.", True, unsupported=("Inventé.",)))
    assert text.startswith("Vrai [1]. Inventé.") and "⚠ Non vérifié dans les sources : « Inventé. »" in text


def test_an_answer_with_no_verified_sentence_shows_the_passages_it_was_given():
    """A generated answer none of whose sentences the passages support still lets the user read
    what was retrieved, under a title that says nothing was verified."""
    import importlib

    from rag.records import Answer, Chunk, Hit

    app = importlib.import_module("app")
    hit = Hit(
        Chunk("a.md#0", "a.md", "Castors", "Les castors <b>vivent</b> en familles.", 0, 37), 0.9, 1, source="a.md"
    )
    html = app.render_sources(Answer("q", "Inventé.", True, passages=(hit,), unsupported=("Inventé.",)))
    assert "class='related'" in html and "vérifiée" in html and "&lt;b&gt;vivent&lt;/b&gt;" in html
    assert "pas une réponse" in app.render_sources(Answer("q", "Non.", False, passages=(hit,)))
    assert "close-call" not in html


def test_a_closest_passage_answer_says_so_above_the_highlighted_quote():
    import importlib
    from dataclasses import replace

    from rag.records import Answer, Chunk, Citation, Hit

    app = importlib.import_module("app")
    hit = Hit(Chunk("a.md#0", "a.md", "Castors", "Les castors vivent en familles.", 0, 31), 1.0, 1)
    citation = Citation(1, "a.md", "Castors", "a.md", "", "Les castors vivent en familles.", 0, 31, 0.5, "a.md#0")
    sure = Answer("q", "Les castors vivent en familles. [1]", True, (citation,), (hit,))
    assert "closest" not in app.render_sources(sure)
    html = app.render_sources(replace(sure, confidence="closest"))
    assert "pas une réponse directe" in html and html.index("id='closest'") < html.index("<mark>")


def test_close_passages_are_shown_whole_and_escaped():
    import importlib
    from dataclasses import replace

    from rag.records import Answer, Chunk, Citation, Hit

    app = importlib.import_module("app")
    cited = Hit(Chunk("a.md#0", "a.md", "Castors", "Les castors vivent en familles.", 0, 31), 1.0, 1)
    other = Hit(Chunk("b.md#0", "b.md", "Loutres", "Les loutres <i>aussi</i>.", 0, 25), 0.95, 2)
    citation = Citation(1, "a.md", "Castors", "a.md", "", "Les castors vivent en familles.", 0, 31, 0.5, "a.md#0")
    answer = Answer("q", "Les castors vivent en familles. [1]", True, (citation,), (cited, other))
    assert "close-call" not in app.render_sources(answer)
    html = app.render_sources(replace(answer, close_passages=("b.md#0",)))
    assert "id='close-call'" in html and "Loutres" in html and "&lt;i&gt;aussi&lt;/i&gt;" in html
    assert html.index("citation-1") < html.index("close-call")


@pytest.mark.parametrize(
    "question",
    [
        "\x00\x01\x02 Noam ?",
        "mot " * 25_000,
        "\u202eNoam Shazeer\u202c ?",
        "<img src=x onerror=alert(1)> Noam ?",
        "\r\n\t",
    ],
)
def test_hostile_questions_through_the_api_get_an_answer_or_a_clear_error(app_url, question):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    try:
        result = client.predict(question, 5, api_name="/ask")
    except Exception as exc:  # noqa: BLE001 - the message is what is checked
        assert "non-empty" in str(exc), exc
    else:
        assert isinstance(result["text"], str) and result["text"]
        for c in result["citations"]:
            assert len(c["quote"]) == c["end"] - c["start"]
    ok = client.predict("Qui est Naveen Rao ?", 5, api_name="/ask")  # and the app still serves
    assert ok["answered"]


def test_index_fault_shows_a_message_in_the_browser_then_recovers(tmp_path, page):
    """A damaged live index (here: a newer version whose vectors file is cut short) gives a message
    naming the file and `--rebuild`, never a traceback or an answer; a rebuild from another process
    brings the running app back without a restart."""
    import subprocess

    sources, index = tmp_path / "sources", tmp_path / "index"
    shutil.copytree(ROOT / "sources", sources)
    port = free_port()
    cmd = [sys.executable, "app.py", "--port", str(port), "--index", str(index), "--sources", str(sources)]
    with serve(cmd, port, tmp_path / "app.log"):
        url = f"http://127.0.0.1:{port}"
        live = (index / "CURRENT").read_text().strip()
        shutil.copytree(index / live, index / "v-000099")
        vectors = index / "v-000099" / "vectors.npy"
        vectors.write_bytes(vectors.read_bytes()[:100])
        (index / "CURRENT").write_text("v-000099\n")

        _ask(page, url, "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?")
        toast = page.locator("[data-testid='toast-body']").first
        toast.wait_for(timeout=60_000)
        message = toast.inner_text()
        assert "vectors.npy" in message and "--rebuild" in message
        body = page.locator("body").inner_text()
        assert "Traceback" not in body and "2,7 milliards" not in body

        rebuild = [sys.executable, "-m", "rag", "index", str(sources), "--index", str(index), "--rebuild"]
        subprocess.run(rebuild, cwd=ROOT, check=True, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        _ask(page, url, "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?")
        assert "2,7 milliards" in _marked(page)


def test_a_lone_surrogate_sent_as_json_gets_an_answer(app_url):
    """JSON can carry a lone surrogate ("\\udcff"), which no UTF-8 encoder accepts; gradio_client
    cannot send one, so this posts the JSON itself to the /ask API."""
    import json

    import httpx

    body = json.dumps({"data": ["Qui est \udcff Naveen Rao ?", 5, "", [], 0.34]})  # ASCII, escaped
    assert "\\udcff" in body
    with httpx.Client(base_url=app_url, timeout=300) as http:
        call = http.post("/gradio_api/call/ask", content=body, headers={"content-type": "application/json"})
        call.raise_for_status()
        events = http.get(f"/gradio_api/call/ask/{call.json()['event_id']}").text
    assert "event: complete" in events, events[-2000:]
    data = json.loads(events.split("event: complete", 1)[1].split("data:", 1)[1].strip().splitlines()[0])
    answer = data[0]
    assert answer["question"] == "Qui est \ufffd Naveen Rao ?" and answer["text"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RAG_AUTH": "alice"}, "RAG_AUTH must be user:password (e.g. RAG_AUTH=alice:"),
        ({"GRADIO_SERVER_PORT": "http"}, "'http' is not a port number"),
        ({"RAG_CONCURRENCY": "0"}, "'0' is not a positive whole number"),
        ({"RAG_MIN_SUPPORT": "2"}, "'2' is not a number between 0 and 1"),
    ],
)
def test_bad_settings_stop_the_app_before_anything_slow(tmp_path, env, message):
    """Checked before indexing or loading a model: the index folder is never created."""
    import subprocess

    r = subprocess.run(
        [sys.executable, "app.py", "--index", str(tmp_path / "index"), "--sources", str(tmp_path / "none")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
        timeout=120,
    )
    assert r.returncode == 2 and message in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and not (tmp_path / "index").exists()
