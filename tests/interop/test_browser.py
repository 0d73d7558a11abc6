"""examples/upload_progress.py in a real browser: headless Chromium (Debian's chromium and
chromium-driver) uploads a file, and the test reads the page's progress bar as it moves.

The upload is paced on the server side (the app reads 256 KiB every 0.1 s) so a local
upload lasts ~2 s and the page's 200 ms polls see it in flight; the page and the
middleware are the example's, unchanged."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pathlib
import time
from typing import Any, Callable, Iterable, Iterator

import gevent
import pytest

from greenhttp import Body

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def paced(app: Callable, chunk: int = 256 * 1024, interval: float = 0.1) -> Callable:
    """Serve ``app`` with a request body that reads ``chunk`` bytes per ``interval``: a slow
    network, as the app sees it. Wraps outside the progress middleware, which counts what
    it is handed."""
    from greenhttp.body import WSGIInput

    def wrapper(environ: dict, start_response: Callable) -> Iterable[bytes]:
        original: Body = environ["greenhttp.body"]

        def pieces() -> Iterator[bytes]:
            while data := original.readexactly(chunk):
                gevent.sleep(interval)
                yield data

        source = pieces()
        body = Body(lambda: next(source, None), original.length)
        environ["greenhttp.body"] = body
        environ["wsgi.input"] = WSGIInput(body)
        return app(environ, start_response)

    return wrapper


def test_progress_bar_moves_while_the_browser_uploads(serve, browser, tmp_path):
    from selenium.webdriver.common.by import By

    example = load_example("upload_progress")
    data = os.urandom(5 * 1024 * 1024)
    upload = tmp_path / "upload.bin"
    upload.write_bytes(data)

    with serve(paced(example.app)) as server:
        browser.get(server.url + "/")
        browser.find_element(By.ID, "file").send_keys(str(upload))
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        assert browser.find_element(By.ID, "bar").get_attribute("max") is not None
        status = browser.find_element(By.ID, "status")
        seen: list[tuple[float, float]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            value, maximum, state = browser.execute_script(
                "const b = document.getElementById('bar'), s = document.getElementById('status');"
                "return [b.value, b.max, s.dataset.state || ''];")
            seen.append((value, maximum))
            if state == "done" and status.get_attribute("data-sha256"):
                break
            gevent.sleep(0.05)
        else:
            pytest.fail(f"upload did not finish in the page; bar values seen: {seen[-5:]}, "
                        f"status {status.text!r}")

    values = [value for value, _ in seen]
    partial = sorted({value for value, maximum in seen if 0 < value < len(data) and maximum == len(data)})
    assert len(partial) >= 3, f"the bar should move through several values, saw {sorted(set(values))}"
    assert values == sorted(values), "the bar never goes backwards"
    assert seen[-1] == (len(data), len(data))
    assert status.get_attribute("data-sha256") == hashlib.sha256(data).hexdigest()
    assert "Done" in status.text
