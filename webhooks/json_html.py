"""Pretty-printed, highlighted JSON as safe HTML, for the admin (no JavaScript, no CDN)."""
import json
import re
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_TOKEN = re.compile(
    r'(?P<key>"(?:\\.|[^"\\])*")(?=\s*:)'
    r'|(?P<string>"(?:\\.|[^"\\])*")'
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<literal>\btrue\b|\bfalse\b|\bnull\b)"
)


def json_to_html(value: Any) -> SafeString:
    """`value` as indented JSON in a <pre>, every token escaped and wrapped in a classed <span>."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    parts, position = [], 0
    for match in _TOKEN.finditer(text):
        parts.append(escape(text[position : match.start()]))
        parts.append(f'<span class="json-{match.lastgroup}">{escape(match.group())}</span>')
        position = match.end()
    parts.append(escape(text[position:]))
    return mark_safe(f'<pre class="json">{"".join(parts)}</pre>')
