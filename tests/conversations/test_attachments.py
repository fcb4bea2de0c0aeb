"""The conversations' files: stored once per message and per content, sniffed, purged."""
from __future__ import annotations

import datetime as dt

import pytest

from ks1bot.conversations.attachments import NewFile, safe_filename, sniff_image
from tests.support.files import PDF, png


@pytest.mark.parametrize("data, kind", [
    (png(), "image/png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    (b"GIF89a\x01\x00", "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    (PDF, None),
    (b"<svg onload=alert(1)>", None),
    (b"<html>", None),
    (b"", None),
])
def test_sniff_image(data, kind):
    assert sniff_image(data) == kind


@pytest.mark.parametrize("name, safe", [
    ("C:\\Users\\hm\\bericht.pdf", "bericht.pdf"),
    ("../../etc/passwd", "passwd"),
    ("a\x00b\nc.txt", "abc.txt"),
    ("..", "attachment"),
    ("Prüfbericht März.pdf", "Prüfbericht März.pdf"),
])
def test_safe_filename(name, safe):
    assert safe_filename(name) == safe


def test_same_bytes_are_stored_once_and_kept_while_a_newer_file_uses_them(store):
    files = store.files
    shot = png()
    old = files.save_message_files("email", "<a@x>", "<a@x>", [NewFile("a.png", "image/png", shot)])
    files.clock = lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)
    new = files.save_message_files("email", "<b@x>", "<b@x>", [NewFile("b.png", "image/png", shot)])
    assert old[0].sha256 == new[0].sha256 and old[0].preview_type == "image/png"
    counts = files.purge(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
    assert counts == {"attachment_rows": 1, "attachment_files": 0}   # b.png still needs the bytes
    assert files.read(new[0]) == shot and files.get(old[0].id) is None
