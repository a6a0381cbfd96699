"""The console's page files: both languages complete, every label the scripts use defined.

The page itself is driven in Chromium by tests/e2e/test_console.py; this is the
part a text check can catch in a second: a label added in one language only, or a
``t("...")`` key that exists in neither (the page would show the raw key).
"""

from __future__ import annotations

import re

from streams.gateway.console import static_dir

STATIC = static_dir()
KEY = re.compile(r'^\s+"([a-zA-Z0-9_.-]+)":', re.MULTILINE)
USED = re.compile(r'\bt\(\s*"([a-zA-Z0-9_.-]+)"')
I18N_ATTRIBUTE = re.compile(r'data-i18n(?:-[a-z-]+)?="([a-zA-Z0-9_.-]+)"')


def dictionaries() -> dict[str, set[str]]:
    text = (STATIC / "i18n.js").read_text(encoding="utf-8")
    body = text[text.index("const DICTIONARY = {") : text.index("\n};\n")]
    indonesian, english = body.split("\n  en: {")
    return {"id": set(KEY.findall(indonesian)), "en": set(KEY.findall(english))}


def test_both_languages_have_the_same_labels() -> None:
    found = dictionaries()
    assert found["id"] and found["id"] == found["en"], found["id"] ^ found["en"]


def test_every_label_the_page_uses_is_defined() -> None:
    defined = dictionaries()["id"]
    used: set[str] = set()
    for script in STATIC.rglob("*.js"):
        used |= set(USED.findall(script.read_text(encoding="utf-8")))
    used |= set(I18N_ATTRIBUTE.findall((STATIC / "index.html").read_text(encoding="utf-8")))
    assert used, "no t(...) call found: the pattern no longer matches the scripts"
    assert not used - defined, sorted(used - defined)


def test_the_page_loads_nothing_from_elsewhere_and_nothing_inline() -> None:
    for path in [*STATIC.rglob("*.js"), *STATIC.rglob("*.html"), *STATIC.rglob("*.css")]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path
        assert "@import url(http" not in text, path
        assert not re.search(r"\.innerHTML\s*=|insertAdjacentHTML|document\.write", text), path
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert "<style" not in html and "style=" not in html, "inline style"
