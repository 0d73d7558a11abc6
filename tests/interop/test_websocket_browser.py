"""examples/chat.py in a real browser: headless Chromium opens the page, its WebSocket joins
the chat, and messages typed in the page and sent by another (Python) member show up."""

from __future__ import annotations

import time

from websockets.sync.client import connect as ws_connect

from interop.test_browser import load_example

from conftest import running


def test_browser_chat_page_sends_and_receives(browser):
    from selenium.webdriver.common.by import By

    example = load_example("chat")
    with running(example.app) as server:
        host, port = server.address
        browser.get(server.url + "/")
        deadline = time.monotonic() + 15
        while browser.find_element(By.ID, "status").text != "connected":
            assert time.monotonic() < deadline, browser.find_element(By.ID, "status").text
            time.sleep(0.05)
        with ws_connect(f"ws://{host}:{port}/ws") as other:
            assert other.recv(timeout=5).startswith("* someone joined (2 here)")
            box = browser.find_element(By.ID, "text")
            box.send_keys("hello from chromium")
            browser.find_element(By.CSS_SELECTOR, "button").click()
            assert other.recv(timeout=5) == "hello from chromium"
            other.send("hello from python")
            deadline = time.monotonic() + 10
            while True:
                texts = [e.text for e in browser.find_elements(By.CLASS_NAME, "message")]
                if "hello from python" in texts:
                    break
                assert time.monotonic() < deadline, texts
                time.sleep(0.05)
        assert "hello from chromium" in texts
