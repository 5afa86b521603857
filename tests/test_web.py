"""The web preview, end to end: a real werkzeug server on loopback, the real engine playing the test
clip as its camera, and the page driven in a real headless Chromium (Debian's chromium and
chromium-driver, through Selenium)."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
from waiting import wait_until

from vcam.app import PreviewServer, serve_web
from vcam.config import Config
from vcam.emotions import EMOTIONS
from vcam.engine import Engine
from vcam.errors import VcamError
from vcam.mjpeg import JpegBroadcaster
from vcam.placeholder import BACKGROUND
from vcam.web import MAX_BODY_BYTES, create_app
from vcam.web_access import PreviewAccess
from vcam.web_server import WebServer

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = next((path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))), None)
CHROMEDRIVER = shutil.which("chromedriver")


def new_threads(before: set[threading.Thread]) -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread not in before]


def client_for(access: PreviewAccess) -> requests.Session:
    """An HTTP client that passes the preview's token as a script would: in a header."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {access.token}"
    return session


@dataclass
class Preview:
    engine: Engine
    broadcaster: JpegBroadcaster
    server: WebServer
    access: PreviewAccess

    @property
    def url(self) -> str:
        """The server's root, without the token."""
        return self.server.url

    @property
    def page_url(self) -> str:
        """The URL vcam prints: the root with the token."""
        return self.access.page_url(self.server.url)

    @property
    def api(self) -> requests.Session:
        return client_for(self.access)


def start_preview(camera: str) -> Preview:
    engine = Engine(Config(camera=camera)).start()
    broadcaster = JpegBroadcaster().start()
    engine.add_sink(broadcaster)
    access = PreviewAccess.for_host("127.0.0.1")
    app = create_app(engine, broadcaster, access)
    # A short write timeout, so that the test of a client that stops reading need not wait long.
    server = WebServer(app, "127.0.0.1", port=0, write_timeout=2.0).start()
    return Preview(engine, broadcaster, server, access)


def stop_preview(preview: Preview) -> None:
    preview.broadcaster.close()
    preview.server.stop()
    preview.engine.stop()


@pytest.fixture(scope="module")
def preview(media: Path):
    running = start_preview(str(media / "short_hamilton_clip.mp4"))
    wait_until(lambda: running.engine.state.camera_ok and running.engine.frames_processed > 5,
               message="the clip to play")
    yield running
    stop_preview(running)


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM and CHROMEDRIVER, "needs Chromium and its driver: apt-get install chromium chromium-driver"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, preview):
    """The preview page, freshly loaded; left on a blank page afterwards so that its stream ends."""
    browser.get(preview.page_url)
    yield browser
    browser.get("about:blank")
    assert preview.broadcaster.wait_for_clients(0), "the page's stream did not end when the page was left"


def web_wait(driver, condition, timeout: float = 15.0, message: str = ""):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition, message)


def element(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


FIRST_FACE = """
const face = document.querySelector("#faces .face");
if (!face) return null;
const rows = [...face.querySelectorAll(".bar-row")];
return {title: face.querySelector(".face-title").textContent,
        labels: rows.map((row) => row.querySelector("span").textContent),
        widths: rows.map((row) => row.querySelector(".bar").getBoundingClientRect().width),
        shown: face.querySelectorAll(".bar-row.shown").length};
"""


# --- the page in a browser -------------------------------------------------------------------------


def test_start_shows_the_live_picture(page, preview, tmp_path):
    assert page.title == "vcam preview"
    image = element(page, "preview")
    assert not image.is_displayed() and preview.broadcaster.clients == 0  # nothing streams before Start
    element(page, "start").click()
    web_wait(page, lambda d: d.execute_script("const i = arguments[0]; return i.complete && i.naturalWidth > 0;", image),
             message="the stream to show a frame")
    assert image.is_displayed()
    assert page.execute_script("return arguments[0].naturalWidth;", image) == 640  # the clip's frame
    assert preview.broadcaster.clients == 1
    frames_seen = preview.broadcaster.encodes
    wait_until(lambda: preview.broadcaster.encodes > frames_seen + 10, message="the stream to move")

    # The screenshot is the README's picture: wait for a face in the panel, so that it shows one.
    web_wait(page, lambda d: d.execute_script(FIRST_FACE), message="a face in the panel")
    screenshot = tmp_path / "web-preview.png"
    page.save_screenshot(str(screenshot))
    picture = cv2.imdecode(np.frombuffer(image.screenshot_as_png, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[0] > 100 and picture.shape[1] > 200
    assert picture.std() > 25, "the picture area is blank"
    print(f"\nscreenshot of the preview page: {screenshot}")
    if os.environ.get("VCAM_WRITE_DOCS"):  # VCAM_WRITE_DOCS=1 refreshes the README's picture
        shutil.copyfile(screenshot, REPO / "docs" / "web-preview.png")

    element(page, "start").click()  # Stop: the browser closes the stream, the server lets it go
    assert preview.broadcaster.wait_for_clients(0)
    assert not image.is_displayed()


EMBEDDED = """
const image = document.getElementById("embedded");
return image.complete || image.naturalWidth > 0 ? image.naturalWidth : null;
"""


@contextlib.contextmanager
def another_site(html: str):
    """A page served at http://localhost:PORT/: another site than the preview's 127.0.0.1 (a
    site is the host name, whatever the port), as a web page the user visits would be."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_printed_url_opens_the_page_and_another_site_cannot_embed_the_stream(page, preview):
    assert page.current_url == preview.url  # the cookie carries the token; the address bar does not show it
    # Another site's page pointing an <img> at the stream: the browser holds the preview's
    # cookie, but SameSite=Strict keeps it from being sent, and there is no token.
    with another_site(f"<img id='embedded' src='{preview.url}video_feed'>") as elsewhere:
        page.get(elsewhere)
        assert web_wait(page, lambda d: [d.execute_script(EMBEDDED)] if d.execute_script(EMBEDDED) is not None else None,
                        message="the embedded image to fail or load") == [0]
    # The same <img> with the token does show the stream: the refusal above is the token's doing.
    with another_site(f"<img id='embedded' src='{preview.url}video_feed?token={preview.access.token}'>") as elsewhere:
        page.get(elsewhere)
        assert web_wait(page, lambda d: d.execute_script(EMBEDDED), message="the embedded stream to load") == 640
        page.get("about:blank")


def test_overlay_switch_and_placement_change_the_engine(page, preview):
    from selenium.webdriver.support.ui import Select

    switch = element(page, "overlay")
    assert switch.is_selected() and preview.engine.state.overlay
    switch.click()
    wait_until(lambda: preview.api.get(preview.url + "api/state").json()["overlay"] is False,
               message="GET /api/state to show the overlay off")
    assert preview.engine.state.overlay is False
    switch.click()
    wait_until(lambda: preview.engine.state.overlay, message="the overlay to come back on")

    Select(element(page, "placement")).select_by_value("corner")
    wait_until(lambda: preview.api.get(preview.url + "api/state").json()["placement"] == "corner",
               message="the placement to change")
    assert preview.engine.state.placement == "corner"
    Select(element(page, "placement")).select_by_value("face")
    wait_until(lambda: preview.engine.state.placement == "face", message="the placement to change back")
    assert element(page, "error").is_displayed() is False


def test_the_page_chooses_whose_faces_and_sends_a_reaction(page, preview):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(element(page, "faces-choice")).select_by_value("only_me")
    wait_until(lambda: preview.engine.state.faces == "only_me", message="only me")
    Select(element(page, "faces-choice")).select_by_value("everyone")
    wait_until(lambda: preview.engine.state.faces == "everyone", message="everyone again")
    buttons = page.find_elements(By.CSS_SELECTOR, "button.react")
    assert [button.text for button in buttons] == ["😀", "😮", "😢", "😠", "😨", "🤢", "😐"]
    reaction = preview.engine.pipeline.reaction
    wait_until(lambda: reaction.current is None, message="an earlier reaction to end")
    buttons[1].click()
    wait_until(lambda: reaction.current == "surprise", message="the reaction in the pipeline")
    assert element(page, "error").is_displayed() is False


def test_faces_panel_names_an_emotion_with_a_bar_chart(page):
    # Read in one script: the panel is redrawn twice a second, so elements found earlier go stale.
    face = web_wait(page, lambda d: (f := d.execute_script(FIRST_FACE)) and any(e in f["title"] for e in EMOTIONS) and f,
                    message="a face with its emotion")
    assert face["title"].startswith("Face ")
    assert face["labels"] == list(EMOTIONS)
    assert max(face["widths"]) > 0 and len(set(face["widths"])) > 1  # bars that differ: a chart, not blanks
    assert face["shown"] == 1


def test_an_unavailable_camera_shows_the_problem_instead_of_a_picture(browser):
    broken = start_preview("/nonexistent.mp4")
    try:
        wait_until(lambda: "does not exist" in broken.engine.state.camera_message, message="the camera to fail")
        browser.get(broken.page_url)
        problem = element(browser, "camera-problem")
        web_wait(browser, lambda d: problem.is_displayed() and "does not exist" in problem.text,
                 message="the problem text")
        assert "/nonexistent.mp4" in problem.text
        element(browser, "start").click()
        assert not element(browser, "preview").is_displayed()  # no broken image
        state = broken.api.get(broken.url + "api/state").json()
        assert state["camera_ok"] is False and "does not exist" in state["camera_message"]
    finally:
        browser.get("about:blank")
        stop_preview(broken)


# --- the stream over plain HTTP ----------------------------------------------------------------------


class StreamClient:
    """A /video_feed client on a thread of its own that counts the frames it receives."""

    def __init__(self, preview: Preview) -> None:
        self._address = preview.url.split("//")[1].rstrip("/").rsplit(":", 1)
        self._token = preview.access.token
        self._stop = threading.Event()
        self.frames = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StreamClient:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive()

    def _run(self) -> None:
        host, port = self._address
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", "/video_feed", headers={"Authorization": f"Bearer {self._token}"})
            response = connection.getresponse()
            assert response.status == 200
            tail = b""
            while not self._stop.is_set():
                data = tail + response.read1(65536)
                self.frames += data.count(b"--frame\r\n")
                tail = data[-10:]
                if tail.find(b"--frame\r\n") >= 0:  # counted already: do not count it twice
                    tail = b""
        finally:
            connection.close()


def pipeline_rate(preview: Preview, seconds: float) -> tuple[float, int, int]:
    """Frames per second through the pipeline over `seconds`, and the frames published and
    encoded meanwhile."""
    engine, broadcaster = preview.engine, preview.broadcaster
    start = (time.monotonic(), engine.frames_processed, broadcaster.frames_published, broadcaster.encodes)
    time.sleep(seconds)  # the measurement window itself, not a wait for something to happen
    end = (time.monotonic(), engine.frames_processed, broadcaster.frames_published, broadcaster.encodes)
    return (end[1] - start[1]) / (end[0] - start[0]), end[2] - start[2], end[3] - start[3]


@pytest.mark.slow
def test_five_clients_do_not_slow_the_pipeline_and_share_one_encode(preview):
    with StreamClient(preview) as single:
        assert preview.broadcaster.wait_for_clients(1)
        wait_until(lambda: single.frames > 5, message="the first client's frames")
        one_rate, _, _ = pipeline_rate(preview, 5.0)
    assert preview.broadcaster.wait_for_clients(0)

    clients = [StreamClient(preview) for _ in range(5)]
    for client in clients:
        client.__enter__()
    try:
        assert preview.broadcaster.wait_for_clients(5)
        wait_until(lambda: all(client.frames > 5 for client in clients), message="every client's frames")
        received = [client.frames for client in clients]
        five_rate, published, encodes = pipeline_rate(preview, 10.0)
        received = [client.frames - before for client, before in zip(clients, received)]
        engine_fps = preview.engine.fps
    finally:
        for client in clients:
            client.__exit__()
    print(f"\npipeline: {one_rate:.1f} fps with one client, {five_rate:.1f} fps with five "
          f"(engine.fps {engine_fps:.1f}); {published} frames published, {encodes} encoded; received {received}")
    assert one_rate > 20  # the clip plays at 29.97 fps
    assert five_rate == pytest.approx(one_rate, rel=0.10)
    assert engine_fps == pytest.approx(one_rate, rel=0.10)
    assert 0.9 * published <= encodes <= published  # once per frame, not once per client
    assert min(received) >= 0.8 * encodes  # every client keeps up on loopback
    assert preview.broadcaster.wait_for_clients(0)


@pytest.mark.slow
def test_a_client_that_stops_reading_is_dropped_and_the_others_keep_receiving(preview):
    threads_before = set(threading.enumerate())
    with StreamClient(preview) as reader:
        assert preview.broadcaster.wait_for_clients(1)
        threads_with_reader = set(threading.enumerate())
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills after a frame or two
        host, port = preview.url.split("//")[1].rstrip("/").rsplit(":", 1)
        stalled.connect((host, int(port)))
        stalled.sendall(f"GET /video_feed?token={preview.access.token} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                        .encode())  # and never reads
        try:
            assert preview.broadcaster.wait_for_clients(2)
            frames_before = reader.frames
            encodes_before = preview.broadcaster.encodes
            # The server's write to it blocks once the socket buffers are full, times out
            # (write_timeout 2 s) and the stream is closed: the client count goes back down.
            assert preview.broadcaster.wait_for_clients(1, timeout=30), "the stalled client was never dropped"
            encoded = preview.broadcaster.encodes - encodes_before
            assert encoded > 30
            assert reader.frames - frames_before >= 0.8 * encoded  # the reader never waited for it
            wait_until(lambda: new_threads(threads_with_reader) == [],
                       message="the stalled client's server thread to end")
        finally:
            stalled.close()
    assert preview.broadcaster.wait_for_clients(0)
    wait_until(lambda: new_threads(threads_before) == [], message="every stream's thread to end")


# --- the API -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("route", "body", "message"), [
    ("api/state", "{not json", "not valid JSON"),
    ("api/state", "[true]", "must be a JSON object"),
    ("api/state", "{}", "nothing to change"),
    ("api/state", '{"overlay": false, "brightness": 3}', "unknown setting brightness"),
    ("api/state", '{"placement": "ceiling"}', "unknown placement 'ceiling'"),
    ("api/state", '{"overlay": "off"}', "overlay must be true or false"),
    ("api/state", '{"placement": 2}', "placement must be a string"),
    ("api/react", "[1]", "must be a JSON object"),
    ("api/react", "{}", 'give the reaction as {"emotion": "happy"}'),
    ("api/react", '{"emotion": "wink"}', "unknown reaction 'wink'; choose one of angry"),
    ("api/react", '{"emotion": 3}', "unknown reaction 3"),
])
def test_bad_settings_and_reactions_are_refused_with_a_message(preview, route, body, message):
    before = preview.engine.state
    response = preview.api.post(preview.url + route, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert preview.engine.state == before


def test_settings_must_come_as_json(preview):
    response = preview.api.post(preview.url + "api/state", data="overlay=false",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and "application/json" in response.json()["error"]
    assert preview.engine.state.overlay is True


def test_post_answers_with_the_changed_state(preview):
    response = preview.api.post(preview.url + "api/state", json={"overlay": False, "placement": "badge"})
    try:
        assert response.status_code == 200
        assert response.json()["overlay"] is False and response.json()["placement"] == "badge"
        assert preview.engine.state.overlay is False and preview.engine.state.placement == "badge"
    finally:
        preview.api.post(preview.url + "api/state", json={"overlay": True, "placement": "face"}).raise_for_status()


def test_state_faces_and_health_are_json(preview):
    state = preview.api.get(preview.url + "api/state").json()
    assert state["running"] and state["camera_ok"] and state["fps"] > 20
    assert set(state) >= {"overlay", "placement", "faces", "shortcut", "shortcut_error", "camera_ok", "camera_message",
                          "fps", "placements"}
    faces = preview.api.get(preview.url + "api/faces").json()
    assert faces["emotions"] == list(EMOTIONS) and faces["frame"] > 0
    for face in faces["faces"]:
        # The frame's own reading, when the face was classified on it; the average the emoji follows, always.
        assert face["probabilities"] is None or set(face["probabilities"]) == set(EMOTIONS)
        assert set(face["smoothed"]) == set(EMOTIONS) and len(face["box"]) == 4
        assert isinstance(face["unsure"], bool) and (face["emotion"] == "neutral" or not face["unsure"])
        assert isinstance(face["too_small"], bool) and (face["unsure"] or not face["too_small"])
    assert requests.get(preview.url + "healthz").json()["ok"] is True


def test_unknown_route_is_a_json_404(preview):
    response = preview.api.get(preview.url + "no/such/page")
    assert response.status_code == 404
    assert response.json() == {"error": "no such page: /no/such/page"}
    assert preview.api.delete(preview.url + "api/state").status_code == 405


def test_other_host_names_are_refused(preview):
    # A web page that rebinds its own name to 127.0.0.1 must not be able to read the camera.
    response = preview.api.get(preview.url + "api/state", headers={"Host": "attacker.example"})
    assert response.status_code == 400


def test_the_page_fetches_nothing_from_the_network(preview):
    html = preview.api.get(preview.url).text
    assert "http://" not in html and "https://" not in html and "//" not in html.replace("<!--", "")
    for asset in ("static/preview.js", "static/preview.css"):
        response = preview.api.get(preview.url + asset)
        assert response.status_code == 200
        assert "http://" not in response.text and "https://" not in response.text


# --- the server's life -------------------------------------------------------------------------------


def test_stop_ends_open_streams_and_leaves_no_thread(preview):
    threads_before = set(threading.enumerate())
    broadcaster = JpegBroadcaster().start()
    preview.engine.add_sink(broadcaster)
    access = PreviewAccess.for_host("127.0.0.1")
    server = WebServer(create_app(preview.engine, broadcaster, access), port=0).start()
    host, port = "127.0.0.1", server.port
    response = client_for(access).get(server.url + "video_feed", stream=True, timeout=10)
    assert next(response.iter_content(1024)).startswith(b"--frame")
    server.stop()  # the stream is still open: stop must end it, not wait for the client
    preview.engine.remove_sink(broadcaster)
    broadcaster.close()
    response.close()
    assert new_threads(threads_before) == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=2)


def test_a_port_in_use_is_a_one_line_error(preview, media):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(VcamError, match=f"port {port} on 127.0.0.1 is already in use.*--port"):
            WebServer(create_app(preview.engine, preview.broadcaster, preview.access), port=port).start()
        with pytest.raises(VcamError, match="already in use"):
            serve_web(Config(camera=str(media / "short_hamilton_clip.mp4")), port=port)


def test_serving_beyond_loopback_warns_that_the_camera_is_visible(preview, caplog):
    with WebServer(create_app(preview.engine, preview.broadcaster, PreviewAccess.for_host("0.0.0.0")), host="0.0.0.0",
                   port=0) as server:
        assert requests.get(server.url + "healthz").status_code == 200
    assert "anyone on the network" in caplog.text
    caplog.clear()
    with WebServer(create_app(preview.engine, preview.broadcaster, preview.access), port=0):
        pass
    assert "anyone on the network" not in caplog.text


def test_serve_runs_until_stopped(media, capsys):
    with socket.socket() as probe:  # a port that is free now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    opencv_threads = cv2.getNumThreads()
    cv2.setNumThreads(2)
    stop = threading.Event()
    outcome: list[int] = []
    runner = threading.Thread(target=lambda: outcome.append(
        serve_web(Config(camera=str(media / "short_hamilton_clip.mp4")), port=port, stop=stop)))
    runner.start()
    url = f"http://127.0.0.1:{port}/"
    try:
        def camera_ok() -> bool:
            try:
                return requests.get(url + "healthz", timeout=2).json()["camera_ok"]
            except requests.ConnectionError:
                return False

        wait_until(camera_ok, timeout=20, message="vcam web to serve the clip")
        assert cv2.getNumThreads() == 1  # the live app spends no CPU on OpenCV's worker threads
        printed = ""

        def printed_url() -> bool:
            nonlocal printed
            printed += capsys.readouterr().out
            return "preview at" in printed

        wait_until(printed_url, message="the printed URL")
        token = re.search(rf"preview at {re.escape(url)}\?token=([\w-]+) ", printed)[1]
        response = requests.get(url + "video_feed", params={"token": token}, stream=True, timeout=10)
        assert next(response.iter_content(1024)).startswith(b"--frame")
    finally:
        stop.set()
        runner.join(15)
        cv2.setNumThreads(opencv_threads)
    response.close()
    assert not runner.is_alive() and outcome == [0]
    assert capsys.readouterr().out == "vcam: preview stopped\n"


def test_preview_server_starts_once_inside_another_process(preview):
    config = Config(camera="unused.mp4", mirror_preview=False)
    preview_server = PreviewServer(preview.engine, config, port=0)
    try:
        page_url = preview_server.ensure_started()
        assert preview_server.ensure_started() == page_url
        url, token = page_url.split("?token=")
        response = requests.get(url + "video_feed", params={"token": token}, stream=True, timeout=10)
        assert next(response.iter_content(1024)).startswith(b"--frame")
        response.close()
        assert json.loads(requests.get(url + "api/state", params={"token": token}).text)["camera_ok"] is True
    finally:
        preview_server.stop()
    assert preview_server.url is None
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "healthz", timeout=2)


# --- who may ask: token, cookie, Origin, Host ----------------------------------------------------------


def test_without_the_token_every_route_but_healthz_is_refused(preview):
    for path in ("", "video_feed", "api/state", "api/faces", "static/preview.js", "no/such/page"):
        response = requests.get(preview.url + path, timeout=10)
        assert response.status_code == 401, path
        assert "needs its token" in response.json()["error"]
    response = requests.post(preview.url + "api/state", json={"overlay": False})
    assert response.status_code == 401 and preview.engine.state.overlay is True
    assert requests.get(preview.url + "healthz").json()["ok"] is True


def test_a_wrong_token_is_refused_in_the_query_the_header_and_the_cookie(preview):
    token = preview.access.token
    wrong = ("y" if token[0] == "x" else "x") + token[1:]  # one character off, whatever the random token's first
    port = preview.server.port
    for kwargs in ({"params": {"token": wrong}}, {"headers": {"Authorization": f"Bearer {wrong}"}},
                   {"cookies": {f"vcam_preview_{port}": wrong}}):
        response = requests.get(preview.url + "api/state", timeout=10, **kwargs)
        assert response.status_code == 403 and "wrong token" in response.json()["error"], kwargs
    assert PreviewAccess.for_host("127.0.0.1").token != preview.access.token  # a new secret for every run


def test_scripts_pass_the_token_as_a_query_parameter_or_a_header(preview):
    token = preview.access.token
    assert len(token) >= 22  # 16 random bytes, URL-safe base64
    by_query = requests.get(preview.url + "api/state", params={"token": token})
    by_header = requests.get(preview.url + "api/state", headers={"Authorization": f"Bearer {token}"})
    assert by_query.status_code == by_header.status_code == 200
    assert by_query.json()["running"] and by_header.json()["running"]
    stream = requests.get(preview.url + "video_feed", params={"token": token}, stream=True, timeout=10)
    assert next(stream.iter_content(1024)).startswith(b"--frame")
    stream.close()


def test_opening_the_printed_url_sets_a_private_cookie_and_drops_the_token_from_the_address(preview):
    browser = requests.Session()  # keeps cookies as a browser does
    response = browser.get(preview.page_url, allow_redirects=False)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"vcam_preview_{preview.server.port}={preview.access.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    page = browser.get(preview.url)
    assert page.status_code == 200 and "<title>vcam preview</title>" in page.text
    assert browser.get(preview.url + "api/state").json()["running"]  # the cookie alone lets it in


def test_a_change_from_another_origin_is_refused(preview):
    for origin in ("http://attacker.example", "null", f"http://localhost:{preview.server.port + 1}"):
        response = preview.api.post(preview.url + "api/state", json={"overlay": False}, headers={"Origin": origin})
        assert response.status_code == 403 and origin in response.json()["error"]
        assert preview.engine.state.overlay is True
    own = preview.url.rstrip("/")
    response = preview.api.post(preview.url + "api/state", json={"overlay": False}, headers={"Origin": own})
    try:
        assert response.status_code == 200 and preview.engine.state.overlay is False
    finally:
        preview.api.post(preview.url + "api/state", json={"overlay": True}).raise_for_status()


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8765", "127.0.0.1.attacker.example",
                                  "localhost.attacker.example", "[::2]", ""])
def test_dns_rebinding_hosts_are_refused_even_with_the_token(preview, host):
    # A web page that rebinds its own name to 127.0.0.1 sends its own name as Host.
    response = preview.api.get(preview.url + "video_feed", headers={"Host": host}, stream=True, timeout=10)
    assert response.status_code == 400
    assert "answers only to" in response.json()["error"]
    assert preview.api.get(preview.url + "api/state", headers={"Host": "localhost"}).status_code == 200


def test_a_deeply_nested_body_is_a_400_and_the_stream_keeps_running(preview):
    with StreamClient(preview) as watcher:
        wait_until(lambda: watcher.frames > 2, message="the stream")
        for body in ("[" * 100_000, '{"overlay": ' + "[" * 30_000 + "]" * 30_000 + "}"):
            response = preview.api.post(preview.url + "api/state", data=body[:MAX_BODY_BYTES - 1],
                                        headers={"Content-Type": "application/json"})
            assert response.status_code == 400, response.text
            assert "nested too deeply" in response.json()["error"]
        seen = watcher.frames
        wait_until(lambda: watcher.frames > seen + 5, message="the stream to keep running")
    assert preview.api.get(preview.url + "healthz").json()["running"]


def test_a_body_over_the_limit_is_a_413(preview):
    big = json.dumps({"overlay": False, "padding": "x" * MAX_BODY_BYTES})
    response = preview.api.post(preview.url + "api/state", data=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "error" in response.json()

    def chunks():  # no Content-Length: the limit must hold while reading
        yield b'{"overlay": false, "padding": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    response = preview.api.post(preview.url + "api/state", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert preview.engine.state.overlay is True
    assert preview.api.get(preview.url + "api/state").status_code == 200


STUB_BROWSER = """#!/bin/sh
# A browser that records the arguments it was given, and every process's arguments as it starts.
printf '%s\\n' "$@" > "$0.args"
cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' > "$0.everyone"
mv "$0.args" "$0.done"
"""


@pytest.fixture
def stub_browser(tmp_path: Path, monkeypatch) -> Path:
    """A recording browser given through BROWSER, and a private runtime folder of the test's own."""
    import webbrowser

    stub = tmp_path / "browser"
    stub.write_text(STUB_BROWSER)
    stub.chmod(0o700)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("BROWSER", str(stub))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    webbrowser.register_standard_browsers()  # read BROWSER afresh, as a new process would
    yield stub
    monkeypatch.undo()
    webbrowser.register_standard_browsers()


def test_open_preview_puts_the_token_in_no_process_arguments(preview, stub_browser: Path):
    from vcam.tray_menu import TrayControls

    controls = TrayControls(preview.engine, open_preview=lambda: preview.page_url, cameras=[])  # the real browse
    assert controls.on_preview() == preview.page_url
    done = stub_browser.with_name("browser.done")
    wait_until(done.exists, message="the browser to start")
    (argument,) = done.read_text().splitlines()
    assert argument.startswith("file://") and preview.access.token not in argument
    assert preview.access.token not in stub_browser.with_name("browser.everyone").read_text()
    page = Path(argument.removeprefix("file://"))
    assert page.parent == Path(os.environ["XDG_RUNTIME_DIR"]) / "vcam"
    assert (page.stat().st_mode & 0o777, page.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    assert f'content="0;url={preview.page_url}"' in page.read_text()


@pytest.mark.slow
def test_the_redirect_page_opens_the_preview_in_a_real_browser(browser, preview, tmp_path: Path, monkeypatch):
    from vcam.preview_launch import redirect_file

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    browser.get(redirect_file(preview.page_url).as_uri())
    try:
        web_wait(browser, lambda driver: driver.current_url == preview.url, message="the forward to the preview")
        assert "<title>vcam preview</title>" in browser.page_source
        assert browser.execute_script("return fetch('/api/state').then(answer => answer.status)") == 200  # the cookie
    finally:
        browser.get("about:blank")


def test_connections_past_the_cap_are_closed_and_idle_ones_time_out(preview):
    app = create_app(preview.engine, preview.broadcaster, preview.access)
    with WebServer(app, port=0, write_timeout=1.0, max_connections=4) as server:
        address = ("127.0.0.1", server.port)
        idle = [socket.create_connection(address, timeout=10) for _ in range(4)]
        try:
            with socket.create_connection(address, timeout=10) as extra:
                assert extra.recv(1) == b""  # closed at once: no fifth thread
            started = time.monotonic()
            assert [connection.recv(1) for connection in idle] == [b""] * 4  # no request in time: dropped
            assert time.monotonic() - started < 8
        finally:
            for connection in idle:
                connection.close()
        wait_until(lambda: requests.get(server.url + "healthz", timeout=5).status_code == 200,
                   message="the server to take connections again")


def test_headers_that_trickle_in_are_dropped_at_their_deadline(preview, caplog):
    # One byte every 0.3 s keeps each read under the 1-s read timeout; only a deadline for the
    # whole of the headers ends it.
    app = create_app(preview.engine, preview.broadcaster, preview.access)
    with WebServer(app, port=0, write_timeout=1.0) as server, caplog.at_level("WARNING", logger="vcam"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            connection.settimeout(0.3)  # the client's pace: it waits this long for an answer between bytes
            started, closed = time.monotonic(), False
            connection.sendall(b"GET /healthz HTTP/1.1\r\n")
            for _ in range(40):  # 12 s at most
                try:
                    connection.sendall(b"X")
                    closed = connection.recv(1) == b""
                except socket.timeout:
                    continue
                except OSError:  # reset by the server
                    closed = True
                if closed:
                    break
            assert closed and time.monotonic() - started < 3, "the trickling headers were never cut off"
        assert requests.get(server.url + "healthz", timeout=5).status_code == 200  # the others are served
    assert any("headers took over 1 s" in record.getMessage() for record in caplog.records)


def test_a_connection_kept_alive_between_requests_is_not_taken_for_slow_headers(preview, caplog):
    app = create_app(preview.engine, preview.broadcaster, preview.access)
    with WebServer(app, port=0, write_timeout=1.0) as server, caplog.at_level("WARNING", logger="vcam"):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            for _ in range(2):  # the second request on the same connection, after it sat idle
                connection.request("GET", "/healthz")
                answer = connection.getresponse()
                assert answer.status == 200 and answer.read()
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
                assert idle.recv(1) == b""  # an idle connection is closed after the read timeout ...
        finally:
            connection.close()
    assert not [record for record in caplog.records if "headers took" in record.getMessage()]  # ... quietly


def test_each_kind_of_broken_request_is_logged_once(preview, caplog):
    app = create_app(preview.engine, preview.broadcaster, preview.access)
    with WebServer(app, port=0) as server, caplog.at_level("WARNING", logger="vcam"):
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
                connection.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                assert b"400" in connection.recv(4096)
    lines = [record.getMessage() for record in caplog.records if record.getMessage().startswith("preview: ")]
    assert len(lines) == 1 and "400" in lines[0], lines


def test_a_body_of_exactly_64_kib_is_a_413_and_one_byte_less_is_read(preview):
    def body(size: int) -> bytes:
        head = b'{"overlay": true, "padding": "'
        return head + b"x" * (size - len(head) - 2) + b'"}'

    headers = {"Content-Type": "application/json"}
    assert len(body(MAX_BODY_BYTES)) == MAX_BODY_BYTES == 65536
    response = preview.api.post(preview.url + "api/state", data=body(MAX_BODY_BYTES), headers=headers)
    assert response.status_code == 413 and "error" in response.json()
    response = preview.api.post(preview.url + "api/state", data=body(MAX_BODY_BYTES - 1), headers=headers)
    assert response.status_code == 400 and "unknown setting padding" in response.json()["error"]


@pytest.mark.parametrize("host", [
    pytest.param("127.0.0.2", marks=pytest.mark.skipif(sys.platform == "darwin",
                                                       reason="macOS's loopback interface has 127.0.0.1 alone")),
    "::1"])
def test_the_url_printed_for_another_loopback_address_works(preview, host):
    access = PreviewAccess.for_host(host)
    with WebServer(create_app(preview.engine, preview.broadcaster, access), host=host, port=0) as server:
        assert server.url.startswith(f"http://[{host}]:" if ":" in host else f"http://{host}:")
        browser = requests.Session()
        page = browser.get(access.page_url(server.url), timeout=10)
        assert page.status_code == 200 and "<title>vcam preview</title>" in page.text
        assert browser.get(server.url + "api/state", timeout=10).json()["running"]
        refused = browser.get(server.url + "api/state", headers={"Host": "attacker.example"}, timeout=10)
        assert refused.status_code == 400


def test_the_page_says_where_the_picture_goes(preview):
    alone = preview.api.get(preview.url).text
    assert "opens no virtual camera" in alone and "This is what the virtual camera sends" not in alone
    with WebServer(create_app(preview.engine, preview.broadcaster, preview.access, virtual_camera=True), port=0) as tray:
        beside = preview.api.get(tray.url).text
    assert "This is what the virtual camera sends" in beside and "opens no virtual camera" not in beside


def test_the_camera_unavailable_frame_reads_left_to_right_in_the_mirrored_stream():
    broken = start_preview("/nonexistent.mp4")
    try:
        wait_until(lambda: "does not exist" in broken.engine.state.camera_message, message="the camera to fail")
        assert broken.broadcaster.mirror  # the camera's picture would be mirrored
        known = broken.broadcaster.frames_published
        # The placeholder is drawn anew every half second of silence: the second one after the
        # failure was known shows its message.
        wait_until(lambda: broken.broadcaster.frames_published >= known + 2, message="the placeholder with the problem")
        response = broken.api.get(broken.url + "video_feed", stream=True, timeout=10)
        data = b""
        for chunk in response.iter_content(65536):
            data += chunk
            if data.count(b"--frame") >= 2:
                break
        response.close()
        jpeg = data.split(b"\r\n\r\n", 1)[1].split(b"\r\n--frame")[0]
        shown = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).astype(int)
        drawn = broken.engine.latest.frame
    finally:
        stop_preview(broken)
    text = (drawn != BACKGROUND).any(axis=2) | (cv2.flip(drawn, 1) != BACKGROUND).any(axis=2)
    as_drawn, mirrored = np.abs(shown - drawn)[text].mean(), np.abs(shown - cv2.flip(drawn, 1))[text].mean()
    assert text.mean() > 0.001 and as_drawn < 15 < mirrored, (as_drawn, mirrored)  # the text reads left to right


def test_a_reaction_asked_for_reaches_the_pipeline_and_faces_is_a_setting(preview):
    # The clip's people come and go (vcam/user_face.py: the user's face is waited for where it
    # was): that the reaction shows on the user's face for its time, tests/test_reaction.py measures.
    reaction = preview.engine.pipeline.reaction
    wait_until(lambda: reaction.current is None, message="an earlier reaction to end")
    response = preview.api.post(preview.url + "api/react", json={"emotion": "surprise"})
    assert response.status_code == 202 and response.json() == {"reaction": "surprise", "seconds": 3.0}
    wait_until(lambda: reaction.current == "surprise", message="the reaction in the pipeline")
    try:
        assert preview.api.post(preview.url + "api/state", json={"faces": "only_me"}).json()["faces"] == "only_me"
    finally:
        preview.api.post(preview.url + "api/state", json={"faces": "everyone"}).raise_for_status()
