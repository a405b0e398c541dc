"""Inline SVG charts: each indicator reading of a domain against the policy's tier cutoffs.

Plain SVG strings, no plotting library: the HTML must be self-contained and byte-stable.
"""

from __future__ import annotations

from html import escape

from releasegate.policy import DomainAssessment, IndicatorReading, ReleasePolicy
from releasegate.vocab import Tier

TIER_COLOURS = {
    Tier.LOW: "#d8efd3",
    Tier.MEDIUM: "#fbeeb8",
    Tier.HIGH: "#f9cf9f",
    Tier.CRITICAL: "#f2a3a3",
}
_LABEL_W = 300
_AXIS_W = 430
_ROW_H = 26
_TOP = 24


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _axis(
    reading: IndicatorReading, cutoffs: dict[Tier, float], measure: str, rng: tuple[float, float]
) -> tuple[float, float]:
    if measure == "absolute":
        return rng
    points = [0.0, *cutoffs.values()]
    if reading.uplift is not None:
        points.append(reading.uplift)
    if reading.ci95 is not None:
        points += list(reading.ci95)
    lo, hi = min(points), max(points)
    pad = (hi - lo) * 0.1 or 0.05
    return lo - pad, hi + pad


def _bands(
    cutoffs: dict[Tier, float], direction: str, lo: float, hi: float
) -> list[tuple[Tier, float, float]]:
    ordered = sorted(cutoffs.items(), key=lambda kv: kv[0].rank)
    bands = []
    if direction == "higher_is_worse":
        start, tier = lo, Tier.LOW
        for t, c in ordered:
            bands.append((tier, start, c))
            start, tier = c, t
        bands.append((tier, start, hi))
    else:
        end, tier = hi, Tier.LOW
        for t, c in ordered:
            bands.append((tier, c, end))
            end, tier = c, t
        bands.append((tier, lo, end))
    return bands


def domain_chart(domain: DomainAssessment, policy: ReleasePolicy) -> str:
    """An SVG with one row per (indicator, condition) reading of the domain.

    The row's background shows the tier bands from the indicator's cutoffs; a dot marks the value
    read (the uplift for uplift indicators) with its 95% CI as a whisker. Missing evidence is
    written out, never drawn.
    """
    indicators = {ind.id: ind for ind in policy.domains[domain.domain].indicators}
    rows = domain.readings
    height = _TOP + _ROW_H * len(rows) + 8
    width = _LABEL_W + _AXIS_W + 130
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(domain.domain)}: tier per condition against the cutoffs">',
        f'<text x="4" y="15" class="h">{escape(domain.domain)}</text>',
    ]
    for i, reading in enumerate(rows):
        ind = indicators[reading.indicator]
        spec = policy.metrics[ind.metric]
        lo, hi = _axis(reading, dict(ind.cutoffs), ind.measure, spec.range)
        span = hi - lo

        def x(v: float, lo: float = lo, span: float = span) -> float:
            return _LABEL_W + (min(max(v, lo), lo + span) - lo) / span * _AXIS_W

        y = _TOP + i * _ROW_H
        label = f"{reading.indicator} · {reading.condition.value}"
        out.append(f'<text x="4" y="{y + 16}">{escape(label)}</text>')
        for tier, a, b in _bands(dict(ind.cutoffs), spec.direction, lo, hi):
            if b <= a:
                continue
            out.append(
                f'<rect x="{x(a):.1f}" y="{y + 3}" width="{x(b) - x(a):.1f}" height="{_ROW_H - 6}" '
                f'fill="{TIER_COLOURS[tier]}"><title>{tier.value}: {_fmt(a)} to {_fmt(b)}</title>'
                "</rect>"
            )
        for tier, c in ind.cutoffs.items():
            out.append(
                f'<line x1="{x(c):.1f}" x2="{x(c):.1f}" y1="{y + 3}" y2="{y + _ROW_H - 3}" '
                f'class="cut"><title>{tier.value} from {_fmt(c)}</title></line>'
            )
        value = reading.uplift if ind.measure == "uplift" else reading.value
        tail_x = _LABEL_W + _AXIS_W + 6
        if value is None or reading.tier is None:
            read_as = "critical" if reading.role == "capability" else "no credit"
            out.append(f'<text x="{tail_x}" y="{y + 16}" class="miss">missing → {read_as}</text>')
            continue
        cy = y + _ROW_H / 2
        if reading.ci95 is not None:
            a, b = reading.ci95
            out.append(
                f'<line x1="{x(a):.1f}" x2="{x(b):.1f}" y1="{cy}" y2="{cy}" class="ci">'
                f"<title>95% CI {_fmt(a)} to {_fmt(b)}</title></line>"
            )
        what = "uplift" if ind.measure == "uplift" else ind.metric
        out.append(
            f'<circle cx="{x(value):.1f}" cy="{cy}" r="4.5" class="dot">'
            f"<title>{escape(what)} = {_fmt(value)}</title></circle>"
        )
        mark = " *" if reading.straddles_cutoff else ""
        out.append(
            f'<text x="{tail_x}" y="{y + 16}">{_fmt(value)} → {reading.tier.value}{mark}</text>'
        )
    out.append("</svg>")
    return "".join(out)


__all__ = ["TIER_COLOURS", "domain_chart"]
