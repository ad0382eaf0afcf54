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
  idle: $("idle"), mirror: $("mirror"), thumb: $("source-thumb"), camNote: $("webcam-note"), counter: $("counter"),
};
// Exposed for scripting and tests: connection state and every event received.
const facecast = (window.facecast = { events: [], link: null, ready: false, webcam: false });
let nextId = 1;
const pending = new Map(); // command id -> history entry

let connectionLost = false;
let textLimit = 300; // the server's limits.text_chars (status events) replaces this default

// What the status line says: always the next step. ``step`` names the state (for tests and
// styling: body[data-step]); ``view`` holds what the text needs.
const view = { step: null, notUnderstood: false, stills: null,
  calibratingSince: null, label: null, phase: null, planning: "" };
const EXAMPLE = "look surprised, then smile";

function nextStepText() {
  switch (view.step) {
    case "connecting": return "Connecting to the server…";
    case "lost": return "The connection to the server was lost. Reload the page to start again.";
    case "full": return "All sessions are in use. Reload the page in a moment.";
    case "failed": return "Cannot reach the server. Check that it runs, then reload the page.";
    case "taking": return `Taking stills: ${view.stills.taken} of ${view.stills.count} — hold still and look at the camera`;
    case "calibrating": {
      const seconds = view.calibratingSince ? Math.floor((performance.now() - view.calibratingSince) / 1000) : 0;
      return `Calibrating your face… ${seconds} s`;
    }
    case "no_avatar": return facecast.webcam
      ? "Press “Capture my face” or upload a photo to begin."
      : "Upload a photo of a face to begin (the camera is not available here).";
    case "planning": return `Understanding “${view.planning}”…`;
    case "animating": {
      const what = view.label ? `${view.label.replaceAll("_", " ")}${view.phase ? ` (${view.phase})` : ""}` : "the instruction";
      return `Performing ${what}. Type the next one, or press Stop to end it.`;
    }
    case "not_understood": return "Not understood: click one of the examples in the chat, or say it with an emotion word.";
    default: return `Type an instruction, e.g. “${EXAMPLE}”, and press Send.`;
  }
}

function setStep(step) {
  if (view.step !== step) (facecast.steps ??= []).push(step); // the path taken, for scripts
  view.step = step;
  document.body.dataset.step = step;
  ui.state.textContent = nextStepText();
  const running = step === "planning" || step === "animating";
  ui.cancel.disabled = !running; // Stop only does something while an instruction runs
}
// the calibrating line counts the seconds
setInterval(() => { if (view.step === "calibrating") ui.state.textContent = nextStepText(); }, 500);

// The words a person can act on, after the server's message, for each error code.
const NEXT_STEP = {
  message_too_large: () => `Shorten it to at most ${textLimit} characters.`,
  busy: () => "Wait for the running instructions to finish, or press Stop.",
  rate_limited: () => "Wait a second before sending more.",
  no_avatar: () => "Capture your face or upload a photo first.",
  no_webcam: () => "Upload a photo instead.",
  no_face: () => "Use a photo where one face is seen from the front, in good light.",
  bad_image: () => "Use a JPEG, PNG or WebP photo.",
  image_too_large: () => "Use a smaller photo (at most 10 MB).",
  calibration_failed: () => "Try another photo, or capture again facing the camera.",
  render_failed: () => "Capture again or upload another photo.",
  engine_error: () => "Try again; if it repeats, reload the page.",
  engine_unavailable: () => "The server is missing a model: ask whoever runs it to check its log.",
};

function errorText(event) {
  const hint = NEXT_STEP[event.code]?.();
  let message = event.message || "it failed";
  // a fault of the server, not of the entry: say so in words, the details in brackets
  if (event.code === "engine_error") message = `The server failed on this (${message}).`;
  if (!/[.!?)]$/.test(message)) message += ".";
  return hint && !message.includes(hint) ? `${message} ${hint}` : message;
}

// The length counter under the box: refuses before sending.
function textTooLong() {
  return ui.text.value.trim().length > textLimit;
}

function updateCounter() {
  const length = ui.text.value.trim().length;
  const over = length > textLimit;
  ui.counter.textContent = over
    ? `${length} / ${textLimit} characters: too long, shorten it by ${length - textLimit} to send`
    : `${length} / ${textLimit}`;
  ui.counter.classList.toggle("over", over);
  ui.send.disabled = !facecast.ready || over;
}

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
    setStep("lost");
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
  ui.text.disabled = !ready;
  updateCounter();
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

// An instruction as a script would send it: a chat entry, no check in the page (the server's
// answer, e.g. too_long, lands in that entry). The form checks the length first.
function instruct(text) {
  view.notUnderstood = false;
  ui.progress.style.width = "0%";
  const shown = text.length > 160 ? `${text.slice(0, 140)}… (${text.length} characters)` : text;
  return command({ type: "instruct", text }, shown);
}
facecast.instruct = instruct;

function onEvent(event) {
  facecast.events.push(event);
  const detail = event.id ? pending.get(event.id) : null;
  switch (event.type) {
    case "status": {
      document.body.dataset.state = event.state;
      ui.state.title = event.message || ""; // the server's own words, on hover
      if (event.session) ui.session.textContent = "session " + event.session;
      if (event.limits?.text_chars) textLimit = event.limits.text_chars;
      if (event.has_avatar !== undefined) setReady(event.has_avatar);
      if (connectionLost) break;
      const state = event.state;
      if (state !== "calibrating") view.calibratingSince = null;
      if (state === "calibrating" || state === "capturing") {
        view.calibratingSince ??= performance.now();
        setStep("calibrating");
      } else if (state === "planning") {
        view.planning = (event.message || "").replace(/^planning: /, "");
        setStep("planning");
      } else if (state === "animating") {
        view.label = null; view.phase = null;
        setStep("animating");
      } else if (state === "no_avatar") {
        if (view.step !== "taking") setStep("no_avatar");
      } else if (state === "ready") {
        setStep(view.notUnderstood ? "not_understood" : "ready");
      }
      break;
    }
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
        if (detail && !detail.textContent.startsWith("avatar ready")) detail.textContent = `avatar ready: ${reason}`;
      }
      break;
    }
    case "progress":
      ui.progress.style.width = `${Math.round(100 * event.fraction)}%`;
      if (event.label && view.step === "animating") {
        view.label = event.label; view.phase = event.phase;
        ui.state.textContent = nextStepText();
      }
      break;
    case "error": {
      if (event.command === "capture") { facecast.link?.setWebcamSending(false); ui.capture.disabled = false; }
      const target = detail || addHistory("error", "");
      target.parentElement.classList.add("failed");
      target.parentElement.dataset.code = event.code;
      if (event.code === "not_understood" && event.details) {
        view.notUnderstood = true;
        showNotUnderstood(target, event.details);
        if (view.step === "ready") setStep("not_understood");
      } else {
        target.textContent = detail ? `error: ${errorText(event)}` : errorText(event);
      }
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
    chip.addEventListener("click", () => { ui.text.value = text; updateCounter(); ui.text.focus(); });
    examples.append(chip);
  }
  target.append(examples);
  // the examples are the way on: bring them into view (the history and the page scroll)
  requestAnimationFrame(() => examples.scrollIntoView({ block: "nearest", behavior: "instant" }));
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
  setStep("connecting");
  const webcam = await startWebcam();
  try {
    facecast.link = await connect({ webcam, video: ui.avatar, onEvent, onConnection: setConnection });
  } catch (error) {
    setConnection(error.code === "server_full" ? "server full" : "failed");
    ui.connection.className = "pill bad";
    setStep(error.code === "server_full" ? "full" : "failed");
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
  const started = performance.now();
  const id = newId();
  const detail = addHistory("you", "capture my face");
  pending.set(id, detail);
  const count = 8;
  view.stills = { taken: 0, count };
  setStep("taking");
  detail.textContent = `taking stills: 0 of ${count} — hold still and look at the camera…`;
  try {
    const stills = await takeStills(ui.webcam, count, 2.0, (taken) => {
      view.stills.taken = taken;
      detail.textContent = `taking stills: ${taken} of ${count} — hold still and look at the camera…`;
      if (view.step === "taking") ui.state.textContent = nextStepText();
    });
    detail.textContent = `choosing the best of ${stills.length} stills and calibrating…`;
    view.calibratingSince = performance.now();
    setStep("calibrating");
    const answer = await uploadStills(facecast.link.sessionId, stills, id);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    detail.textContent = `avatar ready in ${seconds} s: ${answer.result?.reason || ""}`;
  } catch (error) {
    detail.textContent = `error: ${errorText({ code: error.code, message: error.message })}`;
    detail.parentElement.classList.add("failed");
    if (view.step === "taking" || view.step === "calibrating") setStep(facecast.ready ? "ready" : "no_avatar");
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
    detail.textContent = `error: ${errorText({ code: error.code, message: error.message })}`;
    detail.parentElement.classList.add("failed");
  }
});
ui.chat.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.text.value.trim();
  if (!text || !facecast.ready) return;
  if (textTooLong()) { updateCounter(); ui.counter.classList.add("shake"); return; } // refused here
  instruct(text);
  ui.text.value = "";
  updateCounter();
});
ui.text.addEventListener("input", updateCounter);
ui.cancel.addEventListener("click", () => command({ type: "cancel" }));
ui.intensity.addEventListener("input", () => { ui.intensityValue.textContent = Number(ui.intensity.value).toFixed(1); });
ui.intensity.addEventListener("change", () => command({ type: "set", intensity: Number(ui.intensity.value) }));
ui.fpsSelect.addEventListener("change", () => command({ type: "set", fps: Number(ui.fpsSelect.value) }));
ui.idle.addEventListener("change", () => command({ type: "set", idle: ui.idle.checked }));

// The avatar mirrored like the webcam preview: on by default, remembered by the browser. Only
// this page's view; the stream itself (virtual camera, overlay, VTuber apps) is never mirrored.
const MIRROR_KEY = "facecast.mirror";
function setMirror(on) {
  ui.mirror.checked = on;
  document.body.dataset.mirror = on ? "yes" : "no";
  try { localStorage.setItem(MIRROR_KEY, on ? "yes" : "no"); } catch (error) { /* private mode */ }
}
let storedMirror = null;
try { storedMirror = localStorage.getItem(MIRROR_KEY); } catch (error) { /* private mode */ }
setMirror(storedMirror !== "no");
ui.mirror.addEventListener("change", () => setMirror(ui.mirror.checked));

main();
