"""``Resource``: the callbacks, with webmachine's defaults. Override what you need.

Every "bool" callback may instead return an ``int`` to end the flow with that status
(``type(v) is int``: True and False never halt). Raising :class:`Halt` does the same.
"""

from __future__ import annotations

import datetime
import gzip
import zlib
from typing import TYPE_CHECKING, Any, Callable, Mapping, Union

from .conditional import weak_etag as _weak_etag
from .representations import encode_value

if TYPE_CHECKING:
    from .request import Request, Response

Handler = Union[str, Callable[[], Any]]
Encoder = Union[str, Callable[[bytes], bytes]]


class Halt(Exception):
    """``raise Halt(404)`` from any callback: end the flow with that status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Resource:
    """One instance per request. ``request``, ``response`` and ``path_params`` are set
    before ``__init__()`` runs, so ``__init__`` may read the request."""

    request: "Request"
    response: "Response"
    path_params: dict[str, str]
    #: Negotiation results, set before any body handler runs.
    media_type: str | None = None
    charset: str | None = None
    encoding: str | None = None
    language: str | None = None

    def __init__(self) -> None:
        pass

    # -- B column: is the request acceptable at all? -------------------------------------

    def service_available(self) -> Any:
        return True

    def known_methods(self) -> list[str]:
        # RFC 9110 §9 plus PATCH (RFC 5789), which webmachine-ruby lacks.
        return ["GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT", "OPTIONS", "PATCH"]

    def uri_too_long(self) -> Any:
        return False

    def allowed_methods(self) -> list[str]:
        return ["GET", "HEAD"]

    def validate_content_checksum(self) -> Any:
        return None

    def malformed_request(self) -> Any:
        return False

    def is_authorized(self) -> Any:
        return True

    def forbidden(self) -> Any:
        return False

    def valid_content_headers(self) -> Any:
        return True

    def known_content_type(self) -> Any:
        return True

    def valid_entity_length(self) -> Any:
        return True

    def options(self) -> Mapping[str, str]:
        return {}

    # -- negotiation ----------------------------------------------------------------------

    def content_types_provided(self) -> list[tuple[str, Handler]]:
        return [("text/html", "to_html")]

    def content_types_accepted(self) -> list[tuple[str, Handler]]:
        return []

    def charsets_provided(self) -> list[tuple[str, Callable[[str], bytes]]] | None:
        return None

    def languages_provided(self) -> list[str]:
        return []

    def language_chosen(self) -> None:
        pass

    def encodings_provided(self) -> Mapping[str, Encoder]:
        return {"identity": "encode_identity"}

    def variances(self) -> list[str]:
        return []

    # -- existence and preconditions ------------------------------------------------------

    def resource_exists(self) -> Any:
        return True

    def generate_etag(self) -> str | None:
        return None

    def last_modified(self) -> datetime.datetime | None:
        return None

    def expires(self) -> datetime.datetime | None:
        return None

    def is_conflict(self) -> Any:
        return False

    def multiple_choices(self) -> Any:
        return False

    def previously_existed(self) -> Any:
        return False

    def moved_permanently(self) -> Any:
        return False

    def moved_temporarily(self) -> Any:
        return False

    # -- unsafe methods -------------------------------------------------------------------

    def allow_missing_post(self) -> Any:
        return False

    def post_is_create(self) -> Any:
        return False

    def create_path(self) -> str | None:
        return None

    def base_uri(self) -> str | None:
        return None

    def process_post(self) -> Any:
        return False

    def delete_resource(self) -> Any:
        return False

    def delete_completed(self) -> Any:
        return True

    # -- lifecycle ----------------------------------------------------------------------

    def finish_request(self) -> None:
        pass

    def handle_exception(self, exc: BaseException) -> None:
        pass

    def trace(self) -> bool:
        return False

    # -- built-in handlers and encoders ---------------------------------------------------

    def to_html(self) -> Any:
        return "<!DOCTYPE html><html><head><title>Hello</title></head><body>Hello, world!</body></html>\n"

    def encode_identity(self, data: bytes) -> bytes:
        return data

    def encode_gzip(self, data: bytes) -> bytes:
        # One-shot form for direct calls; the flow streams with encoding.py instead.
        return gzip.compress(data)

    def encode_deflate(self, data: bytes) -> bytes:
        # RFC 9110 §8.4.1.2: "deflate" is the zlib format (RFC 1950), not raw deflate.
        return zlib.compress(data)

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def weak_etag(value: str) -> str:
        return _weak_etag(value)

    def represent(self, value: Any) -> bytes:
        """``value`` as JSON or msgpack bytes, whichever media type was negotiated."""
        return encode_value(value, self.media_type or "application/json")

    def decode_body(self, max_size: int | None = None) -> Any:
        """The request body decoded as JSON or msgpack (greenhttp.read_body: 400/413/415)."""
        import greenhttp

        if max_size is None:
            return greenhttp.read_body(self.request.environ)
        return greenhttp.read_body(self.request.environ, max_size)
