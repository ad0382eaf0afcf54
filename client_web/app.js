// The main Facecast page: webcam, capture/upload, live avatar, chat with history, status.
import { connect, describePlan, meterFps, meterStatsFps, uploadPhoto } from "/static/facecast.js";

const $ = (id) => document.getElementById(id);
const ui = {
  webcam: $("webcam"), avatar: $("avatar"), capture: $("capture"), photo: $("photo"),
  text: $("text"), send: $("send"), cancel: $("cancel"), chat: $("chat"), history: $("history"),
  connection: $("connection"), session: $("session"), fps: $("fps"), state: $("state"),
  sourceNote: $("source-note"), progress: $("progress").firstElementChild,
  intensity: $("intensity"), fpsSelect: $("fps-select"), idle: $("idle"),
};
// Exposed for scripting and tests: connection state and every event received.
const facecast = (window.facecast = { events: [], link: null, ready: false, webcam: false });
let nextId = 1;
const pending = new Map(); // command id -> history entry

function setConnection(state) {
  if (state === "open") state = "connected";
  ui.connection.textContent = state;
  ui.connection.className = "pill " + ({ open: "ok", connected: "ok", failed: "bad", closed: "bad" }[state] || "");
  document.body.dataset.connection = state;
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

function command(message, historyText) {
  const id = String(nextId++);
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
    case "progress":
      ui.progress.style.width = `${Math.round(100 * event.fraction)}%`;
      if (event.label) ui.state.textContent = `${event.label.replaceAll("_", " ")} · ${event.phase}`;
      break;
    case "done":
      if (event.command === "instruct") ui.progress.style.width = "100%";
      if (event.command === "capture") { facecast.link?.setWebcamSending(false); ui.capture.disabled = false; }
      if (event.command === "capture" || event.command === "upload") {
        const report = event.result?.report || {};
        const quality = report.landmark_nme !== undefined ? ` (fit error ${Number(report.landmark_nme).toFixed(3)})` : "";
        const reason = event.result?.reason || "";
        ui.sourceNote.textContent = `Source chosen: ${reason}${quality}`;
        const thumb = document.getElementById("source-thumb");
        if (event.result?.thumbnail) { thumb.src = event.result.thumbnail; thumb.hidden = false; }
        if (detail) detail.textContent = `avatar ready: ${reason}`;
      }
      break;
    case "error":
      if (event.command === "capture") { facecast.link?.setWebcamSending(false); ui.capture.disabled = false; }
      if (detail) { detail.textContent = `error: ${event.message}`; detail.parentElement.classList.add("failed"); }
      else addHistory("error", event.message);
      break;
  }
}

async function startWebcam() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    ui.webcam.srcObject = stream;
    facecast.webcam = true;
    return stream;
  } catch (error) {
    ui.sourceNote.textContent = `No webcam (${error.name}); upload a photo instead.`;
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
    addHistory("error", error.message);
    return;
  }
  ui.session.textContent = "session " + facecast.link.sessionId;
  ui.capture.disabled = !webcam;
  meterStatsFps(facecast.link.pc, (fps) => { ui.fps.textContent = `${fps.toFixed(0)} fps`; facecast.fps = fps; });
  meterFps(ui.avatar, (fps) => { facecast.shownFps = fps; });
}

ui.capture.addEventListener("click", () => {
  // Send the webcam while capturing; a moment first so that live frames reach the server.
  facecast.link?.setWebcamSending(true);
  ui.capture.disabled = true;
  setTimeout(() => command({ type: "capture" }, "capture my face"), 400);
});
ui.photo.addEventListener("change", async () => {
  const file = ui.photo.files[0];
  if (!file || !facecast.link) return;
  const detail = addHistory("you", `upload ${file.name}`);
  try {
    const answer = await uploadPhoto(facecast.link.sessionId, file);
    detail.textContent = `avatar ready (${answer.result.seconds} s)`;
  } catch (error) {
    detail.textContent = `error: ${error.message}`;
    detail.parentElement.classList.add("failed");
  }
  ui.photo.value = "";
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
ui.intensity.addEventListener("change", () => command({ type: "set", intensity: Number(ui.intensity.value) }));
ui.fpsSelect.addEventListener("change", () => command({ type: "set", fps: Number(ui.fpsSelect.value) }));
ui.idle.addEventListener("change", () => command({ type: "set", idle: ui.idle.checked }));

main();
