"""One channel's health chart: quality and messaging limit as step lines, in inline SVG.

Geometry only (coordinates and path strings); ``templates/fleet/_chart.html`` draws it,
so the chart needs no JavaScript. Quality is one of four bands (GREEN on top); the limit
is on a log scale, since the tiers grow tenfold (250, 1K, 10K, 100K, unlimited on top).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from provisioning.fleet import QUALITY_ORDER, Step

WIDTH, HEIGHT = 720, 270
LEFT, RIGHT = 100, 704  # the plot's x range; labels sit left of it
QUALITY_TOP, BAND = 12, 20  # four bands: 12..92
LIMIT_TOP, LIMIT_BOTTOM = 122, 222
AXIS_Y = 246
LIMIT_TICKS = (("250", 250.0), ("1K", 1e3), ("10K", 1e4), ("100K", 1e5), ("Unlimited", math.inf))
LOG_LOW, LOG_HIGH = 2.0, 6.0  # 100 to 1M a day; unlimited is drawn on the top line
WHEN = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class Band:
    level: str
    y: float
    label_y: float


@dataclass(frozen=True)
class Tick:
    label: str
    at: float  # y for limit ticks, x for time ticks
    anchor: str = "end"


@dataclass(frozen=True)
class Marker:
    x: float
    quality_y: float
    limit_y: float | None
    title: str


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    bands: list[Band]
    limit_ticks: list[Tick]
    time_ticks: list[Tick]
    quality_path: str
    limit_path: str
    markers: list[Marker]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = RIGHT
    limit_top: int = LIMIT_TOP
    limit_bottom: int = LIMIT_BOTTOM
    axis_y: int = AXIS_Y
    band_height: int = BAND


def quality_y(level: str) -> float:
    return QUALITY_TOP + BAND * QUALITY_ORDER.index(level) + BAND / 2


def limit_y(per_day: float | None) -> float | None:
    """The y of a daily limit on the log scale; None for an unknown limit."""
    if per_day is None:
        return None
    exponent = LOG_HIGH if math.isinf(per_day) else math.log10(max(per_day, 1.0))
    share = (min(max(exponent, LOG_LOW), LOG_HIGH) - LOG_LOW) / (LOG_HIGH - LOG_LOW)
    return LIMIT_BOTTOM - share * (LIMIT_BOTTOM - LIMIT_TOP)


def build(steps: list[Step], label: str) -> Chart | None:
    """The chart of these steps (oldest first); None without history."""
    if not steps:
        return None
    start, last = steps[0].start, steps[-1].start
    # The current state lasts until now; drawn at most a third as long again as the
    # changes took, so that old changes are not squeezed into the left edge.
    end = min(steps[-1].end, last + max((last - start) / 3, dt.timedelta(hours=1)))
    span = max((end - start).total_seconds(), 1.0)

    def x(moment) -> float:
        return LEFT + (moment - start).total_seconds() / span * (RIGHT - LEFT)

    spans = list(zip(steps, [*(s.end for s in steps[:-1]), end], strict=True))
    quality = _step_path([(x(s.start), x(e), quality_y(s.quality)) for s, e in spans])
    limit = _step_path([(x(s.start), x(e), limit_y(s.per_day)) for s, e in spans])
    markers = [
        Marker(
            x(s.start),
            quality_y(s.quality),
            limit_y(s.per_day),
            f"{s.start:{WHEN}} UTC · {s.source}: quality {s.quality}, "
            f"limit {s.messaging_limit or 'unknown'}, status {s.status}",
        )
        for s in steps
    ]
    middle = start + (end - start) / 2
    return Chart(
        title=f"Quality and messaging limit of {label}",
        description=describe(steps),
        bands=[
            Band(level, QUALITY_TOP + BAND * i, quality_y(level) + 4)
            for i, level in enumerate(QUALITY_ORDER)
        ],
        limit_ticks=[Tick(name, limit_y(value) or 0.0) for name, value in LIMIT_TICKS],
        time_ticks=[
            Tick(f"{start:{WHEN}}", LEFT, "start"),
            Tick(f"{middle:{WHEN}}", (LEFT + RIGHT) / 2, "middle"),
            Tick(f"{end:{WHEN}}", RIGHT, "end"),
        ],
        quality_path=quality,
        limit_path=limit,
        markers=markers,
    )


def _step_path(segments: list[tuple[float, float, float | None]]) -> str:
    """An SVG path of horizontal segments joined by vertical ones; None breaks the line."""
    parts: list[str] = []
    previous: float | None = None
    for x0, x1, y in segments:
        if y is None:
            previous = None
            continue
        parts.append(f"M{x0:.1f},{y:.1f}" if previous is None else f"V{y:.1f}")
        parts.append(f"H{x1:.1f}")
        previous = y
    return " ".join(parts)


def describe(steps: list[Step]) -> str:
    """The chart in words, for screen readers."""
    qualities = _runs(s.quality for s in steps)
    limits = _runs(s.messaging_limit or "unknown" for s in steps)
    changes = len(steps) - 1
    return (
        f"Quality {' → '.join(qualities)}; messaging limit {' → '.join(limits)}. "
        f"{changes} change{'s' if changes != 1 else ''} "
        f"from {steps[0].start:{WHEN}} to {steps[-1].start:{WHEN}} UTC."
    )


def _runs(values) -> list[str]:
    """Consecutive duplicates collapsed: GREEN GREEN RED -> GREEN, RED."""
    collapsed: list[str] = []
    for value in values:
        if not collapsed or collapsed[-1] != value:
            collapsed.append(value)
    return collapsed
