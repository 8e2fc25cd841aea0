"""A server-rendered SVG bar chart of events per hour by status (no JavaScript, no CDN)."""

import datetime as dt

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from webhooks.models import WebhookEvent

# Bottom to top, with the colours of the status badges.
STATUS_COLOURS = {
    WebhookEvent.Status.PROCESSED: "#2e7d32",
    WebhookEvent.Status.IGNORED: "#9e9e9e",
    WebhookEvent.Status.RECEIVED: "#1565c0",
    WebhookEvent.Status.FAILED: "#c62828",
}
BAR_WIDTH, GAP, HEIGHT, AXIS = 9, 1, 160, 24


def hourly_chart_svg(hourly: dict[dt.datetime, dict[str, int]]) -> SafeString:
    """Stacked bars, one per hour in order; a <title> on each segment says hour, status and count."""
    hours = sorted(hourly)
    peak = max((sum(counts.values()) for counts in hourly.values()), default=0) or 1
    width = len(hours) * (BAR_WIDTH + GAP)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="hourly-chart" width="{width + 40}" '
        f'height="{HEIGHT + AXIS}" viewBox="0 0 {width + 40} {HEIGHT + AXIS}" role="img" '
        f'aria-label="Webhook events per hour by status">',
        f'<text x="{width + 4}" y="10" font-size="10">{peak}</text>',
        f'<line x1="0" y1="{HEIGHT}" x2="{width}" y2="{HEIGHT}" stroke="#999"/>',
    ]
    for index, hour in enumerate(hours):
        x, y = index * (BAR_WIDTH + GAP), HEIGHT
        for status, colour in STATUS_COLOURS.items():
            count = hourly[hour].get(status, 0)
            if not count:
                continue
            height = max(1.0, count / peak * (HEIGHT - 12))
            y -= height
            label = escape(f"{hour:%Y-%m-%d %H:00} UTC: {count} {status}")
            parts.append(
                f'<rect x="{x}" y="{y:.1f}" width="{BAR_WIDTH}" height="{height:.1f}" fill="{colour}">'
                f"<title>{label}</title></rect>"
            )
        if hour.hour == 0:
            parts.append(f'<text x="{x}" y="{HEIGHT + 16}" font-size="10">{hour:%b %d}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
