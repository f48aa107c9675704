"""A small PNG line chart in pure Python: how per-host cost grows with the fleet.

``bench/run.py`` draws its scaling figure with this so the benchmark needs nothing beyond
the project's own dependencies (no matplotlib). It draws panels side by side, each with a
logarithmic x axis (fleet size), a linear y axis from 0, one coloured line with square
markers per series and a legend; text is a 3x5 pixel font drawn at twice its size.
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
GREY: Color = (200, 200, 200)
PALETTE: tuple[Color, ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)

# 3x5 glyphs, rows top to bottom, "#" lit; letters are drawn as capitals.
GLYPHS = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", ".##", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    "A": (".#.", "#.#", "###", "#.#", "#.#"),
    "B": ("##.", "#.#", "##.", "#.#", "##."),
    "C": (".##", "#..", "#..", "#..", ".##"),
    "D": ("##.", "#.#", "#.#", "#.#", "##."),
    "E": ("###", "#..", "##.", "#..", "###"),
    "F": ("###", "#..", "##.", "#..", "#.."),
    "G": (".##", "#..", "#.#", "#.#", ".##"),
    "H": ("#.#", "#.#", "###", "#.#", "#.#"),
    "I": ("###", ".#.", ".#.", ".#.", "###"),
    "J": ("..#", "..#", "..#", "#.#", ".#."),
    "K": ("#.#", "#.#", "##.", "#.#", "#.#"),
    "L": ("#..", "#..", "#..", "#..", "###"),
    "M": ("#.#", "###", "###", "#.#", "#.#"),
    "N": ("##.", "#.#", "#.#", "#.#", "#.#"),
    "O": (".#.", "#.#", "#.#", "#.#", ".#."),
    "P": ("##.", "#.#", "##.", "#..", "#.."),
    "Q": (".#.", "#.#", "#.#", "##.", ".##"),
    "R": ("##.", "#.#", "##.", "#.#", "#.#"),
    "S": (".##", "#..", ".#.", "..#", "##."),
    "T": ("###", ".#.", ".#.", ".#.", ".#."),
    "U": ("#.#", "#.#", "#.#", "#.#", "###"),
    "V": ("#.#", "#.#", "#.#", "#.#", ".#."),
    "W": ("#.#", "#.#", "###", "###", "#.#"),
    "X": ("#.#", "#.#", ".#.", "#.#", "#.#"),
    "Y": ("#.#", "#.#", ".#.", ".#.", ".#."),
    "Z": ("###", "..#", ".#.", "#..", "###"),
    "-": ("...", "...", "###", "...", "..."),
    ".": ("...", "...", "...", "...", ".#."),
    "/": ("..#", "..#", ".#.", "#..", "#.."),
    ":": ("...", ".#.", "...", ".#.", "..."),
    "(": (".#.", "#..", "#..", "#..", ".#."),
    ")": (".#.", "..#", "..#", "..#", ".#."),
    "+": ("...", ".#.", "###", ".#.", "..."),
    " ": ("...", "...", "...", "...", "..."),
}
SCALE = 2
CHAR_W = 4 * SCALE  # glyph and one column of space
CHAR_H = 5 * SCALE


@dataclass(frozen=True)
class Series:
    """One line: its legend label and (x, y) points, x > 0."""

    label: str
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Panel:
    """One chart: its title, the axes' names and its lines."""

    title: str
    x_label: str
    y_label: str
    series: Sequence[Series]


class Canvas:
    """An RGB raster that draws pixels, lines, boxes and text and saves itself as PNG."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.rows = [bytearray(WHITE * width) for _ in range(height)]

    def dot(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.rows[y][3 * x : 3 * x + 3] = bytes(color)

    def box(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                self.dot(x, y, color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color, width: int = 1) -> None:
        """Bresenham's line, ``width`` pixels thick."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        error = dx + dy
        half = width // 2
        while True:
            self.box(x0 - half, y0 - half, x0 + width - 1 - half, y0 + width - 1 - half, color)
            if x0 == x1 and y0 == y1:
                return
            doubled = 2 * error
            if doubled >= dy:
                error, x0 = error + dy, x0 + sx
            if doubled <= dx:
                error, y0 = error + dx, y0 + sy

    def text(self, x: int, y: int, text: str, color: Color = BLACK) -> None:
        """``text`` with its top left corner at (x, y); unknown characters as spaces."""
        for index, char in enumerate(text.upper()):
            glyph = GLYPHS.get(char, GLYPHS[" "])
            for row, bits in enumerate(glyph):
                for column, bit in enumerate(bits):
                    if bit == "#":
                        left, top = x + index * CHAR_W + column * SCALE, y + row * SCALE
                        self.box(left, top, left + SCALE - 1, top + SCALE - 1, color)

    def png(self) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def nice_step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks."""
    raw = span / ticks if span > 0 else 1.0
    power: float = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def tick_label(value: float, step: float) -> str:
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{digits}f}"


PANEL_W, PANEL_H = 420, 300
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 70, 20, 40, 50


def draw_panel(canvas: Canvas, left: int, panel: Panel, colors: dict[str, Color]) -> None:
    """One panel at x offset ``left``: frame, log x ticks at the sizes, y ticks, lines."""
    x0, y0 = left + MARGIN_L, MARGIN_T
    x1, y1 = left + PANEL_W - MARGIN_R, PANEL_H - MARGIN_B
    xs = sorted({x for s in panel.series for x, _ in s.points})
    top = max((y for s in panel.series for _, y in s.points), default=1.0) or 1.0
    step = nice_step(top)
    y_max = step * math.ceil(top / step)
    low, high = math.log10(min(xs, default=1.0)), math.log10(max(xs, default=10.0))
    if high == low:
        low, high = low - 0.5, high + 0.5

    def px(x: float) -> int:
        return round(x0 + (math.log10(x) - low) / (high - low) * (x1 - x0))

    def py(y: float) -> int:
        return round(y1 - y / y_max * (y1 - y0))

    canvas.text(left + MARGIN_L, 10, panel.title)
    ticks = round(y_max / step)
    for index in range(ticks + 1):
        value = index * step
        canvas.line(x0, py(value), x1, py(value), GREY)
        label = tick_label(value, step)
        canvas.text(x0 - 6 - len(label) * CHAR_W, py(value) - CHAR_H // 2, label)
    for x in xs:
        canvas.line(px(x), y1, px(x), y1 + 4, BLACK)
        label = f"{x:g}"
        canvas.text(px(x) - len(label) * CHAR_W // 2, y1 + 8, label)
    canvas.line(x0, y0, x0, y1, BLACK)
    canvas.line(x0, y1, x1, y1, BLACK)
    canvas.text((x0 + x1 - len(panel.x_label) * CHAR_W) // 2, y1 + 26, panel.x_label)
    canvas.text(left + 4, 24, panel.y_label)
    for series in panel.series:
        color = colors[series.label]
        points = sorted((px(x), py(y)) for x, y in series.points)
        for (ax, ay), (bx, by) in itertools.pairwise(points):
            canvas.line(ax, ay, bx, by, color, width=2)
        for x, y in points:
            canvas.box(x - 3, y - 3, x + 3, y + 3, color)


def write_png(path: Path, panels: Sequence[Panel]) -> None:
    """``panels`` side by side with one legend below them, as a PNG at ``path``."""
    labels = list(dict.fromkeys(s.label for panel in panels for s in panel.series))
    colors = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}
    per_row = 2
    legend_h = 20 + 18 * math.ceil(len(labels) / per_row)
    canvas = Canvas(PANEL_W * max(len(panels), 1), PANEL_H + legend_h)
    for index, panel in enumerate(panels):
        draw_panel(canvas, index * PANEL_W, panel, colors)
    column_w = canvas.width // per_row
    for index, label in enumerate(labels):
        x = MARGIN_L + (index % per_row) * column_w
        y = PANEL_H + 10 + 18 * (index // per_row)
        canvas.box(x, y + 1, x + 14, y + CHAR_H - 2, colors[label])
        canvas.text(x + 22, y, label)
    path.write_bytes(canvas.png())
