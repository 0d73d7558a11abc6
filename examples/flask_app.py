"""A Flask app served by greenhttp, with a streamed upload endpoint and upload progress.

Run:   greenhttp examples/flask_app.py -p 8080
       curl localhost:8080/
       curl -T big.iso 'localhost:8080/upload?X-Progress-ID=abc'      (any size, any pace)
       curl 'localhost:8080/progress?X-Progress-ID=abc'

Flask needs no changes: greenhttp is a WSGI server. The upload view reads
request.stream chunk by chunk, so a multi-gigabyte upload never sits in memory, and
chunked uploads (no Content-Length) work because greenhttp sets wsgi.input_terminated.
"""

from __future__ import annotations

import hashlib

from flask import Flask, jsonify, request

from greenhttp.progress import ProgressMiddleware

# --8<-- [start:flask]
app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(hello="from Flask on greenhttp")


@app.route("/upload", methods=["POST", "PUT"])
def upload():
    digest = hashlib.sha256()
    size = 0
    # request.stream is the raw body as it arrives; request.data would buffer all of it.
    while chunk := request.stream.read(64 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return jsonify(size=size, sha256=digest.hexdigest())


# Upload progress for any route: wrap Flask's WSGI app, keep the Flask object for routes.
app.wsgi_app = ProgressMiddleware(app.wsgi_app)  # type: ignore[method-assign]
# --8<-- [end:flask]
