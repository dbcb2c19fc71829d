"""Byte streams the driver tests replay (see README.md for where each comes from)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def hex_stream(name: str) -> bytes:
    """A .hex file's bytes, comments ('#' lines) left out, lines joined."""
    return b"".join(bytes.fromhex(line) for line in _lines(name))


def hex_lines(name: str) -> list[bytes]:
    """A .hex file's bytes, one entry per non-comment line."""
    return [bytes.fromhex(line) for line in _lines(name)]


def registers(name: str) -> tuple[dict[int, int], list[bytes]]:
    """A register image file: ({register: byte} for every line but 'f7:'
    lines, [the successive 'f7:' data samples])."""
    regs: dict[int, int] = {}
    samples = []
    for line in _lines(name):
        reg, data = line.split(":")
        start, raw = int(reg, 16), bytes.fromhex(data)
        if start == 0xF7:
            samples.append(raw)
        else:
            regs.update({start + i: b for i, b in enumerate(raw)})
    return regs, samples


def nmea_bytes(name: str) -> bytes:
    """An NMEA log as the UART delivers it: CR LF after every sentence."""
    text = (HERE / name).read_text()
    return "".join(line + "\r\n" for line in text.splitlines()).encode()


def _lines(name: str) -> list[str]:
    return [ln.strip() for ln in (HERE / name).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
