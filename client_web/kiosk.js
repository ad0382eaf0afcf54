// Kiosk: the avatar of the shared "broadcast" session, large, with its caption below it and a
// large chat box. When nobody types, the server's demo loop performs example instructions.
// Runs all day: the face can be changed at any time (the upload button stays), and when the
// server goes away (restart, network) the page reconnects by itself with backoff.
import { connect, describePlan, meterStatsFps, uploadPhoto } from "/static/facecast.js";

const $ = (id) => document.getElementById(id);
const video = $("avatar");
const caption = $("caption");
const text = $("text");
const send = $("send");
const upload = $("upload");
// Exposed for scripting and tests: events received, the link, reconnect attempts.
const facecast = (window.facecast = { events: [], link: null, connects: 0, reconnecting: false });
let nextId = 1;
let captionTimer = null;
let textLimit = 300; // replaced by the server's limits.text_chars
let meter = null;
const RETRY_MS = [500, 1000, 2000, 4000, 8000, 10000]; // backoff, then every 10 s

// The caption sits below the video (its own row: it never covers the face). Sticky messages
// stay; the others fade after 6 s, keeping their space so the video does not jump.
function show(message, sticky = false) {
  caption.textContent = message;
  caption.classList.add("visible");
  clearTimeout(captionTimer);
  if (!sticky) captionTimer = setTimeout(() => caption.classList.remove("visible"), 6000);
}

function setHasFace(hasFace) {
  text.disabled = send.disabled = !hasFace;
  upload.textContent = hasFace ? "Change the face" : "Upload a photo";
}

function onEvent(event) {
  facecast.events.push(event);
  if (event.type === "status") {
    if (event.limits?.text_chars) textLimit = event.limits.text_chars;
    if (event.has_avatar === false) {
      setHasFace(false);
      show("No face yet: upload a photo of a face (button below)", true);
    } else if (event.has_avatar) {
      const hadFace = !text.disabled;
      setHasFace(true);
      if (!hadFace) show("Ready: type an instruction below, e.g. “look surprised, then smile”");
    }
  }
  if (event.type === "plan") show(`“${event.text}” — ${describePlan(event)}`);
  if (event.type === "error") show(event.message);
}

function setConnection(state) {
  if (state === "open") state = "connected";
  (facecast.states ??= []).push(state);
  $("connection").textContent = state;
  document.body.dataset.connection = state;
  if (["failed", "closed", "disconnected"].includes(state)) scheduleReconnect();
}

let current = { live: false }; // the connection whose state changes count
async function open() {
  facecast.connects += 1;
  current.live = false; // a replaced connection's late events are ignored
  const mine = (current = { live: true });
  const link = await connect({ session: "broadcast", webcam: null, video, onEvent,
    onConnection: (state) => { if (mine.live) setConnection(state); } });
  facecast.link = link;
  facecast.reconnecting = false;
  clearInterval(meter);
  meter = meterStatsFps(link.pc, (fps) => { $("fps").textContent = `${fps.toFixed(0)} fps`; });
}

let retryTimer = null;
function scheduleReconnect(attempt = 0) {
  if (retryTimer !== null || (facecast.reconnecting && attempt === 0)) return;
  facecast.reconnecting = true;
  const old = facecast.link;
  facecast.link = null;
  current.live = false;
  old?.close();
  text.disabled = send.disabled = true;
  const delay = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)];
  show(`The server is not answering: reconnecting in ${Math.round(delay / 100) / 10} s…`, true);
  $("connection").textContent = "reconnecting…";
  document.body.dataset.connection = "reconnecting";
  retryTimer = setTimeout(async () => {
    retryTimer = null;
    try {
      await open();
      show("Reconnected");
    } catch (error) {
      scheduleReconnect(attempt + 1);
    }
  }, delay);
}

async function main() {
  try {
    await open();
  } catch (error) {
    if (error.code === "server_full" || error.code === "unauthorized") { show(error.message, true); return; }
    scheduleReconnect();
  }
}

// Full screen needs a user gesture: a button, not a call at load.
$("fullscreen").addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen?.().catch(() => {});
  else document.documentElement.requestFullscreen?.().catch((error) => show(`Full screen is not allowed here (${error.message})`));
});

$("photo").addEventListener("change", async () => {
  const file = $("photo").files[0];
  $("photo").value = "";
  if (!file) return;
  show("Reading the photo…", true);
  try {
    await uploadPhoto("broadcast", file, `k${nextId++}`); // the kiosk shows the broadcast session
    show("New face ready: type an instruction below");
  } catch (error) {
    show(`${error.message}. Try another photo: one face, from the front, in good light.`, true);
  }
});

$("chat").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = text.value.trim();
  if (!value || !facecast.link) return;
  if (value.length > textLimit) {
    show(`That is ${value.length} characters; the limit is ${textLimit}. Shorten it.`);
    return;
  }
  facecast.link.send({ type: "instruct", text: value, id: `k${nextId++}` });
  text.value = "";
});

main();
