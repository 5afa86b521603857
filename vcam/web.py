"""The web preview: a page with the live picture, the overlay controls and each face's emotions.

    GET  /             the page (its CSS and JS ship in the package: vcam makes no network connection)
    GET  /video_feed   the MJPEG stream (multipart/x-mixed-replace)
    GET  /api/state    the engine's state as JSON;  POST {"overlay": bool, "placement": "face"} changes it
    POST /api/react    {"emotion": "happy"}: that emoji on the user's face for 3 s
    GET  /api/faces    the newest frame's faces as JSON
    GET  /healthz      {"ok": true} while the server runs (the one route open without the token)

Who may ask is decided in `web_access` (the per-run token, the Host and Origin rules), how it is
served in `web_server`; vcam/app.py runs it beside the engine (`PreviewServer`), for `vcam web`
and for the tray alike.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from pathlib import Path
from typing import Any

import flask
from werkzeug.exceptions import HTTPException

from vcam.choices import Placement, parse_choice
from vcam.emotions import EMOTIONS, Emotion
from vcam.engine import Engine, EngineState
from vcam.errors import VcamError
from vcam.live_settings import LIVE, LIVE_SETTINGS
from vcam.mjpeg import MIMETYPE, JpegBroadcaster
from vcam.reaction import REACTION_LABELS, REACTION_SECONDS
from vcam.shortcut import working_reaction_keys
from vcam.web_access import PreviewAccess

log = logging.getLogger("vcam")

SETTINGS = {setting.name: setting for setting in LIVE_SETTINGS if setting.on_web}
"""What POST /api/state may change."""
MAX_BODY_BYTES = 64 * 1024
"""Request bodies this long or longer are refused (413): a settings change is a few dozen bytes."""


class BadRequest(Exception):
    """A request the API refuses, with the message for the caller."""


def create_app(engine: Engine, broadcaster: JpegBroadcaster, access: PreviewAccess,
               settings_file: Path | None = None, virtual_camera: bool = False) -> flask.Flask:
    """The Flask app for one engine and its broadcaster, open to the requests `access` lets in.
    `virtual_camera`: whether this process also publishes a virtual camera (the tray does,
    `vcam web` does not), so that the page says where the picture goes."""
    app = flask.Flask(__name__, static_folder="web_static", static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES - 1  # werkzeug refuses what is over its limit
    app.json.sort_keys = False
    access.install(app)
    state_changed = threading.Condition()

    def on_state(_: EngineState) -> None:
        with state_changed:
            state_changed.notify_all()

    engine.subscribe(on_state)

    @app.get("/")
    def page() -> str:
        return flask.render_template("preview.html", state=engine.state, placements=list(Placement), emotions=EMOTIONS,
                                     faces_choices=LIVE["faces"].choices, reactions=REACTION_LABELS,
                                     reaction_keys=working_reaction_keys(engine.state.shortcut),
                                     reaction_seconds=f"{REACTION_SECONDS:g}",
                                     mirror=broadcaster.mirror, settings_file=settings_file,
                                     virtual_camera=virtual_camera)

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
        for name, value in changes.items():
            engine.change(name, value)
        # The engine applies changes between two frames; answer with the state that has them.
        with state_changed:
            applied = state_changed.wait_for(
                lambda: all(getattr(engine.state, key) == value for key, value in changes.items()), timeout=2.0)
        return state_json(engine), 200 if applied else 202

    @app.post("/api/react")
    def post_react() -> tuple[dict[str, Any], int]:
        try:
            emotion = parse_reaction(flask.request)
        except BadRequest as err:
            return error(400, str(err))
        engine.react(emotion)
        return {"reaction": str(emotion), "seconds": REACTION_SECONDS}, 202

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
            "frames_processed": engine.frames_processed, "placements": list(Placement)}


def json_object(request: flask.Request, example: str) -> dict[str, Any]:
    """The JSON object a POST sends; BadRequest says what is wrong (`example`: a body that would do).

    Only application/json is taken: a form on another web site cannot send that without the
    browser asking first (CORS), so no other site can switch the user's camera."""
    if request.mimetype != "application/json":
        raise BadRequest("send the body as JSON with Content-Type: application/json")
    body = request.get_data(as_text=True)  # a Content-Length of MAX_BODY_BYTES or more: 413 from werkzeug
    request.stream.read(1)  # a chunked body stops at the limit; werkzeug answers 413 when asked for more
    try:
        changes = json.loads(body)
    except ValueError as err:
        raise BadRequest(f"the body is not valid JSON ({err})") from None
    except RecursionError:  # [[[[…]]]] thousands deep: Python's parser gives up
        raise BadRequest("the body is nested too deeply; send a flat JSON object") from None
    if not isinstance(changes, dict):
        raise BadRequest(f"the body must be a JSON object, e.g. {example}")
    return changes


def parse_changes(request: flask.Request) -> dict[str, Any]:
    """The settings a POST /api/state asks for, checked; BadRequest says what is wrong."""
    changes = json_object(request, '{"overlay": false}')
    if not changes:
        raise BadRequest(f"nothing to change; give {' and/or '.join(SETTINGS)}")
    unknown = sorted(set(changes) - set(SETTINGS))
    if unknown:
        raise BadRequest(f"unknown setting {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    try:  # each value as its setting's type, once, here at the edge
        return {name: SETTINGS[name].parse(value) for name, value in changes.items()}
    except VcamError as err:
        raise BadRequest(str(err)) from None


def parse_reaction(request: flask.Request) -> Emotion:
    """The reaction a POST /api/react asks for; BadRequest says what is wrong."""
    asked = json_object(request, '{"emotion": "happy"}')
    if set(asked) != {"emotion"}:
        raise BadRequest('give the reaction as {"emotion": "happy"}, one of ' + ", ".join(Emotion))
    try:
        return parse_choice(Emotion, "reaction", asked["emotion"])
    except VcamError as err:
        raise BadRequest(str(err)) from None
