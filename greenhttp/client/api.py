"""The module-level calls: ``greenhttp.get(url)`` and friends, on a shared ``Client``."""

from __future__ import annotations

from typing import Any, Iterable, Union

from .response import Response
from .session import Client, _document


# Module-level calls keep no cookies between unrelated requests: a session does that.
_default_client = Client(cookies=False)


def request(method: str, url: str, **kwargs: Any) -> Response:
    """Send one request with the shared pool. See :meth:`Client.request` for the keywords."""
    return _default_client.request(method, url, **kwargs)


def get(url: str, **kwargs: Any) -> Response:
    return _default_client.request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> Response:
    return _default_client.request("POST", url, **kwargs)


def put(url: str, **kwargs: Any) -> Response:
    return _default_client.request("PUT", url, **kwargs)


def patch(url: str, **kwargs: Any) -> Response:
    return _default_client.request("PATCH", url, **kwargs)


def delete(url: str, **kwargs: Any) -> Response:
    return _default_client.request("DELETE", url, **kwargs)


def head(url: str, **kwargs: Any) -> Response:
    return _default_client.request("HEAD", url, **kwargs)


def options(url: str, **kwargs: Any) -> Response:
    return _default_client.request("OPTIONS", url, **kwargs)


def fetch_all(requests: Iterable[Any], concurrency: int = 10, **common: Any) -> list[Union[Response, Exception]]:
    """``Client.fetch_all`` on the shared pool: responses or exceptions, in input order."""
    return _default_client.fetch_all(requests, concurrency, **common)


for _function in (get, post, put, patch, delete, head, options):
    _document(_function, _function.__name__.upper(), bound=False)
_document(request, None, bound=False)
