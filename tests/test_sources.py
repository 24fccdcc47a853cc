from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.ingest.sources import load_sources
from rag.records import Document, Skipped


def _pdf(text: str) -> bytes:
    """A minimal one-page PDF whose page shows `text` (ASCII), with a valid xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def test_loaders_read_every_supported_format(tmp_path):
    (tmp_path / "a.md").write_text(
        '---\ntitle: "Titre A"\nlang: fr\ndate: 2024-12-20\n---\n\nCorps de l’article.\n', encoding="utf-8"
    )
    (tmp_path / "b.txt").write_text("Plain title\n\nThe body of the article.", encoding="utf-8")
    (tmp_path / "c.html").write_text(
        "<html><head><title>Page C</title></head><body><nav>Menu</nav><article><h1>Page C</h1>"
        "<p>Le contenu principal de cette page parle des talents en intelligence artificielle et de leur recrutement "
        "par les grandes entreprises technologiques, un sujet traité en profondeur.</p></article></body></html>",
        encoding="utf-8",
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.pdf").write_bytes(_pdf("Hello from a PDF document"))
    (tmp_path / "e.jsonl").write_text(
        json.dumps({"doc_id": "x-1", "title": "X", "text": "Texte X.", "url": "https://e.x/1"}) + "\n", encoding="utf-8"
    )
    docs, skipped = load_sources([tmp_path])
    assert skipped == []
    by_id = {d.doc_id: d for d in docs}
    assert set(by_id) == {"a.md", "b.txt", "c.html", "sub/d.pdf", "x-1"}
    assert by_id["a.md"].title == "Titre A" and by_id["a.md"].date == "2024-12-20"
    assert by_id["a.md"].text == "Corps de l’article."
    assert by_id["b.txt"].title == "Plain title" and by_id["b.txt"].lang == "en"
    assert "talents" in by_id["c.html"].text and "Menu" not in by_id["c.html"].text
    assert "Hello from a PDF" in by_id["sub/d.pdf"].text
    assert by_id["x-1"].url == "https://e.x/1" and by_id["x-1"].source == "https://e.x/1"


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("empty.md", b"", "empty"),
        ("blank.txt", b"  \n\n ", "no text"),
        ("bin.txt", b"\x00\x01\x02binary", "binary"),
        ("latin1.md", "Café crème".encode("latin-1"), "UTF-8"),
        ("image.png", b"\x89PNG\r\n", "unsupported file type"),
        ("bad.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("fm.md", b"---\ntitle: [unclosed\n---\nbody", "front matter"),
        ("nofm.md", b"---\ntitle: x\nbody without end", "closing"),
    ],
)
def test_bad_files_are_named_and_skipped_and_the_run_goes_on(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    (tmp_path / "good.md").write_text("Un bon article.", encoding="utf-8")
    docs, skipped = load_sources([tmp_path])
    assert [d.doc_id for d in docs] == ["good.md"]
    assert len(skipped) == 1 and skipped[0].source == name
    assert reason.lower() in skipped[0].reason.lower()


def test_jsonl_bad_lines_are_reported_with_their_line_number(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text(
        '{"doc_id": "a", "text": "ok"}\nnot json\n{"doc_id": "a", "text": "dup"}\n{"title": "no text"}\n',
        encoding="utf-8",
    )
    docs, skipped = load_sources([p])
    assert [d.doc_id for d in docs] == ["a"]
    assert [s.source for s in skipped] == ["c.jsonl:2", "c.jsonl:3", "c.jsonl:4"]


def test_jsonl_is_streamed_and_a_line_in_another_encoding_loses_only_that_line(tmp_path):
    p = tmp_path / "c.jsonl"
    lines = [
        '\ufeff{"doc_id": "a", "text": "premier"}'.encode(),
        '{"doc_id": "b", "text": "café"}'.encode("latin-1"),
        '{"doc_id": "c", "text": "séparateur \u2028 dans le texte"}'.encode(),
    ]
    p.write_bytes(b"\r\n".join(lines) + b"\r\n")
    docs, skipped = load_sources([p])
    assert [d.doc_id for d in docs] == ["a", "c"]
    assert [s.source for s in skipped] == ["c.jsonl:2"] and "UTF-8" in skipped[0].reason


def test_missing_path_is_reported(tmp_path):
    docs, skipped = load_sources([tmp_path / "nope"])
    assert docs == [] and "no such file" in skipped[0].reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".md", ".txt", ".html", ".pdf", ".jsonl"]))
def test_fuzzed_files_never_crash_the_loader(tmp_path, data, suffix):
    p = tmp_path / f"fuzz{suffix}"
    p.write_bytes(data)
    for item in load_sources([p])[0] + load_sources([p])[1]:
        assert isinstance(item, Document | Skipped)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 600))
def test_truncated_pdfs_are_skipped_not_crashed(tmp_path, cut):
    p = tmp_path / "t.pdf"
    p.write_bytes(_pdf("Some text in a PDF")[:cut])
    docs, skipped = load_sources([p])
    assert len(docs) + len(skipped) == 1
