// Kiosk: full-screen avatar of the shared "broadcast" session, a large chat box.
// When nobody types, the server's demo loop performs example instructions.
import { connect, describePlan, meterStatsFps, uploadPhoto } from "/static/facecast.js";

const $ = (id) => document.getElementById(id);
const video = $("avatar");
const caption = $("caption");
const text = $("text");
const send = $("send");
const facecast = (window.facecast = { events: [], link: null });
let nextId = 1;
let captionTimer = null;

function show(message, sticky = false) {
  caption.textContent = message;
  caption.classList.add("visible");
  clearTimeout(captionTimer);
  if (!sticky) captionTimer = setTimeout(() => caption.classList.remove("visible"), 6000);
}

function onEvent(event) {
  facecast.events.push(event);
  if (event.type === "status" && event.has_avatar === false) {
    show("No face yet: upload a photo (below), or start the server with --photo", true);
    $("upload").hidden = false;
  } else if (event.type === "status" && event.has_avatar) {
    text.disabled = send.disabled = false;
    if (!$("upload").hidden) { $("upload").hidden = true; show("Ready: type an instruction below"); }
  }
  if (event.type === "plan") show(`“${event.text}” — ${describePlan(event)}`);
  if (event.type === "error") show(event.message);
}

async function main() {
  try {
    facecast.link = await connect({ session: "broadcast", webcam: null, video, onEvent,
      onConnection: (state) => {
        if (state === "open") state = "connected";
        $("connection").textContent = state;
        document.body.dataset.connection = state;
      } });
  } catch (error) {
    show(error.message, true);
    return;
  }
  meterStatsFps(facecast.link.pc, (fps) => { $("fps").textContent = `${fps.toFixed(0)} fps`; });
  document.documentElement.requestFullscreen?.().catch(() => {});
}

$("photo").addEventListener("change", async () => {
  const file = $("photo").files[0];
  $("photo").value = "";
  if (!file) return;
  show("Reading the photo…", true);
  try {
    await uploadPhoto("broadcast", file, `k${nextId++}`); // the kiosk shows the broadcast session
  } catch (error) {
    show(error.message, true);
  }
});

$("chat").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = text.value.trim();
  if (!value || !facecast.link) return;
  facecast.link.send({ type: "instruct", text: value, id: `k${nextId++}` });
  text.value = "";
});

main();
