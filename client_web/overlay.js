// OBS browser source: the broadcast avatar alone, its background keyed out.
//   /overlay                  transparent background (OBS composites the alpha)
//   /overlay?bg=green         chroma-key green (#00ff00)
//   /overlay?bg=%23RRGGBB     any colour (# written %23 in a URL)
//   &mirror=1                 mirrored (off by default: viewers see the avatar as it is)
// The server sends the picture and its matte side by side (WebRTC video has no alpha); this
// page turns the matte into transparency, or blends towards the key colour, on a canvas.
// No controls; when the server goes away it reconnects by itself (backoff, then every 10 s).
import { connect } from "/static/facecast.js";

const params = new URLSearchParams(location.search);
const canvas = document.getElementById("avatar");
const video = document.getElementById("stream");
const context = canvas.getContext("2d", { willReadFrequently: true });
const work = document.createElement("canvas");
const workContext = work.getContext("2d", { willReadFrequently: true });
const RETRY_MS = [500, 1000, 2000, 4000, 8000, 10000];
// The matte arrives through H.264: a few levels of noise on either side. Below LOW is
// background, above HIGH the avatar, stretched linearly between.
const LOW = 10, HIGH = 245;

function parseBackground(text) {
  if (text === null || text === "" || text === "transparent") return { name: "transparent", rgb: null };
  if (text === "green") return { name: "green", rgb: [0, 255, 0] };
  const match = /^#?([0-9a-fA-F]{6})$/.exec(text);
  if (match) {
    const value = parseInt(match[1], 16);
    return { name: `#${match[1].toLowerCase()}`, rgb: [value >> 16, (value >> 8) & 255, value & 255] };
  }
  return null;
}

const background = parseBackground(params.get("bg"));
const mirror = params.get("mirror") === "1";
// Exposed for scripting and tests.
const facecast = (window.facecast = { events: [], link: null, connects: 0, frames: 0,
  background: background ? background.name : "transparent", states: [],
  error: background ? null : `bg must be transparent, green or #RRGGBB (got "${params.get("bg")}"): using transparent` });
if (!background) console.warn(facecast.error);
const key = background?.rgb ?? null;
if (key) document.body.style.background = `rgb(${key.join(",")})`;
canvas.classList.toggle("mirrored", mirror);

function draw() {
  const fullWidth = video.videoWidth, height = video.videoHeight;
  const width = fullWidth >> 1;
  if (!width || !height) return;
  if (work.width !== fullWidth || work.height !== height) { work.width = fullWidth; work.height = height; }
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  workContext.drawImage(video, 0, 0);
  const packed = workContext.getImageData(0, 0, fullWidth, height).data;
  const out = context.createImageData(width, height);
  const pixels = out.data;
  const scale = 255 / (HIGH - LOW);
  for (let y = 0; y < height; y++) {
    let source = y * fullWidth * 4, matte = source + width * 4, target = y * width * 4;
    for (let x = 0; x < width; x++, source += 4, matte += 4, target += 4) {
      const level = packed[matte + 1]; // green carries the most precise grey (luma)
      const alpha = level <= LOW ? 0 : level >= HIGH ? 255 : Math.round((level - LOW) * scale);
      if (key === null) {
        pixels[target] = packed[source];
        pixels[target + 1] = packed[source + 1];
        pixels[target + 2] = packed[source + 2];
        pixels[target + 3] = alpha;
      } else {
        const a = alpha / 255, b = 1 - a;
        pixels[target] = packed[source] * a + key[0] * b;
        pixels[target + 1] = packed[source + 1] * a + key[1] * b;
        pixels[target + 2] = packed[source + 2] * a + key[2] * b;
        pixels[target + 3] = 255;
      }
    }
  }
  context.putImageData(out, 0, 0);
  facecast.frames += 1;
}

function loop() {
  if ("requestVideoFrameCallback" in video) {
    const onFrame = () => { draw(); video.requestVideoFrameCallback(onFrame); };
    video.requestVideoFrameCallback(onFrame);
  } else {
    let last = -1;
    const tick = () => {
      if (video.readyState >= 2 && video.currentTime !== last) { last = video.currentTime; draw(); }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }
}

let current = { live: false };
let retryTimer = null;

function onConnection(mine, state) {
  if (!mine.live) return;
  facecast.states.push(state);
  document.body.dataset.connection = state;
  if (["failed", "closed", "disconnected"].includes(state)) scheduleReconnect();
}

async function open() {
  facecast.connects += 1;
  current.live = false;
  const mine = (current = { live: true });
  facecast.link = await connect({ session: "broadcast", view: "overlay", webcam: null, video,
    onEvent: (event) => facecast.events.push(event), onConnection: (state) => onConnection(mine, state) });
}

function scheduleReconnect(attempt = 0) {
  if (retryTimer !== null) return;
  current.live = false;
  facecast.link?.close();
  facecast.link = null;
  document.body.dataset.connection = "reconnecting";
  const delay = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)];
  retryTimer = setTimeout(async () => {
    retryTimer = null;
    try { await open(); } catch (error) { scheduleReconnect(attempt + 1); }
  }, delay);
}

loop();
open().catch(() => scheduleReconnect());
