"""The PR comment rendered as GitHub renders it, for the renderer's tests to look at the HTML.

GitHub renders comments as CommonMark plus the GFM extensions (tables, strikethrough, task lists,
autolinks), keeping raw HTML blocks such as ``<details>`` and then sanitising them.  markdown-it-py's
``commonmark`` preset with ``table`` and ``strikethrough`` enabled parses the same way for everything
the comment uses (autolinks and task lists are not used; sanitising is GitHub's last line, so the
tests require that no config value becomes a tag in the first place).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser

# The tags the comment's own markup produces; a config value must never add another.
COMMENT_TAGS = frozenset(
    {
        "h3",
        "h4",
        "p",
        "strong",
        "em",
        "code",
        "pre",
        "ul",
        "li",
        "details",
        "summary",
        "b",
        "sub",
        "hr",
        "blockquote",
        "a",
    }
)


def to_html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(markdown)


def tokens(markdown: str) -> list[tuple[str, str]]:
    """The block tokens as ``(type, content)`` (how ``<details>`` and fences were read)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return [(t.type, t.content) for t in md.parse(markdown)]


@dataclass
class CodeBlock:
    lang: str
    text: str

    @property
    def lines(self) -> list[str]:
        return self.text.rstrip("\n").split("\n")


class Page(HTMLParser):
    """The rendered comment: the tags used, the code blocks, and whether ``<details>`` nest properly."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.tags: Counter[str] = Counter()
        self.blocks: list[CodeBlock] = []
        self.problems: list[str] = []
        self._open: list[str] = []
        self._pre = False
        self._code: CodeBlock | None = None
        self._text: list[str] = []
        self.feed(html)
        self.close()
        if self._open:
            self.problems.append(f"left open: {self._open}")
        self.text = "".join(self._text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        if tag in ("details", "summary") and self._pre:
            self.problems.append(f"<{tag}> inside a code block: a fence was left open")
        if tag == "details":
            self._open.append(tag)
        elif tag == "pre":
            self._pre = True
        elif tag == "code" and self._pre:
            self._code = CodeBlock(str(dict(attrs).get("class") or "").removeprefix("language-"), "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            if not self._open:
                self.problems.append("</details> without <details>")
            else:
                self._open.pop()
        elif tag == "code" and self._code is not None:
            self.blocks.append(self._code)
            self._code = None
        elif tag == "pre":
            self._pre = False

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        if self._code is not None:
            self._code.text += data

    def code(self, lang: str) -> list[CodeBlock]:
        return [b for b in self.blocks if b.lang == lang]


def page(markdown: str) -> Page:
    return Page(to_html(markdown))
