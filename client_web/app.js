// The main Facecast page: webcam, capture/upload, live avatar, chat with history, status.
import {
  connect, describePlan, meterFps, meterStatsFps, takeStills, uploadPhoto, uploadStills,
} from "/static/facecast.js";

const $ = (id) => document.getElementById(id);
const ui = {
  webcam: $("webcam"), avatar: $("avatar"), capture: $("capture"), photo: $("photo"),
  text: $("text"), send: $("send"), cancel: $("cancel"), chat: $("chat"), history: $("history"),
  connection: $("connection"), session: $("session"), fps: $("fps"), state: $("state"),
  sourceNote: $("source-note"), progress: $("progress").firstElementChild,
  intensity: $("intensity"), intensityValue: $("intensity-value"), fpsSelect: $("fps-select"),
  idle: $("idle"), thumb: $("source-thumb"), camNote: $("webcam-note"),
};
// Exposed for scripting and tests: connection state and every event received.
const facecast = (window.facecast = { events: [], link: null, ready: false, webcam: false });
let nextId = 1;
const pending = new Map(); // command id -> history entry

let connectionLost = false;

function setConnection(state) {
  if (state === "open") state = "connected";
  if (connectionLost && state !== "connected") return; // keep "connection lost" on screen
  ui.connection.textContent = state;
  ui.connection.className = "pill " + ({ connected: "ok", failed: "bad", closed: "bad", disconnected: "bad" }[state] || "");
  document.body.dataset.connection = state;
  const lost = ["failed", "closed", "disconnected"].includes(state) && facecast.link !== null;
  if (lost && !connectionLost) {
    connectionLost = true;
    setReady(false);
    ui.capture.disabled = true;
    ui.state.textContent = "connection lost";
    ui.connection.textContent = "connection lost";
    addHistory("error", "The connection to the server was lost. Reload the page to start again.");
  }
}

// What to tell a person whose camera cannot be used (getUserMedia's error names).
function webcamProblem(error) {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    return "The browser only allows the camera on https:// pages or on http://localhost. " +
      "Upload a photo instead, or open Facecast over HTTPS.";
  }
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera access was blocked. Allow the camera for this site (the camera icon in " +
        "the address bar) and reload, or upload a photo instead.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera was found. Connect one and reload, or upload a photo instead.";
    case "NotReadableError":
    case "AbortError":
      return "The camera is in use by another application. Close it and reload, or upload a photo instead.";
    default:
      return `The camera could not be started (${error?.name || error}). Upload a photo instead.`;
  }
}

function setReady(ready) {
  facecast.ready = ready;
  document.body.dataset.avatar = ready ? "yes" : "no";
  ui.text.disabled = ui.send.disabled = !ready;
  ui.cancel.disabled = !ready;
}

function addHistory(kind, text) {
  const item = document.createElement("li");
  item.className = kind;
  const line = document.createElement("div");
  line.className = "line";
  line.textContent = text;
  const detail = document.createElement("div");
  detail.className = "detail";
  item.append(line, detail);
  ui.history.append(item);
  ui.history.scrollTop = ui.history.scrollHeight;
  return detail;
}

function newId() {
  return String(nextId++);
}

function command(message, historyText) {
  const id = newId();
  if (historyText) pending.set(id, addHistory("you", historyText));
  facecast.link?.send({ ...message, id });
  return id;
}

function onEvent(event) {
  facecast.events.push(event);
  const detail = event.id ? pending.get(event.id) : null;
  switch (event.type) {
    case "status":
      ui.state.textContent = event.message || event.state;
      document.body.dataset.state = event.state;
      if (event.session) ui.session.textContent = "session " + event.session;
      if (event.has_avatar !== undefined) setReady(event.has_avatar);
      break;
    case "plan": {
      const unknown = event.unknown_words?.length ? ` · unknown words: ${event.unknown_words.join(", ")}` : "";
      const text = `understood: ${describePlan(event)} (${Number(event.duration).toFixed(1)} s)${unknown}`;
      if (detail) detail.textContent = text; else addHistory("server", `${event.text} — ${text}`);
      break;
    }
    case "done": {
      if (event.command === "instruct") {
        if (event.result?.interrupted) {
          if (detail) detail.textContent += " · interrupted by the next instruction";
        } else if (event.result?.cancelled) {
          if (detail) detail.textContent += " · stopped";
        } else {
          ui.progress.style.width = "100%";
        }
      }
      if (event.command === "capture") { facecast.link?.setWebcamSending(false); ui.capture.disabled = false; }
      if (event.command === "capture" || event.command === "upload") {
        const report = event.result?.report || {};
        const quality = report.landmark_nme !== undefined ? ` (fit error ${Number(report.landmark_nme).toFixed(3)})` : "";
        const reason = event.result?.reason || "";
        ui.sourceNote.textContent = `Source chosen: ${reason}${quality}`;
        ui.thumb.hidden = !event.result?.thumbnail;
        if (event.result?.thumbnail) ui.thumb.src = event.result.thumbnail;
        if (detail) detail.textContent = `avatar ready: ${reason}`;
      }
      break;
    }
    case "progress":
      ui.progress.style.width = `${Math.round(100 * event.fraction)}%`;
      if (event.label) ui.state.textContent = `${event.label.replaceAll("_", " ")} · ${event.phase}`;
      break;
    case "error": {
      if (event.command === "capture") { facecast.link?.setWebcamSending(false); ui.capture.disabled = false; }
      const target = detail || addHistory("error", "");
      target.parentElement.classList.add("failed");
      if (event.code === "not_understood" && event.details) showNotUnderstood(target, event.details);
      else target.textContent = detail ? `error: ${event.message}` : event.message;
      break;
    }
  }
}

// "Sorry, no emotion in that" with the unknown words and clickable example instructions.
function showNotUnderstood(target, details) {
  target.replaceChildren();
  const unknown = details.unknown_words?.length ? ` (unknown: ${details.unknown_words.join(", ")})` : "";
  target.append(`I found no emotion in that${unknown}. Try one of these:`);
  const examples = document.createElement("div");
  examples.className = "examples";
  for (const text of details.examples || []) {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "example";
    chip.textContent = text;
    chip.addEventListener("click", () => { ui.text.value = text; ui.text.focus(); });
    examples.append(chip);
  }
  target.append(examples);
}

async function startWebcam() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    ui.webcam.srcObject = stream;
    facecast.webcam = true;
    return stream;
  } catch (error) {
    const problem = webcamProblem(error);
    ui.sourceNote.textContent = problem;
    ui.camNote.textContent = problem;
    document.body.dataset.webcam = "none";
    facecast.webcamError = error?.name || String(error);
    return null;
  }
}

async function main() {
  setConnection("connecting…");
  const webcam = await startWebcam();
  try {
    facecast.link = await connect({ webcam, video: ui.avatar, onEvent, onConnection: setConnection });
  } catch (error) {
    setConnection(error.code === "server_full" ? "server full" : "failed");
    ui.connection.className = "pill bad";
    ui.state.textContent = error.code === "server_full" ? "all sessions in use: reload in a moment" : "cannot connect";
    addHistory("error", error.message);
    return;
  }
  ui.session.textContent = "session " + facecast.link.sessionId;
  ui.capture.disabled = !webcam;
  meterStatsFps(facecast.link.pc, (fps) => { ui.fps.textContent = `${fps.toFixed(0)} fps`; facecast.fps = fps; });
  meterFps(ui.avatar, (fps) => { facecast.shownFps = fps; });
}

ui.capture.addEventListener("click", async () => {
  // Stills of the local camera at full quality, posted to /capture: the server picks the
  // most frontal, sharp, well-lit, neutral one (its events for this id update the entry).
  if (!facecast.link) return;
  ui.capture.disabled = true;
  const id = newId();
  const detail = addHistory("you", "capture my face");
  pending.set(id, detail);
  detail.textContent = "hold still and look at the camera…";
  try {
    const stills = await takeStills(ui.webcam, 8, 2.0);
    detail.textContent = `choosing the best of ${stills.length} stills…`;
    await uploadStills(facecast.link.sessionId, stills, id);
  } catch (error) {
    detail.textContent = `error: ${error.message}`;
    detail.parentElement.classList.add("failed");
  } finally {
    ui.capture.disabled = false;
  }
});
ui.photo.addEventListener("change", async () => {
  const file = ui.photo.files[0];
  if (!file || !facecast.link) return;
  const id = newId();
  const detail = addHistory("you", `upload ${file.name}`);
  pending.set(id, detail); // the session's events for this upload update the same entry
  ui.photo.value = "";
  detail.textContent = "reading the photo…";
  try {
    const answer = await uploadPhoto(facecast.link.sessionId, file, id);
    detail.textContent = `avatar ready (${answer.result.seconds} s)`;
  } catch (error) {
    detail.textContent = `error: ${error.message}`;
    detail.parentElement.classList.add("failed");
  }
});
ui.chat.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.text.value.trim();
  if (!text) return;
  command({ type: "instruct", text }, text);
  ui.text.value = "";
  ui.progress.style.width = "0%";
});
ui.cancel.addEventListener("click", () => command({ type: "cancel" }));
ui.intensity.addEventListener("input", () => { ui.intensityValue.textContent = Number(ui.intensity.value).toFixed(1); });
ui.intensity.addEventListener("change", () => command({ type: "set", intensity: Number(ui.intensity.value) }));
ui.fpsSelect.addEventListener("change", () => command({ type: "set", fps: Number(ui.fpsSelect.value) }));
ui.idle.addEventListener("change", () => command({ type: "set", idle: ui.idle.checked }));

main();
