"""Template tags drawing the dashboard's small charts as inline SVG (`{% load charts %}`).

The Content-Security-Policy allows no inline style, so a bar's size cannot be a style=""
attribute; an SVG shape's size is a geometry attribute, which the policy does not govern.
"""

from collections.abc import Sequence
from datetime import date

from django import template
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join

register = template.Library()


@register.simple_tag
def distribution_bar(bars: Sequence[dict]) -> str:
    """One stacked bar, 100 units wide: each category's share from the lowest (lightest) up.
    Each bar is a dict with label, count and percent."""
    rects = []
    x = 0.0
    for number, bar in enumerate(bars, start=1):
        title = f"{bar['label']}: {bar['count']} ({bar['percent']}%)"
        rects.append((number, f"{x:g}", f"{bar['percent']:g}", title))
        x += bar["percent"]
    label = ", ".join(f"{bar['label']}: {bar['count']}" for bar in bars)
    return format_html(
        '<svg class="bars" viewBox="0 0 100 1" preserveAspectRatio="none" role="img"'
        ' aria-label="{}">{}</svg>',
        label,
        format_html_join(
            "",
            '<rect class="bar bar-{}" x="{}" width="{}" height="1"><title>{}</title></rect>',
            rects,
        ),
    )


@register.simple_tag
def sparkbars(days: Sequence[tuple[date, int]]) -> str:
    """One bar per day, as tall as its count against the busiest day's (a sliver for none)."""
    busiest = max((n for _, n in days), default=0) or 1
    rects = []
    for index, (day, n) in enumerate(days):
        height = max(100 * n / busiest, 1)
        title = f"{date_format(day, 'D j M')}: {n}"
        rects.append((f"{index + 0.1:g}", f"{100 - height:g}", f"{height:g}", title))
    label = ", ".join(f"{date_format(day, 'M j')}: {n}" for day, n in days)
    return format_html(
        '<svg class="sparkbars" viewBox="0 0 {} 100" preserveAspectRatio="none" role="img"'
        ' aria-label="{}">{}</svg>',
        len(days),
        label,
        format_html_join(
            "",
            '<rect x="{}" y="{}" width="0.8" height="{}"><title>{}</title></rect>',
            rects,
        ),
    )
