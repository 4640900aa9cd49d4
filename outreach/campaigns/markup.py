"""Markdown with Jinja merge tags, turned once into an HTML and a plain-text Jinja template.

Every tag (`{{ ... }}`, `{% ... %}`, `{# ... #}`) is swapped for an inert alphanumeric placeholder
before Markdown, nh3 and css-inline run, and put back afterwards, so per recipient only the compiled
template runs. A block tag alone on its line is attached to the neighbouring line (so lists and
tables stay whole) and afterwards moved just outside the element of that line: a `{% for %}` line
above a list item repeats the `<li>`, above a table row the `<tr>`.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from html.parser import HTMLParser

import markdown
import nh3

TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
# What starts a Markdown line: blockquote markers, then a heading, list item or table row marker.
LINE_START = re.compile(r"^(\s*(?:>\s*)*(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|\|\s*)?)")
# Lines a placeholder cannot join without changing what they are (fences, rules, separators).
UNJOINABLE = re.compile(r"^\s*(```|~~~|([-*_])\s*(\2\s*){2,}$|\|?\s*:?-{3,})")
TABLE_ROW_END = re.compile(r"^(.*\|.*?)(\s*\|\s*)$")
HOISTED = "p|li|td|th|tr|h[1-6]"
EMPTY_PARAGRAPH = re.compile(r"<p>\s*</p>")
JINJA_OPENER = re.compile(r"\{(?=[{%#])")
LINK_ATTRIBUTE = re.compile(r'\b(href|src)="([^"]*)"')
SAFE_LINK = re.compile(r"(https?://|mailto:)", re.IGNORECASE)

ALLOWED_TAGS = {
    *(f"h{n}" for n in range(1, 7)),
    "p", "a", "strong", "em", "b", "i", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th",
    "td", "img", "blockquote", "hr", "br", "code", "pre",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
URL_SCHEMES = {"http", "https", "mailto"}


@dataclass
class Protected:
    """Text with its merge tags swapped for placeholders, and what is needed to put them back."""

    prefix: str
    text: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    line_tokens: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.token = re.compile(re.escape(self.prefix) + r"\d+z")

    def add(self, source: str) -> str:
        """A placeholder for `source` (a tag, or more Jinja source) to put back later."""
        token = f"{self.prefix}{len(self.tags)}z"
        self.tags[token] = source
        return token

    def restore(self, text: str) -> str:
        return self.token.sub(lambda m: self.tags.get(m.group(0), m.group(0)), text)


def _prefix(source: str) -> str:
    while True:
        prefix = "Xj" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(8)) + "q"
        if prefix not in source:
            return prefix


def protect(source: str) -> Protected:
    """Swap the tags of `source` (Markdown) for placeholders and attach lone block-tag lines."""
    protected = Protected(_prefix(source))
    statements: set[str] = set()

    def swap(match: re.Match) -> str:
        token = protected.add(match.group(0))
        if not match.group(0).startswith("{{"):
            statements.add(token)
        return token

    text = TAG.sub(swap, source.replace("\r\n", "\n").replace("\r", "\n"))
    protected.text = _attach_lines(
        text.split("\n"), protected.token, statements, protected.line_tokens
    )
    return protected


def _attach_lines(lines: list[str], token, statements: set[str], line_tokens: set[str]) -> str:
    out: list[str] = []
    pending: list[str] = []
    for index, line in enumerate(lines):
        found = token.findall(line)
        alone = found and all(t in statements for t in found) and not token.sub("", line).strip()
        if not alone:
            if pending:
                line = _join_start(line, pending)
                pending = []
            out.append(line)
            continue
        line_tokens.update(found)
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if following.strip() and not UNJOINABLE.match(following):
            pending.extend(found)
        elif out and out[-1].strip() and not UNJOINABLE.match(out[-1]):
            out[-1] = _join_end(out[-1], pending + found)
            pending = []
        else:
            out.extend(["", " ".join(pending + found), ""])
            pending = []
    if pending:
        out.append(" ".join(pending))
    return "\n".join(out)


def _join_start(line: str, tokens: list[str]) -> str:
    cut = LINE_START.match(line).end()
    return f"{line[:cut]}{' '.join(tokens)} {line[cut:]}"


def _join_end(line: str, tokens: list[str]) -> str:
    row = TABLE_ROW_END.match(line)
    if row:
        return f"{row.group(1)} {' '.join(tokens)}{row.group(2)}"
    return f"{line.rstrip()} {' '.join(tokens)}"


def markdown_to_html(protected: Protected) -> str:
    """Markdown -> sanitised HTML fragment, block-tag placeholders moved outside their element."""
    html = markdown.Markdown(extensions=["tables", "sane_lists"]).convert(protected.text)
    html = nh3.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES
    )
    return _hoist(html, protected)


def _hoist(html: str, protected: Protected) -> str:
    if not protected.line_tokens:
        return html
    pattern = protected.token.pattern
    opening = re.compile(rf"<({HOISTED})(\s[^>]*)?>(\s*)({pattern})\s*")
    closing = re.compile(rf"\s*({pattern})(\s*)</({HOISTED})>")
    lines = protected.line_tokens

    def out_front(m: re.Match) -> str:
        if m.group(4) not in lines:
            return m.group(0)
        return f"{m.group(4)}<{m.group(1)}{m.group(2) or ''}>{m.group(3)}"

    def out_back(m: re.Match) -> str:
        if m.group(1) not in lines:
            return m.group(0)
        return f"{m.group(2)}</{m.group(3)}>{m.group(1)}"

    while True:
        moved = closing.sub(out_back, opening.sub(out_front, html))
        if moved == html:
            return EMPTY_PARAGRAPH.sub("", html)
        html = moved


def comment_line_tokens(fragment: str, protected: Protected) -> str:
    """Wrap block-tag placeholders in HTML comments: an HTML parser (css-inline's) would move bare
    text found between table rows out of the table, but leaves comments where they are."""
    if not protected.line_tokens:
        return fragment
    lines = protected.line_tokens
    return protected.token.sub(
        lambda m: f"<!--{m.group(0)}-->" if m.group(0) in lines else m.group(0), fragment
    )


def html_template_source(document: str, protected: Protected) -> str:
    """The final HTML document (layout applied, CSS inlined) as Jinja source."""
    document = re.sub(rf"<!--({protected.token.pattern})-->", r"\1", document)
    document = JINJA_OPENER.sub("&#123;", document)

    def guard(m: re.Match) -> str:
        value = m.group(2)
        if not protected.token.search(value) or SAFE_LINK.match(value):
            return m.group(0)
        return f'{m.group(1)}="{{% filter safe_url %}}{value}{{% endfilter %}}"'

    return protected.restore(LINK_ATTRIBUTE.sub(guard, document))


def text_template_source(text: str, protected: Protected) -> str:
    """The text part as Jinja source for an environment with `trim_blocks`: a block-tag line
    vanishes with its line break; a block tag inside a line gets `+%}` to keep the break after
    it."""

    def put_back(match: re.Match) -> str:
        token = match.group(0)
        tag = protected.tags.get(token, token)
        inline_block = tag.startswith("{%") and not tag.endswith(("-%}", "+%}"))
        if inline_block and token not in protected.line_tokens:
            return tag[:-2] + "+%}"
        return tag

    return protected.token.sub(put_back, JINJA_OPENER.sub("{{ '{' }}", text))


# --- HTML -> plain text ---------------------------------------------------------------------------

WHITESPACE = re.compile(r"\s+")
BLANK_LINES = re.compile(r"\n\n\n+")


class _PlainText(HTMLParser):
    """A readable text version: paragraphs, "- " and "1. " lists, "a | b" rows, links as
    "text (url)". Block-tag placeholders get a line of their own."""

    def __init__(self, protected: Protected):
        super().__init__(convert_charrefs=True)
        self.protected = protected
        self.parts: list[str] = []
        self.lists: list[list] = []
        self.marks: list[tuple[str, int, str]] = []
        self.cells = 0
        self.pre = False

    # output helpers
    def _text(self) -> str:
        return "".join(self.parts)

    def _at_line_start(self) -> bool:
        for part in reversed(self.parts):
            if part:
                return part.endswith("\n")
        return True

    def _newline(self) -> None:
        if not self._at_line_start():
            self.parts.append("\n")

    def _block(self) -> None:
        if self.lists:
            self._newline()
        else:
            self.parts.append("\n\n")

    def handle_starttag(self, tag: str, attrs) -> None:
        attrs = dict(attrs)
        if tag in ("p", "div", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"):
            self._block()
            if tag in ("h1", "h2", "blockquote"):
                self.marks.append((tag, len(self.parts), ""))
        elif tag in ("ul", "ol"):
            self._block()
            self.lists.append([tag, 0])
        elif tag == "li":
            self._newline()
            current = self.lists[-1] if self.lists else ["ul", 0]
            current[1] += 1
            indent = "   " * max(len(self.lists) - 1, 0)
            self.parts.append(indent + ("- " if current[0] == "ul" else f"{current[1]}. "))
        elif tag == "tr":
            self._newline()
            self.cells = 0
        elif tag in ("td", "th"):
            if self.cells:
                if self.parts:
                    self.parts[-1] = self.parts[-1].rstrip()
                self.parts.append(" | ")
            self.cells += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "hr":
            self._block()
            self.parts.append("-" * 24)
            self._block()
        elif tag == "a":
            self.marks.append(("a", len(self.parts), attrs.get("href") or ""))
        elif tag == "img" and attrs.get("alt"):
            self.parts.append(attrs["alt"])
        elif tag == "pre":
            self._block()
            self.pre = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._block()
        elif tag == "pre":
            self.pre = False
        elif self.marks and self.marks[-1][0] == tag:
            _, start, href = self.marks.pop()
            inner = "".join(self.parts[start:])
            self.parts[start:] = [self._finish(tag, inner, href)]

    def _finish(self, tag: str, inner: str, href: str) -> str:
        if tag == "a":
            text = inner.strip()
            shown = href[len("mailto:"):] if href.lower().startswith("mailto:") else href
            if not shown or shown == text:
                return inner
            return f"{text} ({shown})" if text else shown
        if tag == "blockquote":
            lines = inner.strip("\n").split("\n")
            return "\n".join(f"> {line}" if line else line for line in lines)
        underline = "=" if tag == "h1" else "-"
        title = inner.strip()
        return f"{title}\n{underline * len(title)}"

    def handle_data(self, data: str) -> None:
        if self.pre:
            self.parts.append(data)
            return
        position = 0
        for match in self.protected.token.finditer(data):
            if match.group(0) in self.protected.line_tokens:
                self._inline(data[position:match.start()])
                self._newline()
                self.parts.append(match.group(0) + "\n")
                position = match.end()
        self._inline(data[position:])

    def _inline(self, data: str) -> None:
        text = WHITESPACE.sub(" ", data)
        if self._at_line_start():
            text = text.lstrip()
        if text:
            self.parts.append(text)


def html_to_text(html: str, protected: Protected) -> str:
    parser = _PlainText(protected)
    parser.feed(html)
    parser.close()
    lines = (line.rstrip() for line in parser._text().split("\n"))
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")
