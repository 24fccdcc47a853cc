"""Uploads cannot escape sources/, overwrite silently, follow symlinks, or exceed the limits."""

from __future__ import annotations

import pytest

from rag.ingest.uploads import MAX_UPLOAD_BYTES, safe_name, save_upload


@pytest.mark.parametrize(
    "name,expected",
    [
        ("../../x.md", "x.md"),
        ("/etc/passwd.md", "passwd.md"),
        ("C:\\Users\\a\\article.MD", "article.md"),
        (".bashrc.md", "bashrc.md"),
        ("..", "article"),
        ("a\x00b<script>.md", "ab_script_.md"),
        ("Réseau télécom.txt", "Réseau télécom.txt"),
    ],
)
def test_safe_name(name, expected):
    assert safe_name(name) == expected


def test_traversal_names_land_inside_the_folder(tmp_path):
    sources = tmp_path / "sources"
    for name in ("../../evil.md", "/tmp/evil2.md", "..\\..\\evil3.md"):
        path = save_upload(sources, name, b"Du texte.")
        assert path.parent == sources.resolve()
    assert not (tmp_path / "evil.md").exists()
    assert sorted(p.name for p in sources.iterdir()) == ["evil.md", "evil2.md", "evil3.md"]


def test_no_overwrite_without_asking(tmp_path):
    save_upload(tmp_path, "a.md", b"first")
    with pytest.raises(ValueError, match="a.md already exists; tick 'replace existing files'"):
        save_upload(tmp_path, "a.md", b"second")
    assert (tmp_path / "a.md").read_bytes() == b"first"
    save_upload(tmp_path, "a.md", b"second", overwrite=True)
    assert (tmp_path / "a.md").read_bytes() == b"second"


def test_symlinks_are_never_written_through(tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text("keep me")
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "link.md").symlink_to(outside)
    with pytest.raises(ValueError, match="symbolic link"):
        save_upload(sources, "link.md", b"overwrite", overwrite=True)
    assert outside.read_text() == "keep me"


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("x.exe", b"MZ", r"only \.md, \.txt, \.html, \.htm, \.pdf"),
        ("x.md", b"a" * (MAX_UPLOAD_BYTES + 1), "the limit is 10 MB"),
        ("x.md", b"  \n", "is empty"),
    ],
)
def test_type_size_and_empty_files_are_refused(tmp_path, name, data, message):
    with pytest.raises(ValueError, match=message):
        save_upload(tmp_path, name, data)
    assert list(tmp_path.iterdir()) == []
