"""An upload page with a live progress bar fed by the server's own count of received bytes.

Run:   greenhttp examples/upload_progress.py -p 8080   and open http://127.0.0.1:8080/
Or:    curl -T big.iso 'localhost:8080/upload?X-Progress-ID=abc' &
       curl 'localhost:8080/progress?X-Progress-ID=abc'

The page picks an ID, sends the file with it, and polls /progress for that ID. The bar
shows what the server has received (not what the browser has handed to its socket), so
it also works for plain HTML form posts, and for any client that can send a header.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable

import greenhttp
from greenhttp.progress import ProgressMiddleware

# --8<-- [start:upload]
def upload(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """Read the body as it arrives (never all in memory) and answer its size and digest."""
    digest = hashlib.sha256()
    size = 0
    for chunk in environ["greenhttp.body"]:
        digest.update(chunk)
        size += len(chunk)
    return greenhttp.respond(environ, start_response, {"size": size, "sha256": digest.hexdigest()})


def pages(environ: dict, start_response: Callable) -> Iterable[bytes]:
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if path == "/upload" and method in ("POST", "PUT"):
        return upload(environ, start_response)
    if path == "/" and method == "GET":
        body = PAGE.encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]


# The middleware tracks every request that carries an X-Progress-ID and answers
# GET /progress?X-Progress-ID=... from the same store.
app = ProgressMiddleware(pages)
# --8<-- [end:upload]

# --8<-- [start:page]
PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>greenhttp upload progress</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40em; margin: 3em auto; }
  progress { width: 100%; height: 1.5em; }
</style>
<h1>Upload a file</h1>
<form id="form">
  <input type="file" id="file" name="file" required>
  <button type="submit">Upload</button>
</form>
<progress id="bar" value="0" max="1"></progress>
<p id="status">Choose a file.</p>
<script>
const bar = document.getElementById("bar");
const status = document.getElementById("status");

function human(bytes) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return bytes.toFixed(i ? 1 : 0) + " " + units[i];
}

// Ask the server how far the upload with this ID has come, until it is done or failed.
async function poll(id) {
  const response = await fetch("/progress?X-Progress-ID=" + encodeURIComponent(id),
                               {headers: {"Accept": "application/json"}, cache: "no-store"});
  const p = await response.json();
  if (p.state === "unavailable") {
    status.textContent = "Uploading (progress unavailable)...";  // the store is down, not the upload
  } else if (p.state === "unknown" || p.state === "starting") {
    status.textContent = "Starting...";          // the upload has not reached the server yet
  } else {
    if (p.total) { bar.max = p.total; }
    bar.value = p.received;
    status.dataset.state = p.state;
    status.textContent = p.state === "error" ? "Failed: " + p.error
      : human(p.received) + (p.total ? " of " + human(p.total) : "") + " (" + p.state
        + (p.rate ? ", " + human(p.rate) + "/s" : "")
        + (p.eta !== null ? ", " + p.eta.toFixed(1) + " s left" : "") + ")";
    if (p.state === "done" || p.state === "error") { return p; }
  }
  await new Promise(resolve => setTimeout(resolve, 200));
  return poll(id);
}

document.getElementById("form").addEventListener("submit", async event => {
  event.preventDefault();
  const file = document.getElementById("file").files[0];
  const id = Date.now().toString(36) + Math.random().toString(36).slice(2);
  bar.value = 0;
  bar.max = file.size || 1;
  const sent = fetch("/upload?X-Progress-ID=" + id, {method: "POST", body: file,
                     headers: {"Content-Type": "application/octet-stream"}});
  const [final, response] = await Promise.all([poll(id), sent]);
  const result = await response.json();
  status.textContent = "Done: " + human(result.size) + ", sha256 " + result.sha256.slice(0, 16) + "...";
  status.dataset.state = final.state;
  status.dataset.sha256 = result.sha256;
});
</script>
</html>
"""
# --8<-- [end:page]
