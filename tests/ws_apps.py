"""Apps written for other servers, served unchanged by `greenhttp tests/ws_apps.py:NAME`.

GREENHTTP_TEST_NO_GEVENTWEBSOCKET=1 hides gevent-websocket, so python-engineio's gevent
driver falls back to simple-websocket (environ["werkzeug.socket"]) instead of
environ["wsgi.websocket"]: both of its paths get exercised."""

import os
import sys

if os.environ.get("GREENHTTP_TEST_NO_GEVENTWEBSOCKET"):
    sys.modules["geventwebsocket"] = None  # type: ignore[assignment]

from flask import Flask  # noqa: E402
from flask_sock import Sock  # noqa: E402
from flask_socketio import SocketIO, emit  # noqa: E402

# -- Flask-Sock ----------------------------------------------------------------------------

flask_sock_app = Flask("flask_sock_app")
sock = Sock(flask_sock_app)


@sock.route("/echo")
def echo(ws):  # type: ignore[no-untyped-def]
    while True:
        data = ws.receive()
        if data == "close":
            ws.close(reason=4000, message="bye")
            break
        ws.send(data)


@flask_sock_app.route("/")
def index():  # type: ignore[no-untyped-def]
    return "plain flask"


# -- Flask-SocketIO, async_mode="gevent" -----------------------------------------------------

socketio_flask = Flask("socketio_app")
socketio = SocketIO(socketio_flask, async_mode="gevent")


@socketio.on("echo")
def on_echo(data):  # type: ignore[no-untyped-def]
    emit("echoed", {"data": data, "transport": _transport()})


def _transport() -> str:
    from flask import request

    eio_sid = socketio.server.manager.eio_sid_from_sid(request.sid, "/")
    return socketio.server.eio.transport(eio_sid)  # type: ignore[no-any-return]


socketio_app = socketio_flask


# -- greenhttp's own API, for tests that need the server in its own process ------------------

from greenhttp.websocket import endpoint  # noqa: E402


@endpoint
def greenhttp_echo(ws):  # type: ignore[no-untyped-def]
    for message in ws:
        ws.send(f"got {len(message)}")
