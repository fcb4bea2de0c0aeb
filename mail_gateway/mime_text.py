"""Text of MIME parts: bytes in any (or a wrong) charset to str, HTML to plain text. Pure.

`decode_text` trusts a declared charset only when it decodes cleanly and is not a
single-byte label on valid UTF-8 (the common mislabelling); undeclared 8-bit text that
reads as German in Windows-1252 is taken as that; otherwise charset-normalizer decides.
`html_to_text` is html2text without its Markdown escapes and doubled autolinks.
"""
from __future__ import annotations

import codecs
import re
from typing import Optional

WESTERN_CODEPAGES = ["cp1252", "iso8859_15", "iso8859_1", "cp850", "mac_roman", "utf_16", "iso8859_2", "cp1250"]
#: Labels that often stand on UTF-8 text by mistake (every byte sequence "decodes").
_SINGLE_BYTE_CODECS = {"iso8859-1", "cp1252", "ascii", "iso8859-15"}


def _codec(name: Optional[str]) -> Optional[str]:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip('"').lower()).name
    except (LookupError, ValueError):
        return None


def decode_text(payload: bytes, declared: Optional[str]) -> str:
    """Bytes of a text part → str. The declared charset is trusted only when it decodes
    cleanly and is not a single-byte label on valid non-ASCII UTF-8 (the common
    mislabelling); otherwise charset-normalizer decides."""
    if not payload:
        return ""
    codec = _codec(declared)
    if codec in _SINGLE_BYTE_CODECS and not payload.isascii():
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if codec:
        try:
            return payload.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    german = _as_german_cp1252(payload)
    if german is not None:
        return german
    from charset_normalizer import from_bytes

    # The mailbox is German and English: the Western codepages first (short texts
    # otherwise fit exotic ones as well), then anything.
    sample = payload[:200_000]
    best = from_bytes(sample, cp_isolation=WESTERN_CODEPAGES).best() or from_bytes(sample).best()
    if best is not None:
        try:
            return payload.decode(best.encoding)
        except (UnicodeDecodeError, LookupError):
            return str(best)
    return payload.decode("cp1252", "replace")


#: Letters of German (and the Western European text a German mailbox gets) in Windows-1252.
_WESTERN_LETTERS = set("äöüßÄÖÜéèêáàâíìóòôúùçñÉÈÁÀÇ€„“”‚‘’–—«»°§µ")


def _as_german_cp1252(payload: bytes) -> Optional[str]:
    """Undeclared 8-bit text that reads as German in Windows-1252 (every non-ASCII
    character a Western letter or typographic sign): what German clients without MIME
    write. Short texts fit exotic codepages as well; this one is the likely one."""
    try:
        text = payload.decode("cp1252")
    except UnicodeDecodeError:
        return None
    extra = [ch for ch in text if ord(ch) > 127]
    return text if extra and all(ch in _WESTERN_LETTERS for ch in extra) else None


#: html2text escapes characters that would be Markdown at a line's start ("\--", "1\.").
_MD_ESCAPE = re.compile(r"(?m)^(\s*)\\(?=[-+*#>]|\d)|(?m:^(\s*\d+)\\\.)")


def _unescape_markdown(text: str) -> str:
    return _MD_ESCAPE.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2) + ".", text)


_REFERENCE = re.compile(r"(?m)^\s*\[(\d+)\]:\s*(\S+)\s*$")


def _plain_autolinks(text: str) -> str:
    """"[web.de][1]" … "[1]: http://web.de" → "web.de": a link whose text is its own
    address says nothing twice (html2text writes every link as a reference)."""
    targets = {m.group(1): m.group(2) for m in _REFERENCE.finditer(text)}
    auto = set()

    def plain(match: re.Match) -> str:
        label, ref = match.group(1), match.group(2)
        url = targets.get(ref, "")
        bare = re.sub(r"^(?:https?://|mailto:)", "", url, flags=re.IGNORECASE).rstrip("/")
        if label and (label.strip() == url or label.strip().rstrip("/") == bare):
            auto.add(ref)
            return label
        return match.group(0)

    text = re.sub(r"\[([^\]\n]{1,300})\]\[(\d+)\]", plain, text)
    return _REFERENCE.sub(lambda m: "" if m.group(1) in auto else m.group(0), text)


def html_to_text(html: str) -> str:
    import html2text

    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.ignore_links = False
    converter.inline_links = False
    converter.unicode_snob = True
    try:
        text = converter.handle(html)
    except Exception:  # html2text on pathological markup: strip the tags instead
        text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\n{3,}", "\n\n", _plain_autolinks(_unescape_markdown(text))).strip()


