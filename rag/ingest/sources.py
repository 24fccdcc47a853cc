"""Loading articles: Markdown/text (optional YAML front matter), HTML, PDF and JSONL corpora.

Yields `Document`s and `Skipped` records as it goes, so huge corpora stream and one bad file never
stops a run. Never chunks, embeds or writes anything.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import SourceError
from ..records import Document, Skipped
from ..text.lang import detect_lang
from ..text.terms import valid_text

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
SUFFIXES = (*TEXT_SUFFIXES, ".html", ".htm", ".pdf", ".jsonl")
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TITLE_CHARS = 200


def iter_sources(paths: Iterable[str | Path]) -> Iterator[Document | Skipped]:
    """Every document under `paths` (files or folders, recursively), in a stable order.

    For files, `doc_id` is the path relative to the folder given (a file given directly: its name).
    Unsupported, unreadable, empty, binary or undecodable files are yielded as `Skipped`.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink()):
                if not _hidden(file, path):  # hidden files and folders (.git, .DS_Store) are not articles
                    yield from _load_file(file, file.relative_to(path).as_posix())
        elif path.exists():
            yield from _load_file(path, path.name)
        else:
            yield Skipped(str(path), "no such file or folder")


def _hidden(file: Path, folder: Path) -> bool:
    return any(part.startswith(".") for part in file.relative_to(folder).parts)


def count_sources(paths: Iterable[str | Path]) -> int:
    """How many items `iter_sources(paths)` will yield, about: files, and lines of .jsonl corpora
    (for a progress bar's total; reads only file names and newline counts)."""
    n = 0
    for raw in paths:
        path = Path(raw)
        files = [path] if not path.is_dir() else [p for p in path.rglob("*") if p.is_file() and not _hidden(p, path)]
        for file in files:
            if file.suffix.lower() != ".jsonl":
                n += 1
                continue
            try:
                with file.open("rb") as fh:
                    lines = 0
                    while block := fh.read(1 << 20):
                        lines += block.count(b"\n")
                n += max(lines, 1)
            except OSError:
                n += 1
    return n


TEXT_FIELDS = ("doc_id", "title", "text", "url", "lang", "date", "publisher")


def documents_from_texts(items: Iterable[Mapping[str, Any] | Document]) -> list[Document]:
    """Documents from texts a program already has: mappings with "text" and optionally "doc_id",
    "title", "url", "lang" ("fr"/"en", detected when absent), "date" and "publisher". Without a
    doc_id, the url is the id, else one made from the title and text (give a doc_id to replace a
    text later).

    Raises:
        ValueError: an item is not a mapping, has no text, or has a field of the wrong type or an
            unknown field (names the item and the field); nothing is returned then.
    """
    docs: list[Document] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if isinstance(item, Document):
            docs.append(item)
            continue
        where = f"text {i + 1}"
        if not isinstance(item, Mapping):
            raise ValueError(f'{where} is a {type(item).__name__}; give a dict with a "text" key (and title, url...)')
        unknown = sorted(set(item) - set(TEXT_FIELDS))
        if unknown:
            raise ValueError(
                f"{where} has unknown field(s) {', '.join(map(repr, unknown))}; known: {', '.join(TEXT_FIELDS)}"
            )
        bad = [k for k, v in item.items() if not isinstance(v, str)]
        if bad:
            raise ValueError(f"{where}: field {bad[0]!r} must be a string (got {type(item[bad[0]]).__name__})")
        if item.get("lang") and item["lang"] not in ("fr", "en"):
            raise ValueError(f'{where}: lang {item["lang"]!r} is not supported; use "fr" or "en" or leave it out')
        title = item.get("title", "")
        text = item.get("text", "")
        doc_id = (
            item.get("doc_id")
            or item.get("url")
            or "text-" + hashlib.sha256(f"{title}\n{text}".encode("utf-8", "surrogatepass")).hexdigest()[:12]
        )
        try:
            meta = {k: item[k] for k in ("url", "lang", "date", "publisher") if item.get(k)}
            doc = _document(doc_id, title, text, **meta)
        except SourceError as exc:
            raise ValueError(f'{where} ({doc_id}): {exc}; give it a non-empty "text"') from None
        if doc.doc_id in seen:
            raise ValueError(f"{where}: doc_id {doc.doc_id!r} is given twice; give each text its own doc_id")
        seen.add(doc.doc_id)
        docs.append(replace(doc, source=item.get("url") or doc.doc_id))
    return docs


def load_sources(paths: Iterable[str | Path]) -> tuple[list[Document], list[Skipped]]:
    """All documents and skipped files under `paths` (see `iter_sources`)."""
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for item in iter_sources(paths):
        (docs if isinstance(item, Document) else skipped).append(item)  # type: ignore[arg-type]
    return docs, skipped


def _load_file(path: Path, doc_id: str) -> Iterator[Document | Skipped]:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        yield Skipped(doc_id, f"unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUFFIXES)}")
        return
    try:
        if path.is_symlink() and not path.resolve().is_file():
            raise SourceError("broken symbolic link")
        size = path.stat().st_size
        if size == 0:
            raise SourceError("file is empty")
        if suffix == ".jsonl":  # any size: read a line at a time
            with path.open("rb") as fh:
                if b"\x00" in fh.read(8192):
                    raise SourceError("looks like a binary file (contains NUL bytes); a .jsonl corpus is UTF-8 text")
                fh.seek(0)
                yield from _parse_jsonl(fh, doc_id)
            return
        if size > MAX_FILE_BYTES:
            raise SourceError(f"file is {size / 1e6:.0f} MB, over the {MAX_FILE_BYTES // 2**20} MiB limit; split it")
        data = path.read_bytes()
    except OSError as exc:
        yield Skipped(doc_id, f"cannot read file: {exc.strerror or exc}")
        return
    except SourceError as exc:
        yield Skipped(doc_id, str(exc))
        return
    try:
        if suffix == ".pdf":
            doc = parse_pdf(data, doc_id)
        elif suffix in (".html", ".htm"):
            doc = parse_html(_decode(data), doc_id)
        else:
            doc = parse_text(_decode(data), doc_id, default_title=path.stem)
    except SourceError as exc:
        yield Skipped(doc_id, str(exc))
        return
    yield doc


def clean_text(text: str) -> str:
    """Normalise line ends and Unicode (NFC); drop control characters but newline and tab; a lone
    surrogate (not text: a JSON client can send one) becomes U+FFFD."""
    text = valid_text(text)
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc").strip()


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise SourceError("looks like a binary file (contains NUL bytes); only text, HTML and PDF are read")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8") from None


def _document(doc_id: str, title: str, text: str, **meta: str) -> Document:
    text = clean_text(text)
    if not text:
        raise SourceError("no text after extraction (empty document)")
    lang = meta.pop("lang", "") or detect_lang(text)
    if lang not in ("fr", "en"):
        lang = detect_lang(text)
    return Document(doc_id=doc_id, title=title.strip() or doc_id, text=text, source=doc_id, lang=lang, **meta)  # type: ignore[arg-type]


def parse_text(raw: str, doc_id: str, *, default_title: str = "") -> Document:
    """Markdown or plain text, with optional YAML front matter (title, lang, url, date, publisher)."""
    meta: dict[str, str] = {}
    body = raw.lstrip("\ufeff")
    if body.startswith("---\n") or body.startswith("---\r\n"):
        end = body.find("\n---", 3)
        if end == -1:
            raise SourceError("front matter starts with '---' but has no closing '---' line")
        import yaml

        try:
            loaded = yaml.safe_load(body[4:end]) or {}
        except yaml.YAMLError as exc:
            raise SourceError(f"invalid YAML front matter: {exc}".splitlines()[0]) from None
        if not isinstance(loaded, dict):
            raise SourceError("front matter must be a YAML mapping (key: value lines)")
        meta = {str(k): str(v) for k, v in loaded.items() if v is not None}
        body = body[end + 4 :].split("\n", 1)[1] if "\n" in body[end + 4 :] else ""
    title = meta.get("title", "")
    if not title:
        for line in body.splitlines():
            if line.strip():
                first = line.strip().lstrip("#").strip()
                title = first if len(first) <= MAX_TITLE_CHARS else ""  # a paragraph is not a title
                break
    fields = {k: meta[k] for k in ("url", "date", "publisher", "lang") if k in meta}
    return _document(doc_id, title or default_title, body, **fields)


def parse_html(raw: str, doc_id: str) -> Document:
    """Main text of an HTML page (trafilatura), with its title and date."""
    import trafilatura

    text = trafilatura.extract(raw, include_comments=False, include_tables=True, favor_recall=True)
    if not text:
        raise SourceError("no main text found in the HTML page")
    meta = trafilatura.extract_metadata(raw)
    title = (meta.title if meta and meta.title else "") or ""
    fields = {"date": meta.date or "", "url": meta.url or ""} if meta else {}
    if meta and meta.sitename:
        fields["publisher"] = meta.sitename
    return _document(doc_id, title, text, **{k: v for k, v in fields.items() if v})


def parse_pdf(data: bytes, doc_id: str) -> Document:
    """Text of every page of a PDF (pypdf); the title from its metadata when present."""
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed PDFs warn on every object
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise SourceError("PDF is encrypted; save an unencrypted copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str(reader.metadata.title) if reader.metadata and reader.metadata.title else ""
    except SourceError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        raise SourceError(f"unreadable PDF: {type(exc).__name__}: {exc}".splitlines()[0][:300]) from None
    return _document(doc_id, title, "\n\n".join(p.strip() for p in pages))


def _parse_jsonl(lines: Iterable[bytes], source: str) -> Iterator[Document | Skipped]:
    """One `{"doc_id", "title", "text", "url"}` object per line; `doc_id` is kept as given."""
    seen: set[str] = set()
    for lineno, raw in enumerate(lines, 1):
        where = f"{source}:{lineno}"
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            yield Skipped(where, f"not valid UTF-8 (byte {exc.start} of the line); re-save the file as UTF-8")
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Skipped(where, f"invalid JSON: {exc.msg}")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            yield Skipped(where, 'expected an object with a "text" string (and "doc_id", "title", "url")')
            continue
        doc_id = str(obj.get("doc_id") or f"{source}#{lineno}")
        if doc_id in seen:
            yield Skipped(where, f"duplicate doc_id {doc_id!r}; the first one is kept")
            continue
        seen.add(doc_id)
        try:
            doc = _document(
                doc_id,
                str(obj.get("title") or ""),
                obj["text"],
                url=str(obj.get("url") or ""),
                lang=str(obj.get("lang") or ""),
            )
        except SourceError as exc:
            yield Skipped(where, str(exc))
            continue
        yield Document(**{**doc.__dict__, "source": str(obj.get("url") or source)})
