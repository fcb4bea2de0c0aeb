"""Small real files for attachment tests: a valid PNG (a screenshot stand-in), a PDF."""
from __future__ import annotations

import struct
import zlib


def png(width: int = 40, height: int = 24, rgb=(200, 30, 30)) -> bytes:
    """A valid PNG of one colour (browsers decode it: naturalWidth == width)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
