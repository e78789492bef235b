"""Figures of the HTML report drawn by hand as inline SVG: no plotting library, no file
beside the page. Each function returns one ``<svg>`` element as text, sized in CSS pixels
with a ``viewBox`` so it scales with the page and prints sharp.

The SVG carries no ``xmlns``: inline in HTML5 the parser puts it in the SVG namespace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

import numpy as np

FONT = 12  # px
CHAR_WIDTH = 6.6  # px per character at FONT, to size label margins
WIDTH = 680
INK, GRID, MUTED = "#222", "#ddd", "#777"
POINT, MEAN = "#2b6cb0", "#c53030"
# Diverging scale for differences (negative blue, positive red), as matplotlib's RdBu_r ends.
COLD, WARM, NEUTRAL = (33, 102, 172), (178, 24, 43), (247, 247, 247)
EMPTY_CELL = "#e0e0e0"


@dataclass
class Lane:
    """One row of a strip chart: its label and its per-split values."""

    label: str
    values: list[float]  # finite values only
    tips: list[str]  # one tooltip per value


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick positions covering [low, high] (1, 2, 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        low, high = low - 0.5, high + 0.5
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def tick_text(value: float, ticks: list[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 2
    return f"{value:.{decimals}f}"


def _scale(low: float, high: float, start: float, end: float):
    span = (high - low) or 1.0
    return lambda v: start + (v - low) / span * (end - start)


def _text(x, y, text, anchor="start", size=FONT, extra="", colour=INK) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{colour}"{extra}>'
            f"{escape(str(text))}</text>")


def _svg(width: float, height: float, kind: str, title: str, body: list[str]) -> str:
    return (f'<svg class="figure" data-kind="{kind}" role="img" aria-label="{escape(title)}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
            f'font-family="sans-serif">{"".join(body)}</svg>')


def _x_axis(ticks: list[float], x, top: float, bottom: float, label: str, texts=None) -> list[str]:
    """Vertical grid lines at ``ticks`` from ``top`` to ``bottom``, tick labels and the axis label below."""
    out = []
    for value in ticks:
        out.append(f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top:.1f}" y2="{bottom:.1f}" '
                   f'stroke="{GRID}" stroke-width="1"/>')
        out.append(_text(x(value), bottom + 14, texts(value) if texts else tick_text(value, ticks), "middle", 11))
    centre = (x(ticks[0]) + x(ticks[-1])) / 2 if ticks else 0
    out.append(_text(centre, bottom + 32, label, "middle"))
    return out


def label_margin(labels: list[str], most: int = 300) -> float:
    return min(most, 16 + CHAR_WIDTH * max((len(s) for s in labels), default=4))


def strip_chart(lanes: list[Lane], title: str, axis_label: str) -> str:
    """Every lane's values as dots (jittered within the lane), their range as a line and
    their mean as a red diamond; a vertical line at 0 when the range crosses it."""
    left, lane_h, top = label_margin([lane.label for lane in lanes]), 26, 30
    bottom = top + lane_h * max(len(lanes), 1)
    values = [v for lane in lanes for v in lane.values]
    low, high = (min(values + [0.0]), max(values + [1e-3])) if values else (0.0, 1.0)
    ticks = nice_ticks(low, high)
    x = _scale(ticks[0], ticks[-1], left, WIDTH - 20)
    body = [_text(left, 18, title, extra=' font-weight="bold"')]
    body += _x_axis(ticks, x, top, bottom, axis_label)
    if ticks[0] < 0 < ticks[-1]:
        body.append(f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top}" y2="{bottom}" stroke="{MUTED}"/>')
    jitter = np.random.default_rng(0)
    for i, lane in enumerate(lanes):
        y = top + lane_h * (i + 0.5)
        body.append(_text(left - 8, y + 4, lane.label, "end"))
        if not lane.values:
            body.append(_text(left + 4, y + 4, "no finite value", size=11, extra=' fill-opacity="0.6"'))
            continue
        body.append(f'<line x1="{x(min(lane.values)):.1f}" x2="{x(max(lane.values)):.1f}" y1="{y:.1f}" '
                    f'y2="{y:.1f}" stroke="{MUTED}" stroke-width="1.5"/>')
        for value, tip in zip(lane.values, lane.tips):
            dy = jitter.uniform(-6, 6)
            body.append(f'<circle cx="{x(value):.1f}" cy="{y + dy:.1f}" r="3.2" fill="{POINT}" fill-opacity="0.75">'
                        f"<title>{escape(tip)}</title></circle>")
        mean, cx = float(np.mean(lane.values)), x(float(np.mean(lane.values)))
        body.append(f'<path d="M{cx:.1f},{y - 6:.1f} L{cx + 5:.1f},{y:.1f} L{cx:.1f},{y + 6:.1f} '
                    f'L{cx - 5:.1f},{y:.1f} Z" fill="{MEAN}"><title>{escape(lane.label)}: mean {mean:.4f}</title></path>')
    return _svg(WIDTH, bottom + 44, "strip", title, body)


def diverging_colour(value: float, limit: float) -> str:
    """``value`` in [-limit, limit] on a blue-white-red scale (grey when not finite)."""
    if not math.isfinite(value):
        return EMPTY_CELL
    share = max(-1.0, min(1.0, value / limit if limit > 0 else 0.0))
    end = WARM if share > 0 else COLD
    mix = [round(n + (e - n) * abs(share)) for n, e in zip(NEUTRAL, end)]
    return "#" + "".join(f"{c:02x}" for c in mix)


def heatmap(labels: list[str], values: np.ndarray, texts: list[list[str]], title: str, legend: list[str]) -> str:
    """A labelled square matrix: colour is ``values`` (diverging around 0), each cell's
    text from ``texts``; below, a colour bar and the ``legend`` lines saying what they are."""
    n = len(labels)
    left = label_margin(labels, 240)
    cell = max(34.0, min(70.0, (WIDTH - left - 20) / max(n, 1)))
    top = 40 + min(200, CHAR_WIDTH * max((len(s) for s in labels), default=4)) * 0.6
    finite = values[np.isfinite(values)]
    limit = max(float(np.abs(finite).max()) if finite.size else 0.0, 1e-3)
    body = [_text(8, 18, title, extra=' font-weight="bold"')]
    for j, label in enumerate(labels):  # column labels, slanted
        cx = left + cell * (j + 0.5)
        body.append(_text(cx, top - 6, label, size=11, extra=f' transform="rotate(-35 {cx:.1f} {top - 6:.1f})"'))
    for i, label in enumerate(labels):
        y = top + cell * i
        body.append(_text(left - 6, y + cell / 2 + 4, label, "end", 11))
        for j in range(n):
            colour = EMPTY_CELL if i == j else diverging_colour(float(values[i, j]), limit)
            body.append(f'<rect x="{left + cell * j:.1f}" y="{y:.1f}" width="{cell:.1f}" height="{cell:.1f}" '
                        f'fill="{colour}" stroke="#fff"><title>{escape(labels[i])} vs {escape(labels[j])}: '
                        f'{escape(texts[i][j] or "")}</title></rect>')
            if i != j:
                dark = math.isfinite(values[i, j]) and abs(values[i, j]) > 0.6 * limit
                body.append(_text(left + cell * (j + 0.5), y + cell / 2 + 4, texts[i][j] or "n/a", "middle", 10,
                                  colour="#fff" if dark else INK))
    bar_top = top + cell * n + 16
    steps, bar_w = 21, min(300.0, WIDTH - left - 20)
    for s in range(steps):
        value = -limit + 2 * limit * s / (steps - 1)
        body.append(f'<rect x="{left + bar_w * s / steps:.1f}" y="{bar_top:.1f}" width="{bar_w / steps + 0.5:.1f}" '
                    f'height="10" fill="{diverging_colour(value, limit)}"/>')
    body.append(_text(left, bar_top + 24, f"{-limit:+.3f}", "start", 10))
    body.append(_text(left + bar_w, bar_top + 24, f"{limit:+.3f}", "end", 10))
    for k, line in enumerate(legend):
        body.append(_text(8, bar_top + 42 + 15 * k, line, "start", 11))
    return _svg(max(WIDTH, left + cell * n + 20), bar_top + 50 + 15 * len(legend), "heatmap", title, body)


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten covering [low, high] (both > 0)."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    return [10.0 ** p for p in range(first, max(last, first + 1) + 1)]


def log_x_scatter(points: list[tuple[str, float, float]], title: str, x_label: str, y_label: str) -> str:
    """Labelled points (label, x > 0, y) with x on a log axis."""
    left, top, right, height = 60, 30, WIDTH - 20, 300
    xs = [p[1] for p in points]
    ys = [p[2] for p in points]
    ticks = log_ticks(min(xs), max(xs))
    x = _scale(math.log10(ticks[0]), math.log10(ticks[-1]), left, right - 120)
    y_ticks = nice_ticks(min(ys + [0.0]), max(ys + [1e-3]))
    y = _scale(y_ticks[0], y_ticks[-1], height, top)
    body = [_text(left, 18, title, extra=' font-weight="bold"')]
    body += _x_axis([math.log10(t) for t in ticks], x, top, height, x_label, lambda v: f"{10 ** v:g}")
    for value in y_ticks:
        body.append(f'<line x1="{left}" x2="{right - 120}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y(value) + 4, tick_text(value, y_ticks), "end", 11))
    body.append(_text(14, (top + height) / 2, y_label, "middle", extra=f' transform="rotate(-90 14 {(top + height) / 2})"'))
    for label, px, py in points:
        cx, cy = x(math.log10(px)), y(py)
        body.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{POINT}"><title>{escape(label)}: '
                    f"{px:.3g} s/image, {py:.4f}</title></circle>")
        body.append(_text(cx + 7, cy + 4, label, size=11))
    return _svg(WIDTH, height + 44, "cost", title, body)
