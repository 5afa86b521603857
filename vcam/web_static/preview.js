// vcam's preview page: starts the MJPEG stream, sends the controls to /api/state and polls
// /api/state and /api/faces to show the camera's health and each face's emotions.
"use strict";

const $ = (id) => document.getElementById(id);
const picture = { streaming: false, cameraOk: $("camera-problem").hidden };

function showPicture() {
  $("preview").hidden = !(picture.streaming && picture.cameraOk);
  $("idle").hidden = picture.streaming || !picture.cameraOk;
  $("camera-problem").hidden = picture.cameraOk;
}

function startStream() {
  // A fresh query string: the browser must open a new stream, not reuse a finished one.
  $("preview").src = "/video_feed?t=" + Date.now();
  picture.streaming = true;
  $("start").textContent = "Stop";
  showPicture();
}

function stopStream() {
  $("preview").removeAttribute("src");  // closes the connection, so the server stops sending
  picture.streaming = false;
  $("start").textContent = "Start";
  showPicture();
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function fetchJson(url, options) {
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

async function change(settings) {
  try {
    showState(await fetchJson("/api/state", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(settings),
    }));
    showError("");
  } catch (err) {
    showError("Could not change the setting: " + err.message);
    await pollState();  // put the controls back as the engine has them
  }
}

function showState(state) {
  picture.cameraOk = state.camera_ok;
  $("camera-message").textContent = state.camera_message;
  if (document.activeElement !== $("overlay")) $("overlay").checked = state.overlay;
  if (document.activeElement !== $("placement")) $("placement").value = state.placement;
  $("shortcut").hidden = !state.shortcut;
  $("shortcut").textContent = state.shortcut ? state.shortcut + " switches it from any window" : "";
  if (document.activeElement !== $("faces-choice")) $("faces-choice").value = state.faces;
  $("fps").textContent = state.camera_ok ? state.fps.toFixed(1) + " fps" : "";
  showPicture();
}

function bar(emotion, probability, shown) {
  const row = document.createElement("div");
  row.className = "bar-row" + (shown ? " shown" : "");
  const label = document.createElement("span");
  label.textContent = emotion;
  const track = document.createElement("div");
  track.className = "bar-track";
  const fill = document.createElement("div");
  fill.className = "bar";
  fill.style.width = (100 * probability).toFixed(1) + "%";
  track.append(fill);
  const value = document.createElement("span");
  value.className = "value";
  value.textContent = Math.round(100 * probability) + "%";
  row.append(label, track, value);
  return row;
}

function showFaces(faces) {
  const panel = $("faces");
  panel.replaceChildren();
  if (faces.length === 0) {
    const none = document.createElement("p");
    none.className = "none";
    none.textContent = "No faces in the picture.";
    panel.append(none);
    return;
  }
  for (const face of faces) {
    const box = document.createElement("div");
    box.className = "face";
    const title = document.createElement("div");
    title.className = "face-title";
    // An unsure face shows the neutral emoji: no emotion is clearly ahead (weights/README.md).
    title.textContent = `Face ${face.id ?? "?"}: ${face.emotion ?? "…"}${face.unsure ? " (unsure)" : ""}`;
    box.append(title);
    // The smoothed probabilities, which the emoji follows; a face not classified on this frame
    // (vcam/schedule.py) has none of its own.
    const shares = face.smoothed ?? face.probabilities;
    if (shares) {
      for (const emotion of VCAM_EMOTIONS) box.append(bar(emotion, shares[emotion], emotion === face.emotion));
    }
    panel.append(box);
  }
}

async function pollState() {
  try {
    showState(await fetchJson("/api/state"));
    if ($("error").textContent.startsWith("The preview server")) showError("");
  } catch (err) {
    showError("The preview server is not answering; is vcam still running?");
  }
}

async function pollFaces() {
  try {
    showFaces((await fetchJson("/api/faces")).faces);
  } catch (err) { /* pollState reports a server that is gone */ }
}

$("start").addEventListener("click", () => (picture.streaming ? stopStream() : startStream()));
$("overlay").addEventListener("change", (event) => change({ overlay: event.target.checked }));
$("placement").addEventListener("change", (event) => change({ placement: event.target.value }));
$("faces-choice").addEventListener("change", (event) => change({ faces: event.target.value }));
for (const button of document.querySelectorAll("button.react")) {
  button.addEventListener("click", async () => {
    try {
      await fetchJson("/api/react", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ emotion: button.dataset.emotion }),
      });
      showError("");
    } catch (err) {
      showError("Could not react: " + err.message);
    }
  });
}

pollState();
pollFaces();
setInterval(pollState, 1000);
setInterval(pollFaces, 500);
