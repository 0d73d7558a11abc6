"""A collection/item API on greenhttp.resource: the decision graph does the HTTP.

Serve it:   greenhttp examples/resources.py -p 8080
Use it:     curl -i localhost:8080/items
            curl -i -X POST -H 'Content-Type: application/json' -d '{"name": "pen"}' localhost:8080/items
            curl -i -X PUT -H 'Content-Type: application/json' -H 'If-Match: "<etag>"' \\
                 -d '{"name": "ink"}' localhost:8080/items/1
            curl -i localhost:8080/_trace      (the visual debugger: every request here is traced)

Items are JSON or msgpack both ways (Content-Type in, Accept out). GET answers carry ETag and
Last-Modified, so If-None-Match / If-Modified-Since give 304; PUT creates (201) or replaces
(204), and with If-Match a stale ETag gets 412 instead of overwriting someone else's change.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
from typing import Any

from greenhttp.resource import Application, Resource, TraceResource

# --8<-- [start:store]
ITEMS: dict[str, dict[str, Any]] = {}  # id → {"data": ..., "modified": datetime}
NEXT_ID = itertools.count(1)
TYPES = ["application/json", "application/msgpack"]


def etag_of(item: dict[str, Any]) -> str:
    # A strong validator: it changes whenever the stored data changes (RFC 9110 §8.8.3).
    canonical = json.dumps(item["data"], sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def store(item_id: str, data: Any) -> None:
    ITEMS[item_id] = {"data": data, "modified": datetime.datetime.now(datetime.timezone.utc)}
# --8<-- [end:store]


# --8<-- [start:base]
class Base(Resource):
    def trace(self) -> bool:
        return True  # a demo: every request shows up at /_trace

    def content_types_provided(self) -> list[tuple[str, Any]]:
        return [(media_type, "to_data") for media_type in TYPES]

    def content_types_accepted(self) -> list[tuple[str, Any]]:
        return [(media_type, "from_data") for media_type in TYPES]

    def decoded(self) -> dict[str, Any] | None:
        """The body as an item, or None if it is not one (an object with a string "name").

        greenhttp.read_body's own errors escape: the flow answers them 400 (malformed),
        413 (too large) or 415, never 500."""
        data = self.decode_body()
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            return data
        return None
# --8<-- [end:base]


# --8<-- [start:collection]
class Items(Base):
    """GET the list; POST creates an item at a new id (201 + Location)."""

    def allowed_methods(self) -> list[str]:
        return ["GET", "HEAD", "POST"]

    def post_is_create(self) -> bool:
        return True

    def create_path(self) -> str:
        self.new_id = str(next(NEXT_ID))
        return f"items/{self.new_id}"

    def from_data(self) -> Any:
        item = self.decoded()
        if item is None:
            return 422
        store(self.new_id, item)
        return True

    def to_data(self) -> bytes:
        return self.represent([{"id": key, **item["data"]} for key, item in ITEMS.items()])
# --8<-- [end:collection]


# --8<-- [start:item]
class Item(Base):
    """GET / PUT / DELETE one item; conditional requests come from the ETag and date."""

    def __init__(self) -> None:
        self.item_id = self.path_params["id"]
        self.item = ITEMS.get(self.item_id)

    def allowed_methods(self) -> list[str]:
        return ["GET", "HEAD", "PUT", "DELETE"]

    def resource_exists(self) -> bool:
        return self.item is not None

    def generate_etag(self) -> str | None:
        return etag_of(self.item) if self.item else None

    def last_modified(self) -> datetime.datetime | None:
        return self.item["modified"] if self.item else None

    def from_data(self) -> Any:
        item = self.decoded()
        if item is None:
            return 422
        store(self.item_id, item)  # the flow answers 201 if it was new, else 204
        return True

    def delete_resource(self) -> bool:
        del ITEMS[self.item_id]
        return True

    def to_data(self) -> bytes:
        assert self.item is not None
        return self.represent({"id": self.item_id, **self.item["data"]})
# --8<-- [end:item]


app = Application(routes=[
    ("/items", Items),
    ("/items/{id}", Item),
    ("/_trace", TraceResource),
    ("/_trace/{id}", TraceResource),
])
