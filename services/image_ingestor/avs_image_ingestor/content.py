"""What an image really is: its type from its first bytes (magic numbers), not its headers.

The stored object's extension and ``content_type`` come from :func:`sniff`; the
``Content-Type`` header only has to not contradict it (:func:`declared_type_refusal`).
SVG is not accepted: it is a document that can carry scripts.
"""

from __future__ import annotations

from dataclasses import dataclass

SNIFF_BYTES = 64
"""How many leading bytes :func:`sniff` needs (fewer only when the body is shorter)."""


@dataclass(frozen=True)
class ImageType:
    mime: str
    ext: str


JPEG = ImageType("image/jpeg", "jpg")
PNG = ImageType("image/png", "png")
GIF = ImageType("image/gif", "gif")
WEBP = ImageType("image/webp", "webp")
AVIF = ImageType("image/avif", "avif")

# Declared types that say nothing about the content; anything else must be image/*.
_UNSPECIFIC = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/binary"})


def sniff(head: bytes) -> ImageType | None:
    """The image type ``head`` (the first bytes of a body) starts with, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if len(head) >= 16 and head[4:8] == b"ftyp":
        box = int.from_bytes(head[:4], "big")
        brands = [head[8:12]] + [head[i : i + 4] for i in range(16, min(box, len(head)) - 3, 4)]
        if b"avif" in brands or b"avis" in brands:
            return AVIF
    return None


def declared_type_refusal(content_type: str | None) -> str | None:
    """Why a ``Content-Type`` header rules the body out (None if it may be an image)."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime in _UNSPECIFIC or mime.startswith("image/"):
        return None
    return f"the server says the content is {mime}, not an image"


def describe(head: bytes) -> str:
    """A short, safe rendering of the first bytes, for error messages."""
    text = head[:16]
    printable = all(32 <= b < 127 or b in (9, 10, 13) for b in text)
    return repr(text.decode("ascii")) if printable else text.hex(" ")
