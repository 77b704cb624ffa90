"""Message text for content checks: short_message / message_payload bytes -> ``str``.

SMPP carries the GSM 03.38 default alphabet unpacked (one septet per octet).
``decode_text`` handles it (with the extension table behind ESC 0x1B), IA5/ASCII,
Latin-1, UCS2 (UTF-16BE; surrogate pairs as UTF-16), Cyrillic, Hebrew; binary and
8-bit data give ``None`` and are left alone. ``split_udh`` separates a User Data
Header (esm_class UDHI) from the text and reads the concatenation IEs.
Decoding never raises: a message is checked on what can be read of it.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = [
    "GSM_BASIC",
    "Concat",
    "Udh",
    "decode_text",
    "encode_gsm",
    "split_udh",
]

ESM_UDHI = 0x40

# GSM 03.38 basic character set, septets 0x00..0x7F (0x1B is the escape).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(GSM_BASIC) == 128
GSM_EXTENSION = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~",
    0x3E: "]", 0x40: "|", 0x65: "€",
}
_ENC_BASIC = {c: i for i, c in enumerate(GSM_BASIC) if i != 0x1B}
_ENC_EXT = {c: i for i, c in GSM_EXTENSION.items()}

_CODECS = {1: "ascii", 3: "latin-1", 6: "iso8859-5", 7: "iso8859-8", 0x0E: "euc-kr",
           5: "shift_jis", 0x0D: "shift_jis"}


@dataclass(frozen=True, slots=True)
class Concat:
    """Concatenation info: reference, total parts, this part's number (1-based)."""

    ref: int
    total: int
    seq: int


@dataclass(frozen=True, slots=True)
class Udh:
    elements: tuple[tuple[int, bytes], ...]
    concat: Concat | None = None


def split_udh(sm: bytes) -> tuple[Udh | None, bytes]:
    """Split a short_message sent with esm_class UDHI into (UDH, user data).

    A header that does not fit the message gives ``(None, sm)``: the whole is text.
    """
    if not sm:
        return None, sm
    udhl = sm[0]
    if udhl + 1 > len(sm):
        return None, sm
    pos, end = 1, 1 + udhl
    elements: list[tuple[int, bytes]] = []
    concat: Concat | None = None
    while pos + 2 <= end:
        iei, length = sm[pos], sm[pos + 1]
        value = sm[pos + 2:pos + 2 + length]
        if pos + 2 + length > end:
            break
        elements.append((iei, value))
        if iei == 0x00 and length == 3 and value[1] and 1 <= value[2] <= value[1]:
            concat = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and length == 4 and value[2] and 1 <= value[3] <= value[2]:
            concat = Concat((value[0] << 8) | value[1], value[2], value[3])
        pos += 2 + length
    return Udh(tuple(elements), concat), sm[end:]


def _gsm(data: bytes) -> str:
    if 0x1B not in data:
        return _charmap_decode(data, "strict", _BASIC_TABLE)[0]
    out: list[str] = []
    esc = False
    for b in data:
        if esc:
            out.append(GSM_EXTENSION.get(b & 0x7F, GSM_BASIC[b & 0x7F]))
            esc = False
        elif b == 0x1B:
            esc = True
        else:
            out.append(GSM_BASIC[b & 0x7F])
    return "".join(out)


# the charmap codec's table for the common case with no escapes (one character per
# octet, in C; octets over 0x7F: bit 7 ignored)
_BASIC_TABLE = "".join(GSM_BASIC[i & 0x7F] for i in range(256))
_charmap_decode = codecs.charmap_decode


def decode_text(data: bytes, data_coding: int) -> str | None:
    """The text of a message body (UDH already removed), or ``None`` for binary."""
    dc = data_coding
    if dc & 0xF0 == 0xF0:  # data coding / message class group
        if dc & 0x04:
            return None
        return _gsm(data)
    if dc & 0xC0 == 0x00 and dc & 0x20 == 0 and dc >= 0x10:
        # general data coding group (GSM 03.38 section 4): bits 3..2 alphabet
        alphabet = (dc >> 2) & 0x03
        return _gsm(data) if alphabet == 0 else None if alphabet == 1 else _ucs2(data)
    if dc == 0:
        return _gsm(data)
    if dc == 8:
        return _ucs2(data)
    if dc in (2, 4):
        return None
    codec = _CODECS.get(dc)
    if codec is None:
        return data.decode("latin-1")
    return data.decode(codec, errors="replace")


def _ucs2(data: bytes) -> str:
    if len(data) % 2:
        data = data[:-1]
    return data.decode("utf-16-be", errors="replace")


def encode_gsm(text: str) -> bytes:
    """``str`` -> unpacked GSM 03.38 septets; characters outside the alphabet -> '?'."""
    out = bytearray()
    for ch in text:
        i = _ENC_BASIC.get(ch)
        if i is not None:
            out.append(i)
        elif ch in _ENC_EXT:
            out += bytes((0x1B, _ENC_EXT[ch]))
        else:
            out.append(0x3F)
    return bytes(out)
