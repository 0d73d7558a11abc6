"""Issue 14: help(greenhttp.get) shows the real keywords: every keyword docs/client.md documents
is a parameter of get/post/request/Client.request, and nothing is hidden behind **kwargs."""

from __future__ import annotations

import inspect
import pathlib
import pydoc
import re

import greenhttp

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "client.md"


def documented_keywords() -> list[str]:
    text = DOC.read_text()
    table = text.split("Keywords of `request()`:", 1)[1].split("\n\n", 2)[1]
    names: list[str] = []
    for row in table.splitlines()[2:]:
        first = row.split("|")[1]
        names += re.findall(r"`(\w+)", first)
    return names


def test_every_documented_keyword_is_a_real_parameter():
    names = documented_keywords()
    assert {"params", "body", "json", "files", "auth", "retries", "hooks", "compress"} <= set(names)
    for function in (greenhttp.get, greenhttp.post, greenhttp.request, greenhttp.Client.request,
                     greenhttp.Client.get, greenhttp.Client().post):
        parameters = inspect.signature(function).parameters
        missing = [name for name in names if name not in parameters]
        assert not missing, (function, missing)
        assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()), function
    assert list(inspect.signature(greenhttp.get).parameters)[:2] == ["url", "params"]
    assert list(inspect.signature(greenhttp.request).parameters)[:2] == ["method", "url"]


def test_help_shows_keywords_and_their_meaning():
    text = pydoc.render_doc(greenhttp.get, renderer=pydoc.plaintext)
    assert "**kwargs" not in text
    assert "retries:" in text and "follow_redirects:" in text and "``compress``" in text


def test_client_keywords_are_documented():
    text = DOC.read_text()
    for name in inspect.signature(greenhttp.Client).parameters:
        assert f"{name}=" in text, name
