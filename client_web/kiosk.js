// Kiosk: the avatar of the shared "broadcast" session, large, with its caption below it and a
// large chat box. When nobody types, the server's demo loop performs example instructions;
// the caption says which is the demo and when it comes back.
// Runs all day: the face can be changed at any time (the upload button stays), and when the
// server goes away (restart, network) the page reconnects by itself with backoff, putting
// back the face it showed if the restarted server has none.
// Driving the broadcast (instructions, the face) needs the operator right: the server's
// --token given as /kiosk#token=T, or this machine when the server has no token. Without it
// the kiosk only watches ("view only": no chat box, no upload button).
import {
  cleanText, connect, describePieces, describePlan, freezeVideo, meterStatsFps, shorten, textLength,
  uploadPhoto,
} from "/static/facecast.js";
import { describeHealth, watchFrames } from "/static/health.js";
import { Reconnector } from "/static/reconnect.js";

const $ = (id) => document.getElementById(id);
const video = $("avatar");
const caption = $("caption");
const text = $("text");
const send = $("send");
const upload = $("upload");
const photo = $("photo");
// Exposed for scripting and tests: events received, the link, reconnect attempts.
const facecast = (window.facecast = { events: [], link: null, connects: 0, reconnecting: false,
  health: null, restored: 0, viewOnly: false });
const VIEW_ONLY = "View only: this screen watches the shared avatar. To type instructions or " +
  "change the face here, open /kiosk#token=… with the server's --token (or open it on the " +
  "server's own machine).";
let nextId = 1;
let captionTimer = null;
let textLimit = 1000; // replaced by the server's limits.text_chars
let streamFps = 30;
let demoIdle = null; // seconds without input before the server's demo loop plays
let meter = null;
let lastFace = null; // the photo uploaded here: put back after a server restart
let current = { live: false }; // the connection whose events and state changes count

// The caption sits below the video (its own row: it never covers the face). Sticky messages
// stay; the others fade after 6 s, keeping their space so the video does not jump.
function show(message, sticky = false) {
  caption.textContent = message;
  caption.classList.add("visible");
  clearTimeout(captionTimer);
  if (!sticky) captionTimer = setTimeout(() => caption.classList.remove("visible"), 6000);
}

function setHasFace(hasFace) {
  text.disabled = send.disabled = !hasFace || !facecast.link || facecast.viewOnly;
  upload.textContent = hasFace ? "Change the face" : "Upload a photo";
}

function demoNote() {
  return demoIdle ? ` · demo after ${Math.round(demoIdle)} s idle` : "";
}

function onEvent(event) {
  facecast.events.push(event);
  if (event.type === "status") {
    if (event.limits?.text_chars) textLimit = event.limits.text_chars;
    if (event.settings?.fps) streamFps = event.settings.fps;
    if (event.demo_idle_seconds !== undefined) demoIdle = event.demo_idle_seconds;
    $("demo").textContent = demoNote();
    if (facecast.viewOnly) {
      setHasFace(Boolean(event.has_avatar));
      if (event.has_avatar === false) show(`No face yet. ${VIEW_ONLY}`, true);
    } else if (event.has_avatar === false) {
      setHasFace(false);
      if (lastFace && !facecast.restoring) restoreFace();
      else if (!facecast.restoring) show("No face yet: upload a photo of a face (button below)", true);
    } else if (event.has_avatar) {
      const hadFace = !text.disabled;
      setHasFace(true);
      if (!hadFace) show("Ready: type an instruction below, e.g. “look surprised, then smile”");
    }
  }
  if (event.type === "plan") {
    const pieces = describePieces(event);
    const what = `“${shorten(event.text, 90)}” — ${describePlan(event)}${pieces ? ` (${pieces})` : ""}`;
    const demo = String(event.id || "").startsWith("demo-");
    show(demo ? `Demo: ${what}. Type your own below.` : what);
  }
  if (event.type === "error") show(event.message);
}

function setConnection(state) {
  if (state === "open") state = "connected";
  (facecast.states ??= []).push(state);
  $("connection").textContent = state;
  document.body.dataset.connection = state;
  if (["failed", "closed", "disconnected"].includes(state)) lost();
}

async function open() {
  facecast.connects += 1;
  current.live = false; // a replaced connection's late events are ignored
  const mine = (current = { live: true });
  return connect({ session: "broadcast", webcam: null, video,
    onEvent: (event) => { if (mine.live) onEvent(event); },
    onConnection: (state) => { if (mine.live) setConnection(state); } });
}

function lost() {
  if (!facecast.link && facecast.reconnecting) return;
  const old = facecast.link;
  facecast.link = null;
  current.live = false;
  freezeVideo(video); // the last frame stays while reconnecting
  old?.close();
  text.disabled = send.disabled = true;
  health.reset();
  showHealth(null);
  reconnector.lost();
}

const reconnector = new Reconnector(open, {
  onWait(delay) {
    facecast.reconnecting = true;
    show(`The server is not answering: reconnecting in ${Math.round(delay / 100) / 10} s…`, true);
    $("connection").textContent = "reconnecting…";
    document.body.dataset.connection = "reconnecting";
  },
  onOpen(link, reconnected) {
    facecast.link = link;
    facecast.reconnecting = false;
    facecast.viewOnly = link.rights === "view";
    document.body.dataset.rights = link.rights;
    $("rights").textContent = facecast.viewOnly ? " · view only" : "";
    if (facecast.viewOnly && !reconnected) show(VIEW_ONLY, true);
    clearInterval(meter);
    meter = meterStatsFps(link.pc, (fps) => { $("fps").textContent = `${fps.toFixed(0)} fps`; });
    if (reconnected) show("Reconnected");
  },
  fatal: (error) => ["unauthorized", "bad_origin"].includes(error.code), // a retry cannot help
  onFatal: (error) => show(error.message, true),
});

// A restarted server without a face: put back the one this kiosk showed.
async function restoreFace() {
  facecast.restoring = true;
  show("Reconnected: putting the face back…", true);
  try {
    await uploadPhoto("broadcast", lastFace, `k${nextId++}`);
    facecast.restored += 1;
    show("Reconnected with the same face: type an instruction below");
  } catch (error) {
    show(`${error.message}. Upload a photo of a face (button below).`, true);
  } finally {
    facecast.restoring = false;
  }
}

// A small honest line when frames come late (measured gaps between presented frames).
function showHealth(report) {
  facecast.health = report;
  const message = facecast.link ? describeHealth(report) : "";
  $("health").textContent = message;
  $("health").hidden = !message;
}
const health = watchFrames(video, showHealth, { lateAfterMs: () => Math.max(250, 3000 / streamFps) });

// Full screen needs a user gesture: a button, not a call at load.
$("fullscreen").addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen?.().catch(() => {});
  else document.documentElement.requestFullscreen?.().catch((error) => show(`Full screen is not allowed here (${error.message})`));
});

photo.addEventListener("change", async () => {
  const file = photo.files[0];
  photo.value = "";
  if (!file) return;
  show("Reading the photo…", true);
  try {
    await uploadPhoto("broadcast", file, `k${nextId++}`); // the kiosk shows the broadcast session
    lastFace = file;
    show("New face ready: type an instruction below");
  } catch (error) {
    show(`${error.message}. Try another photo: one face, from the front, in good light.`, true);
  }
});

$("chat").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = cleanText(text.value);
  if (!value || !facecast.link) return;
  const length = textLength(value);
  if (length > textLimit) {
    show(`That is ${length} characters; the limit is ${textLimit}. Shorten it.`);
    return;
  }
  facecast.link.send({ type: "instruct", text: value, id: `k${nextId++}` });
  text.value = "";
});

reconnector.start();
