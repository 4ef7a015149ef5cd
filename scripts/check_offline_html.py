#!/usr/bin/env python3
"""Check that the built book can be viewed offline.

Scans ``_build/html/**/*.html`` (and the CSS files next to them) for resources
that a browser would fetch from the network while showing a page: scripts,
stylesheets, icons, images, fonts, frames, media, CSS ``url(...)`` and
``@import``. Absolute ``http://`` / ``https://`` URLs and protocol-relative
``//host/...`` URLs count as remote. Plain hyperlinks (``<a href=...>``) and
navigation-only ``<link rel=...>`` values such as ``canonical`` are fine,
because nothing is downloaded until a reader clicks them.

Usage::

    python scripts/check_offline_html.py [BUILD_HTML_DIR]

``BUILD_HTML_DIR`` defaults to ``_build/html``. The exit status is 0 when no
remote resource is found, 1 when some are (each is listed as
``file:line: <tag attr> url``), and 2 when the folder has no HTML files.
Only the standard library is used.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

# Attributes whose value a browser fetches, per tag ("*" = any tag).
FETCHED_ATTRS: dict[str, tuple[str, ...]] = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "input": ("src",),
    "image": ("href", "xlink:href"),  # SVG <image>
    "use": ("href", "xlink:href"),  # SVG <use> with an external sprite
    "body": ("background",),
    "table": ("background",),
    "td": ("background",),
}

# <link rel=...> values that do not make the browser download anything.
NAVIGATION_RELS = {
    "alternate",
    "author",
    "bookmark",
    "canonical",
    "help",
    "index",
    "license",
    "me",
    "next",
    "prev",
    "previous",
    "search",
    "tag",
    "first",
    "last",
    "up",
}

REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.IGNORECASE | re.DOTALL)
CSS_IMPORT = re.compile(r"""@import\s+['"]([^'"]+)['"]""", re.IGNORECASE)  # url(...) form: CSS_URL
# Inside inline scripts: a quoted remote URL that names a loadable resource, e.g.
# a loader configured with "https://cdn.example/lib.min.js".
JS_RESOURCE_URL = re.compile(
    r"""["'`]((?:https?:)?//[^"'`\s]+?\.(?:m?js|css|woff2?|ttf|otf|eot|png|jpe?g|gif|svg|webp)(?:\?[^"'`\s]*)?)["'`]""",
    re.IGNORECASE,
)


def is_remote(url: str) -> bool:
    return bool(REMOTE.match(url))


def srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset attribute ("a.png 1x, b.png 2x")."""
    return [part.strip().split()[0] for part in value.split(",") if part.strip()]


def css_remote_urls(css: str) -> list[str]:
    css = CSS_COMMENT.sub("", css)
    found = [m.group(2).strip() for m in CSS_URL.finditer(css)]
    found += [m.group(1).strip() for m in CSS_IMPORT.finditer(css)]
    return [u for u in found if is_remote(u)]


class RemoteResourceFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[tuple[int, str, str]] = []  # (line, where, url)
        self._text_tag: str | None = None  # "script" or "style" while inside one
        self._text_line = 0
        self._text: list[str] = []

    def _report(self, where: str, url: str, line: int | None = None) -> None:
        self.problems.append((line or self.getpos()[0], where, url))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check_tag(tag, attrs)
        if tag in ("script", "style"):
            self._text_tag = tag
            self._text_line = self.getpos()[0]
            self._text = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check_tag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._text_tag is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != self._text_tag:
            return
        text = "".join(self._text)
        if tag == "style":
            for url in css_remote_urls(text):
                self._report("<style>", url, self._text_line)
        else:
            for m in JS_RESOURCE_URL.finditer(text):
                self._report("<script> (inline)", m.group(1), self._text_line)
        self._text_tag = None
        self._text = []

    def _check_tag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "") for name, value in attrs}

        if tag == "link":
            rels = set(values.get("rel", "").lower().split())
            href = values.get("href", "")
            if href and is_remote(href) and not (rels and rels <= NAVIGATION_RELS):
                self._report(f"<link rel={' '.join(sorted(rels)) or '?'}>", href)
            for url in srcset_urls(values.get("imagesrcset", "")):
                if is_remote(url):
                    self._report("<link imagesrcset>", url)

        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            content = values.get("content", "")
            target = content.split("url=", 1)[-1] if "url=" in content.lower() else ""
            if target and is_remote(target):
                self._report("<meta http-equiv=refresh>", target)

        for attr in FETCHED_ATTRS.get(tag, ()):
            value = values.get(attr)
            if not value:
                continue
            urls = srcset_urls(value) if attr.endswith("srcset") else [value]
            for url in urls:
                if is_remote(url):
                    self._report(f"<{tag} {attr}>", url)

        style = values.get("style")
        if style:
            for url in css_remote_urls(style):
                self._report(f"<{tag} style>", url)


def scan_html(path: Path) -> list[tuple[int, str, str]]:
    finder = RemoteResourceFinder()
    finder.feed(path.read_text(encoding="utf-8", errors="replace"))
    finder.close()
    return finder.problems


def scan_css(path: Path) -> list[tuple[int, str, str]]:
    problems = []
    text = path.read_text(encoding="utf-8", errors="replace")
    # Blank out comments but keep line numbers.
    text = CSS_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    for lineno, line in enumerate(text.splitlines(), start=1):
        for url in css_remote_urls(line):
            problems.append((lineno, "css", url))
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path("_build/html")
    html_files = sorted(root.rglob("*.html"))
    if not html_files:
        print(f"check_offline_html: no HTML files under {root}; build the book first", file=sys.stderr)
        return 2
    css_files = sorted(root.rglob("*.css"))

    problems: list[str] = []
    for path in html_files:
        problems += [f"{path}:{line}: {where} {url}" for line, where, url in scan_html(path)]
    for path in css_files:
        problems += [f"{path}:{line}: {where} {url}" for line, where, url in scan_css(path)]

    if problems:
        print(f"check_offline_html: {len(problems)} remote resource(s) would be loaded at view time:")
        print("\n".join(problems))
        return 1
    print(
        f"check_offline_html: OK, {len(html_files)} HTML and {len(css_files)} CSS files "
        f"under {root} load nothing from the network"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
