"""Pretty-printed, highlighted JSON as safe HTML, for the admin (no JavaScript, no CDN)."""

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Deeper values are shown as plain, unindented text: indentation would grow with the square
# of the depth. Deliveries nesting deeper than 100 levels are refused (webhooks/inbound/payloads.py);
# this keeps the pages of anything stored before that readable.
MAX_PRETTY_DEPTH = 100

_END = object()


class _TooDeep(Exception):
    pass


def json_to_html(value: Any) -> SafeString:
    """`value` as indented JSON in a <pre>, every token escaped and wrapped in a classed <span>.

    Walks `value` with an explicit stack, so no depth exhausts the interpreter's; beyond
    MAX_PRETTY_DEPTH it falls back to the compact JSON as plain text.
    """
    try:
        return mark_safe(f'<pre class="json">{_render(value, indent=2)}</pre>')
    except _TooDeep:
        return mark_safe(f'<pre class="json json-plain">{_render(value, indent=None)}</pre>')


def json_text_to_html(text: str) -> SafeString:
    """`text` (a stored payload, as JSON text) decoded and shown as `json_to_html` does.

    The decoder recurses once per level, and a payload stored before deliveries nesting deeper
    than 100 levels were refused may be some 900 deep: with a request's stack already under
    it, that passes the interpreter's recursion limit. Such a payload is decoded in a thread
    of its own, whose stack starts empty.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        with ThreadPoolExecutor(max_workers=1) as fresh_stack:
            value = fresh_stack.submit(json.loads, text).result()
    return json_to_html(value)


def _render(value: Any, *, indent: int | None) -> str:
    """JSON text of `value`, escaped for HTML, highlighted when indented."""
    pretty = indent is not None
    parts: list[str] = []
    # One frame per open object or array: its remaining (key, item) pairs and its closing bracket.
    stack: list[tuple[Any, str]] = []

    def newline(depth: int) -> str:
        return "\n" + " " * (indent * depth) if pretty else ""

    def token(kind: str, text: str) -> str:
        text = escape(text)
        return f'<span class="json-{kind}">{text}</span>' if pretty else text

    def open_or_write(item: Any) -> None:
        if isinstance(item, dict) and item:
            parts.append("{")
            stack.append((iter(item.items()), "}"))
        elif isinstance(item, list) and item:
            parts.append("[")
            stack.append((((None, element) for element in item), "]"))
        elif isinstance(item, (dict, list)):
            parts.append("{}" if isinstance(item, dict) else "[]")
        elif item is None or isinstance(item, bool):
            parts.append(token("literal", json.dumps(item)))
        elif isinstance(item, (int, float)):
            parts.append(token("number", json.dumps(item)))
        else:
            parts.append(token("string", json.dumps(str(item), ensure_ascii=False)))
        if pretty and len(stack) > MAX_PRETTY_DEPTH:
            raise _TooDeep

    open_or_write(value)
    first = True  # the next member is the first of the innermost open container
    while stack:
        members, closer = stack[-1]
        member = next(members, _END)
        if member is _END:
            stack.pop()
            parts.append(("" if first else newline(len(stack))) + closer)
            first = False
            continue
        parts.append(("" if first else ",") + (newline(len(stack)) if pretty else ("" if first else " ")))
        key, item = member
        if key is not None:
            parts.append(token("key", json.dumps(str(key), ensure_ascii=False)) + ": ")
        first = isinstance(item, (dict, list)) and bool(item)
        open_or_write(item)
    return "".join(parts)
