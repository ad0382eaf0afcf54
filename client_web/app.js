// The main Facecast page: webcam, capture/upload, live avatar, chat with history, status.
// It keeps itself connected: when the connection drops (server restart, network) it connects
// again with backoff and restores the face it had (the photo or still stays in the page).
import {
  cleanText, connect, describePieces, describePlan, freezeVideo, meterFps, meterStatsFps,
  shorten, takeStills, textLength, uploadPhoto, uploadStills,
} from "/static/facecast.js";
import { describeHealth, watchFrames } from "/static/health.js";
import { Reconnector } from "/static/reconnect.js";

const $ = (id) => document.getElementById(id);
const ui = {
  webcam: $("webcam"), avatar: $("avatar"), capture: $("capture"), photo: $("photo"),
  text: $("text"), send: $("send"), cancel: $("cancel"), chat: $("chat"), history: $("history"),
  connection: $("connection"), session: $("session"), fps: $("fps"), state: $("state"),
  sourceNote: $("source-note"), progress: $("progress").firstElementChild,
  intensity: $("intensity"), intensityValue: $("intensity-value"), fpsSelect: $("fps-select"),
  idle: $("idle"), mirror: $("mirror"), thumb: $("source-thumb"), camNote: $("webcam-note"),
  counter: $("counter"), health: $("health"), uploadLabel: $("upload-label"),
};
// Exposed for scripting and tests: connection state and every event received.
const facecast = (window.facecast = {
  events: [], link: null, ready: false, webcam: false, connected: false, connects: 0,
  health: null,
});
let nextId = 1;
const pending = new Map(); // command id -> {detail, settled}: the history entry it answers

let textLimit = 1000; // the server's limits.text_chars (status events) replaces this default
let streamFps = 30; // the session's settings.fps: what "late" means for a frame
let webcamStream = null;
let source = null; // {blob, name}: the face, restored into a new session after a reconnect
let statsMeter = null;
let disconnectTimer = null;
let current = { live: false }; // the link whose events and state changes count
const DISCONNECT_GRACE_MS = 4000; // ICE "disconnected" often recovers by itself

// What the status line says: always the next step. ``step`` names the state (for tests and
// styling: body[data-step]); ``view`` holds what the text needs.
const view = { step: null, notUnderstood: false, stills: null, calibratingSince: null,
  label: null, phase: null, planning: "", retryAt: 0, attempt: 0, retryReason: "" };
const EXAMPLE = "look surprised, then smile";

function nextStepText() {
  switch (view.step) {
    case "connecting": return "Connecting to the server…";
    case "reconnecting": {
      const seconds = Math.max(0, Math.ceil((view.retryAt - performance.now()) / 1000));
      const when = seconds ? `Trying again in ${seconds} s` : "Trying again now";
      return `${view.retryReason} ${when} (attempt ${view.attempt}); nothing to do meanwhile.`;
    }
    case "restoring": return "Reconnected. Restoring your face from the photo you gave…";
    case "failed": return "The server refused this page (see the message below). Check the address, then reload.";
    case "taking": return `Taking stills: ${view.stills.taken} of ${view.stills.count} — hold still and look at the camera`;
    case "calibrating": {
      const seconds = view.calibratingSince ? Math.floor((performance.now() - view.calibratingSince) / 1000) : 0;
      return `Calibrating your face… ${seconds} s`;
    }
    case "no_avatar": return facecast.webcam
      ? "Press “Capture my face” or upload a photo to begin."
      : "Upload a photo of a face to begin (the camera is not available here).";
    case "planning": return `Understanding “${shorten(view.planning, 60)}”…`;
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
  ui.cancel.disabled = !running || !facecast.connected; // Stop only while something runs
}
// the calibrating and reconnecting lines count the seconds
setInterval(() => {
  if (view.step === "calibrating" || view.step === "reconnecting") ui.state.textContent = nextStepText();
}, 250);

// The words a person can act on, after the server's message, for each error code.
const NEXT_STEP = {
  message_too_large: () => `Shorten it to at most ${textLimit} characters.`,
  busy: () => "Wait for the running instructions to finish, or press Stop.",
  no_avatar: () => "Capture your face or upload a photo first.",
  no_webcam: () => "Upload a photo instead.",
  no_face: () => "Use a photo where one face is seen from the front, in good light.",
  bad_image: () => "Use a JPEG, PNG or WebP photo.",
  image_too_large: () => "Use a smaller photo (at most 10 MB).",
  calibration_failed: () => "Try another photo, or capture again facing the camera.",
  render_failed: () => "Capture again or upload another photo.",
  engine_error: () => "Try again; if it repeats, reload the page.",
  engine_unavailable: () => "The server is missing a model: ask whoever runs it to check its log.",
  bad_json: () => "This page sends valid messages: if a script sent it, check its JSON.",
};

function errorText(event) {
  const hint = NEXT_STEP[event.code]?.();
  let message = event.message || "it failed";
  // a fault of the server, not of the entry: say so in words, the details in brackets
  if (event.code === "engine_error") message = `The server failed on this (${message}).`;
  if (!/[.!?)]$/.test(message)) message += ".";
  return hint && !message.includes(hint) ? `${message} ${hint}` : message;
}

// ---------------------------------------------------------------------- the chat box
// The length counter above the box refuses before sending (one number: the server's limit,
// counted as it counts: code points without the surrounding white space).
function updateCounter() {
  const length = textLength(ui.text.value);
  const over = length > textLimit;
  ui.counter.textContent = over
    ? `${length} / ${textLimit} characters: too long, shorten it by ${length - textLimit} to send`
    : `${length} / ${textLimit}`;
  ui.counter.classList.toggle("over", over);
  ui.send.disabled = !facecast.ready || !facecast.connected || over || length === 0;
  // the box grows with the text (up to a few lines), the page does not jump
  ui.text.style.height = "auto";
  ui.text.style.height = `${Math.min(ui.text.scrollHeight + 2, 132)}px`;
}

function setControls() {
  const on = facecast.connected;
  ui.capture.disabled = !on || !facecast.webcam || view.step === "taking";
  ui.photo.disabled = !on;
  ui.uploadLabel.classList.toggle("disabled", !on);
  ui.uploadLabel.setAttribute("aria-disabled", String(!on));
  for (const control of [ui.intensity, ui.fpsSelect, ui.idle]) control.disabled = !on;
  ui.text.disabled = !facecast.ready || !on;
  if (!on) ui.cancel.disabled = true;
  updateCounter();
}

function setReady(ready) {
  facecast.ready = ready;
  document.body.dataset.avatar = ready ? "yes" : "no";
  setControls();
}

// ------------------------------------------------------------------------- history
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

function expect(id, detail, command) {
  pending.set(id, { detail, command, settled: false, started: performance.now(), steps: [] });
}

function settle(id) {
  const entry = pending.get(id);
  if (entry) entry.settled = true;
}

function command(message, historyText) {
  const id = newId();
  if (historyText) expect(id, addHistory("you", historyText), message.type);
  facecast.link?.send({ ...message, id });
  return id;
}

// An instruction as a script would send it: a chat entry, no check in the page (the server's
// answer, e.g. too_long, lands in that entry). The form checks the length first. Both send
// the text without its surrounding white space, and show the length the server counts.
function instruct(raw) {
  const text = cleanText(raw);
  view.notUnderstood = false;
  ui.progress.style.width = "0%";
  const length = textLength(text);
  const shown = length > 160 ? `${shorten(text, 140)} (${length} characters)` : text;
  return command({ type: "instruct", text }, shown);
}
facecast.instruct = instruct;

// Entries the lost connection will never answer: say so, instead of leaving them open.
function abandonPending() {
  for (const entry of pending.values()) {
    if (entry.settled || entry.command === "upload" || entry.command === "capture") continue;
    entry.settled = true;
    const answered = entry.detail.textContent;
    entry.detail.textContent = answered
      ? `${answered} · cut short: the connection was lost`
      : "not answered: the connection was lost. Send it again once reconnected.";
    if (!answered) entry.detail.parentElement.classList.add("failed");
  }
}

// -------------------------------------------------------------------------- events
function onEvent(event) {
  facecast.events.push(event);
  const entry = event.id ? pending.get(event.id) : null;
  const detail = entry?.detail ?? null;
  switch (event.type) {
    case "status": {
      document.body.dataset.state = event.state;
      ui.state.title = event.message || ""; // the server's own words, on hover
      if (event.session) ui.session.textContent = "session " + event.session;
      if (event.limits?.text_chars) textLimit = event.limits.text_chars;
      if (event.settings?.fps) streamFps = event.settings.fps;
      if (event.has_avatar !== undefined) setReady(event.has_avatar);
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
      } else if (state === "no_avatar" || state === "connected") {
        if (view.step !== "taking" && !(facecast.restoring && state === "no_avatar")) {
          setStep(facecast.ready ? "ready" : "no_avatar");
        }
      } else if (state === "ready") {
        setStep(view.notUnderstood ? "not_understood" : "ready");
      }
      break;
    }
    case "plan": {
      const words = event.unknown_words || [];
      const more = words.length > 6 ? ` and ${words.length - 6} more` : "";
      const unknown = words.length ? ` · unknown words: ${words.slice(0, 6).join(", ")}${more}` : "";
      const pieces = describePieces(event);
      const text = `understood: ${describePlan(event)} (${Number(event.duration).toFixed(1)} s)` +
        `${pieces ? ` · ${pieces}` : ""}${unknown}`;
      if (detail) detail.textContent = text; else addHistory("server", `${shorten(event.text, 80)} — ${text}`);
      break;
    }
    case "progress":
      if (event.command === "capture" || event.command === "upload") {
        if (entry && event.message) {
          entry.steps.push([event.phase, performance.now()]);
          detail.textContent = `${event.message}…`;
        }
        break;
      }
      ui.progress.style.width = `${Math.round(100 * event.fraction)}%`;
      if (event.label && view.step === "animating") {
        view.label = event.label; view.phase = event.phase;
        ui.state.textContent = nextStepText();
      }
      break;
    case "done": {
      if (event.id) settle(event.id);
      if (event.command === "instruct") {
        if (event.result?.interrupted) {
          if (detail) detail.textContent += " · interrupted by the next instruction";
        } else if (event.result?.cancelled) {
          if (detail && event.result.started === false) detail.textContent = "stopped before it started";
          else if (detail) detail.textContent += " · stopped";
        } else {
          ui.progress.style.width = "100%";
        }
      }
      if (event.command === "capture" || event.command === "upload") {
        const report = event.result?.report || {};
        const quality = report.landmark_nme !== undefined ? ` (fit error ${Number(report.landmark_nme).toFixed(3)})` : "";
        const reason = event.result?.reason || "";
        ui.sourceNote.textContent = `Source chosen: ${reason}${quality}`;
        ui.thumb.hidden = !event.result?.thumbnail;
        if (event.result?.thumbnail) ui.thumb.src = event.result.thumbnail;
      }
      break;
    }
    case "error": {
      if (event.id) settle(event.id);
      if (event.command === "capture") facecast.link?.setWebcamSending(false);
      if (event.command === "capture" || event.command === "upload") {
        if (detail) break; // the HTTP answer of the same upload writes the entry
      }
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
  // the examples are the way on: bring them into view (the history and the page scroll),
  // above the box that stays at the bottom (scroll-margin: its height)
  requestAnimationFrame(() => {
    const composer = document.querySelector(".composer").getBoundingClientRect().height;
    examples.style.setProperty("--composer-height", `${Math.ceil(composer) + 12}px`);
    examples.scrollIntoView({ block: "nearest", behavior: "instant" });
  });
}

// ------------------------------------------------------------ capture and upload
// What the entry of a finished capture or upload says: the time it took, step by step.
function readyText(entry, startedAt, reason, { first = "stills", done = "avatar ready" } = {}) {
  const now = performance.now();
  const marks = [[first, startedAt], ...entry.steps];
  const parts = marks.map(([phase, at], i) => {
    const end = i + 1 < marks.length ? marks[i + 1][1] : now;
    return `${phase} ${((end - at) / 1000).toFixed(1)} s`;
  });
  const total = ((now - startedAt) / 1000).toFixed(1);
  return `${done} in ${total} s (${parts.join(" · ")})${reason ? `: ${reason}` : ""}`;
}

async function uploadFace(blob, name, { restoring = false } = {}) {
  const id = newId();
  const detail = addHistory("you", restoring ? `restore the face (${name})` : `upload ${name}`);
  expect(id, detail, "upload");
  const entry = pending.get(id);
  detail.textContent = restoring ? "reconnected: restoring your face…" : "reading the photo…";
  facecast.restoring = restoring;
  const started = performance.now();
  try {
    await uploadPhoto(facecast.link.sessionId, blob, id, facecast.link.key);
    source = { blob, name };
    detail.textContent = readyText(entry, started, "",
      { first: "reading", done: restoring ? "face restored" : "avatar ready" });
  } catch (error) {
    detail.textContent = `error: ${errorText({ code: error.code, message: error.message })}`;
    detail.parentElement.classList.add("failed");
    detail.parentElement.dataset.code = error.code || "";
  } finally {
    settle(id);
    facecast.restoring = false;
  }
}

async function captureFace() {
  // Stills of the local camera at full quality, posted to /capture: the server picks the
  // most frontal, sharp, well-lit, neutral one (its progress events for this id update the
  // entry: choosing, calibrating).
  if (!facecast.link) return;
  const started = performance.now();
  const id = newId();
  const detail = addHistory("you", "capture my face");
  expect(id, detail, "capture");
  const entry = pending.get(id);
  const count = 8;
  view.stills = { taken: 0, count };
  setStep("taking");
  setControls();
  detail.textContent = `taking stills: 0 of ${count} — hold still and look at the camera…`;
  try {
    const stills = await takeStills(ui.webcam, count, 2.0, (taken) => {
      view.stills.taken = taken;
      detail.textContent = `taking stills: ${taken} of ${count} — hold still and look at the camera…`;
      if (view.step === "taking") ui.state.textContent = nextStepText();
    });
    entry.steps.push(["sending", performance.now()]);
    detail.textContent = `sending ${stills.length} stills…`;
    view.calibratingSince = performance.now();
    setStep("calibrating");
    const answer = await uploadStills(facecast.link.sessionId, stills, id, facecast.link.key);
    const index = answer.result?.index;
    if (Number.isInteger(index) && stills[index]) source = { blob: stills[index], name: "your captured still" };
    detail.textContent = readyText(entry, started, answer.result?.reason || "");
  } catch (error) {
    detail.textContent = `error: ${errorText({ code: error.code, message: error.message })}`;
    detail.parentElement.classList.add("failed");
    if (view.step === "taking" || view.step === "calibrating") setStep(facecast.ready ? "ready" : "no_avatar");
  } finally {
    settle(id);
    if (view.step === "taking") setStep(facecast.ready ? "ready" : "no_avatar");
    setControls();
  }
}

// -------------------------------------------------------------------- connection
function setPill(text, kind = "") {
  ui.connection.textContent = text;
  ui.connection.className = `pill ${kind}`.trim();
}

function onConnection(state) {
  if (state === "open" || state === "connected") {
    clearTimeout(disconnectTimer);
    disconnectTimer = null;
    if (state === "open" && !facecast.connected) {
      facecast.connected = true;
      document.body.dataset.connection = "connected";
      setPill("connected", "ok");
      setControls();
      if (facecast.restoring) setStep("restoring");
      else if (view.step === "connecting" || view.step === "reconnecting") setStep(facecast.ready ? "ready" : "no_avatar");
    }
    return;
  }
  if (state === "disconnected") { // often back by itself within a few seconds
    setPill("connection unsteady…", "bad");
    disconnectTimer ??= setTimeout(lost, DISCONNECT_GRACE_MS);
    return;
  }
  if (state === "failed" || state === "closed") lost();
}

function lost() {
  clearTimeout(disconnectTimer);
  disconnectTimer = null;
  if (!facecast.link) return; // already reconnecting
  const old = facecast.link;
  facecast.link = null;
  current.live = false; // its late events do not count
  freezeVideo(ui.avatar); // its last frame, dimmed, while reconnecting (not a black box)
  old.close();
  facecast.connected = false;
  ui.fps.textContent = "– fps";
  ui.progress.style.width = "0%";
  document.body.dataset.connection = "reconnecting";
  abandonPending();
  health.reset();
  showHealth(null);
  setReady(false);
  addHistory("error", "The connection to the server was lost. Reconnecting by itself…");
  reconnector.lost();
}

async function open() {
  facecast.connects += 1;
  const mine = (current = { live: true });
  return connect({
    webcam: webcamStream, video: ui.avatar,
    onEvent: (event) => { if (mine.live) onEvent(event); },
    onConnection: (state) => { if (mine.live) onConnection(state); },
  });
}

const reconnector = new Reconnector(open, {
  onWait(delay, attempt, error) {
    const full = error?.code === "server_full";
    view.retryAt = performance.now() + delay;
    view.attempt = attempt;
    view.retryReason = full ? "All avatar sessions are in use."
      : reconnector.everOpened ? "The connection to the server was lost." : "Cannot reach the server.";
    document.body.dataset.connection = "reconnecting";
    setPill(full ? "server full" : "reconnecting…", "bad");
    setStep("reconnecting");
    // the server's own words once per reason (e.g. server_full), in the history
    const reason = error?.code ? error.message : null;
    if (reason && reason !== view.lastRefusal) addHistory("error", `${reason} The page tries again by itself.`);
    view.lastRefusal = reason;
  },
  onOpen(link, reconnected) {
    facecast.link = link;
    ui.session.textContent = "session " + link.sessionId;
    ui.session.title = "Click to copy the command that drives this avatar from a script " +
      "(it holds this session's secret key: share it only with who may drive your avatar)";
    clearInterval(statsMeter);
    statsMeter = meterStatsFps(link.pc, (fps) => { ui.fps.textContent = `${fps.toFixed(0)} fps`; facecast.fps = fps; });
    if (reconnected) {
      addHistory("server", `Reconnected (session ${link.sessionId}).`);
      if (source) uploadFace(source.blob, source.name, { restoring: true });
    }
  },
  fatal: (error) => ["unauthorized", "bad_origin"].includes(error.code), // a retry cannot help
  onFatal(error) {
    setPill("refused", "bad");
    setStep("failed");
    addHistory("error", error.message);
  },
});

// The health line under the avatar: said only when frames come late (measured gaps).
function showHealth(report) {
  facecast.health = report;
  const text = facecast.connected ? describeHealth(report) : "";
  ui.health.textContent = text;
  ui.health.hidden = !text;
  ui.fps.classList.toggle("bad", Boolean(text));
}
const health = watchFrames(ui.avatar, showHealth, {
  lateAfterMs: () => Math.max(250, 3000 / streamFps),
});

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
  setPill("connecting…");
  setStep("connecting");
  setControls();
  webcamStream = await startWebcam();
  meterFps(ui.avatar, (fps) => { facecast.shownFps = fps; });
  reconnector.start();
}

ui.capture.addEventListener("click", () => { ui.capture.disabled = true; captureFace(); });
ui.photo.addEventListener("change", () => {
  const file = ui.photo.files[0];
  ui.photo.value = "";
  if (file && facecast.link) uploadFace(file, file.name);
});
ui.chat.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = cleanText(ui.text.value);
  if (!text || !facecast.ready || !facecast.connected) return;
  if (textLength(text) > textLimit) { updateCounter(); ui.counter.classList.add("shake"); return; } // refused here
  instruct(text);
  ui.text.value = "";
  updateCounter();
});
// Enter sends, Shift+Enter starts a new line (the box holds a few sentences)
ui.text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.chat.requestSubmit();
  }
});
ui.text.addEventListener("input", updateCounter);
ui.cancel.addEventListener("click", () => command({ type: "cancel" }));
ui.intensity.addEventListener("input", () => { ui.intensityValue.textContent = Number(ui.intensity.value).toFixed(1); });
ui.intensity.addEventListener("change", () => command({ type: "set", intensity: Number(ui.intensity.value) }));
ui.fpsSelect.addEventListener("change", () => command({ type: "set", fps: Number(ui.fpsSelect.value) }));
ui.idle.addEventListener("change", () => command({ type: "set", idle: ui.idle.checked }));

// The session id, clicked: the `facecast send` command that drives this avatar, with the
// session's key, copied (the key is shown nowhere else; a new session has a new one).
async function copyDriveCommand() {
  const link = facecast.link;
  if (!link?.key) return;
  const command = `facecast send --session ${link.sessionId} --key ${link.key} "${EXAMPLE}"`;
  try {
    await navigator.clipboard.writeText(command);
    ui.session.textContent = "command copied";
  } catch (error) { // no clipboard (plain http on another host): let the person copy it
    window.prompt("Drive this avatar from a script (this holds the session's key):", command);
  }
  setTimeout(() => { if (facecast.link === link) ui.session.textContent = "session " + link.sessionId; }, 1500);
}
ui.session.addEventListener("click", copyDriveCommand);
ui.session.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") { event.preventDefault(); copyDriveCommand(); }
});

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
