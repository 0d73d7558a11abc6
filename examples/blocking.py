"""Plain blocking code, served concurrently: time.sleep, requests and urllib in a handler.

Run:   greenhttp examples/blocking.py -p 8080
       curl 'localhost:8080/sleep?seconds=0.5'
       curl 'localhost:8080/chain?seconds=0.5'     (calls /sleep on itself, with requests and urllib)

Nothing here mentions gevent. The `greenhttp` command monkey-patches the standard
library before it imports this file, so time.sleep, socket (and so requests and
urllib) wait cooperatively: while one request sleeps or waits on the network, the
others run. 100 requests that each sleep 0.5 s finish together in about 0.5 s.

Started some other way (python -m, a test harness), call gevent.monkey.patch_all()
before anything else is imported.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Callable, Iterable
from urllib.parse import parse_qs

import requests

# --8<-- [start:handlers]
def sleep(seconds: float) -> dict:
    started = time.monotonic()
    time.sleep(seconds)  # blocks this request only
    return {"slept": round(time.monotonic() - started, 3)}


def chain(base_url: str, seconds: float) -> dict:
    """Two outbound calls, written as blocking code: each waits without holding up the server."""
    started = time.monotonic()
    with requests.get(f"{base_url}/sleep", params={"seconds": seconds}, timeout=10) as response:
        via_requests = response.json()
    with urllib.request.urlopen(f"{base_url}/sleep?seconds={seconds}", timeout=10) as response:
        via_urllib = json.load(response)
    return {"requests": via_requests, "urllib": via_urllib,
            "elapsed": round(time.monotonic() - started, 3)}


def own_url(environ: dict) -> str:
    # The address this server listens on, not the client's Host header: an example
    # should not fetch whatever host a client names.
    host = environ["SERVER_NAME"]
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{environ['SERVER_PORT']}"


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    query = parse_qs(environ["QUERY_STRING"])
    try:
        seconds = min(float(query.get("seconds", ["0.5"])[0]), 10.0)
    except ValueError:
        seconds = 0.5
    path = environ["PATH_INFO"]
    if path == "/sleep":
        result = sleep(seconds)
    elif path == "/chain":
        # Calls this same server: fine, since waiting for the answer does not block it.
        result = chain(own_url(environ), seconds)
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"try /sleep or /chain\n"]
    body = json.dumps(result).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
# --8<-- [end:handlers]
