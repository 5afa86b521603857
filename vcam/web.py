"""The web preview: a page with the live picture, the overlay controls and each face's emotions.

    GET  /             the page (its CSS and JS ship in the package: vcam makes no network connection)
    GET  /video_feed   the MJPEG stream (multipart/x-mixed-replace)
    GET  /api/state    the engine's state as JSON;  POST {"overlay": bool, "placement": "face"} changes it
    GET  /api/faces    the newest frame's faces as JSON
    GET  /healthz      {"ok": true} while the server runs

`vcam web` runs it on its own (`serve`); the tray opens it inside its own process (`PreviewServer`).
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import json
import logging
import socket
import threading
from pathlib import Path
from typing import Any

import flask
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, get_sockaddr, make_server, select_address_family

from vcam import EMOTIONS
from vcam.config import Config, require_choice
from vcam.engine import Engine, EngineState
from vcam.errors import UnknownChoice, VcamError
from vcam.mjpeg import MIMETYPE, JpegBroadcaster
from vcam.overlay import PLACEMENTS

log = logging.getLogger("vcam")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SETTINGS = {"overlay": bool, "placement": str}
"""What POST /api/state may change, and the JSON type of each."""


class BadRequest(Exception):
    """A request the API refuses, with the message for the caller."""


def create_app(engine: Engine, broadcaster: JpegBroadcaster, settings_file: Path | None = None,
               trusted_hosts: list[str] | None = None) -> flask.Flask:
    """The Flask app for one engine and its broadcaster. `trusted_hosts` (e.g. ["127.0.0.1",
    "localhost"]) refuses requests for any other Host, so that a web page cannot reach the
    camera through DNS rebinding; None accepts any."""
    app = flask.Flask(__name__, static_folder="web_static", static_url_path="/static")
    app.config["TRUSTED_HOSTS"] = trusted_hosts
    app.json.sort_keys = False
    state_changed = threading.Condition()

    def on_state(_: EngineState) -> None:
        with state_changed:
            state_changed.notify_all()

    engine.subscribe(on_state)

    @app.get("/")
    def page() -> str:
        return flask.render_template("preview.html", state=engine.state, placements=PLACEMENTS, emotions=EMOTIONS,
                                     mirror=broadcaster.mirror, settings_file=settings_file)

    @app.get("/video_feed")
    def video_feed() -> flask.Response:
        if broadcaster.closed:
            return error(503, "the preview is shutting down")
        return flask.Response(broadcaster.stream(), mimetype=MIMETYPE,
                              headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/api/state")
    def get_state() -> dict[str, Any]:
        return state_json(engine)

    @app.post("/api/state")
    def post_state() -> tuple[dict[str, Any], int]:
        try:
            changes = parse_changes(flask.request)
        except BadRequest as err:
            return error(400, str(err))
        if "overlay" in changes:
            engine.set_overlay(changes["overlay"])
        if "placement" in changes:
            engine.set_placement(changes["placement"])
        # The engine applies changes between two frames; answer with the state that has them.
        with state_changed:
            applied = state_changed.wait_for(
                lambda: all(getattr(engine.state, key) == value for key, value in changes.items()), timeout=2.0)
        return state_json(engine), 200 if applied else 202

    @app.get("/api/faces")
    def faces() -> dict[str, Any]:
        latest = engine.latest
        return {"frame": engine.frames_processed, "emotions": list(EMOTIONS),
                "faces": [face.to_json() for face in latest.faces] if latest else []}

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        state = engine.state
        return {"ok": True, "running": state.running, "camera_ok": state.camera_ok}

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> tuple[flask.Response, int]:
        message = f"no such page: {flask.request.path}" if err.code == 404 else err.description
        return error(err.code or 500, message)

    return app


def error(status: int, message: str) -> tuple[flask.Response, int]:
    return flask.jsonify(error=message), status


def state_json(engine: Engine) -> dict[str, Any]:
    return {**dataclasses.asdict(engine.state), "fps": round(engine.fps, 2),
            "frames_processed": engine.frames_processed, "placements": list(PLACEMENTS)}


def parse_changes(request: flask.Request) -> dict[str, Any]:
    """The settings a POST /api/state asks for, checked; BadRequest says what is wrong.

    Only application/json is taken: a form on another web site cannot send that without the
    browser asking first (CORS), so no other site can switch the user's camera."""
    if request.mimetype != "application/json":
        raise BadRequest("send the settings as JSON with Content-Type: application/json")
    try:
        changes = json.loads(request.get_data(as_text=True))
    except ValueError as err:
        raise BadRequest(f"the body is not valid JSON ({err})") from None
    if not isinstance(changes, dict):
        raise BadRequest('the body must be a JSON object, e.g. {"overlay": false}')
    if not changes:
        raise BadRequest(f"nothing to change; give {' and/or '.join(SETTINGS)}")
    unknown = sorted(set(changes) - set(SETTINGS))
    if unknown:
        raise BadRequest(f"unknown setting {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    for key, kind in SETTINGS.items():
        if key in changes and not isinstance(changes[key], kind):
            raise BadRequest(f"{key} must be {'true or false' if kind is bool else 'a string'}, "
                             f"not {json.dumps(changes[key])}")
    if "placement" in changes:
        try:
            require_choice("placement", changes["placement"], PLACEMENTS)
        except UnknownChoice as err:
            raise BadRequest(str(err)) from None
    return changes


# --- the HTTP server ---------------------------------------------------------------------------


class _Connections:
    """The open connections and the threads that serve them, so that stop() can end them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[socket.socket, threading.Thread] = {}

    def add(self, connection: socket.socket) -> None:
        with self._lock:
            self._open[connection] = threading.current_thread()

    def remove(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.pop(connection, None)

    def close_all(self, timeout: float) -> None:
        with self._lock:
            items = list(self._open.items())
        for connection, _ in items:
            try:
                connection.shutdown(socket.SHUT_RDWR)  # a blocked read or write fails at once
            except OSError:
                pass
        for _, thread in items:
            thread.join(timeout)


class _RequestHandler(WSGIRequestHandler):
    connections: _Connections
    timeout = 10.0
    """Seconds a read or write may block: a client that stops reading is dropped after this."""

    def setup(self) -> None:
        super().setup()
        self.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.connections.remove(self.connection)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the page polls twice a second: a line per request would bury vcam's own news


class WebServer:
    """A threaded werkzeug server on a thread of its own: `WebServer(app, port=0).start().url`."""

    def __init__(self, app: flask.Flask, host: str = "127.0.0.1", port: int = 8765,
                 write_timeout: float = 10.0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.write_timeout = write_timeout
        self._connections = _Connections()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebServer:
        if self._server is not None:
            return self
        if not is_local(self.host):
            log.warning("serving the preview on %s: anyone on the network who can reach this machine can watch "
                        "the camera; use --host 127.0.0.1 to keep it private", self.host)
        handler = type("PreviewRequestHandler", (_RequestHandler,),
                       {"connections": self._connections, "timeout": self.write_timeout})
        check_port_free(self.host, self.port)
        try:
            self._server = make_server(self.host, self.port, self.app, threaded=True, request_handler=handler)
        except SystemExit:  # werkzeug exits on a bind error; one taken since check_port_free
            raise VcamError(f"cannot serve on {self.host}:{self.port}; pick another port with --port") from None
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="vcam-web", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}/" if ":" in host else f"http://{host}:{self.port}/"

    def stop(self) -> None:
        """Stop taking requests, end the open ones (streams included) and wait for their threads."""
        if self._server is None:
            return
        self._server.shutdown()
        self._connections.close_all(timeout=self.write_timeout)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def trusted_hosts_for(host: str) -> list[str] | None:
    """The Host headers to accept: the loopback names when serving on loopback, any otherwise."""
    return ["127.0.0.1", "localhost", "[::1]", "::1"] if is_local(host) else None


def check_port_free(host: str, port: int) -> None:
    """VcamError, with the fix, when `host:port` cannot be served on. Checked with a socket of
    our own first, because werkzeug's make_server ends the process when its bind fails."""
    if port == 0:
        return
    family = select_address_family(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's own socket
        try:
            probe.bind(get_sockaddr(host, port, family))
        except OSError as err:
            raise VcamError(port_problem(host, port, err)) from None


def port_problem(host: str, port: int, err: OSError) -> str:
    if err.errno in (errno.EADDRINUSE, 10048):  # 10048: WSAEADDRINUSE on Windows
        return (f"port {port} on {host} is already in use (another vcam web?); stop that program "
                f"or pick another port with --port")
    if err.errno in (errno.EACCES, 10013):
        return f"no permission to serve on port {port}; pick a port above 1024 with --port"
    return f"cannot serve on {host}:{port} ({err.strerror or err}); check --host and --port"


# --- running it ----------------------------------------------------------------------------------


class PreviewServer:
    """The preview inside another vcam process (the tray): started on first use, its broadcaster
    fed by that process's engine. `url = preview.ensure_started(); webbrowser.open(url)`."""

    def __init__(self, engine: Engine, config: Config, settings_file: Path | None = None,
                 host: str = "127.0.0.1", port: int = 8765) -> None:
        self.engine = engine
        self.config = config
        self.settings_file = settings_file
        self.host, self.port = host, port
        self._lock = threading.Lock()
        self._broadcaster: JpegBroadcaster | None = None
        self._server: WebServer | None = None

    def ensure_started(self) -> str:
        """The preview's URL, starting it the first time. If the port is taken it takes any free one."""
        with self._lock:
            if self._server is None:
                broadcaster = JpegBroadcaster(mirror=self.config.mirror_preview).start()
                app = create_app(self.engine, broadcaster, self.settings_file, trusted_hosts_for(self.host))
                try:
                    try:
                        server = WebServer(app, self.host, self.port).start()
                    except VcamError as err:
                        log.info("%s; using a free port instead", err)
                        server = WebServer(app, self.host, 0).start()
                except BaseException:
                    broadcaster.close()
                    raise
                self.engine.add_sink(broadcaster)
                self._broadcaster, self._server = broadcaster, server
            return self._server.url

    @property
    def url(self) -> str | None:
        return self._server.url if self._server else None

    def stop(self) -> None:
        with self._lock:
            if self._broadcaster is not None:
                self.engine.remove_sink(self._broadcaster)
                self._broadcaster.close()
            if self._server is not None:
                self._server.stop()
            self._broadcaster = self._server = None


def serve(config: Config, host: str = "127.0.0.1", port: int = 8765, settings_file: Path | None = None,
          stop: threading.Event | None = None) -> int:
    """`vcam web`: the camera with emojis in the browser, until Ctrl-C (or until `stop` is set).
    No virtual camera is opened. VcamError when the port is taken."""
    stop = stop or threading.Event()
    check_port_free(host, port)  # before the models load: a taken port fails at once
    engine = Engine(config, settings_file=settings_file)
    # The engine runs before the server takes requests, so that every change comes to it as a command.
    with JpegBroadcaster(mirror=config.mirror_preview) as broadcaster, engine:
        engine.add_sink(broadcaster)
        app = create_app(engine, broadcaster, settings_file, trusted_hosts_for(host))
        with WebServer(app, host, port) as server:
            print(f"vcam: preview at {server.url} — open it in a browser and press Start; Ctrl-C stops", flush=True)
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
            broadcaster.close()  # ends the open streams before the server waits for their threads
    print("vcam: preview stopped")
    return 0
