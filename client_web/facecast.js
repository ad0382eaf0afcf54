// Facecast browser client library: WebRTC connection, the JSON protocol, an fps meter.
// Plain ES module, no build step.

// The operator token (the server's --token: drives the broadcast session, e.g. from the kiosk),
// given as /kiosk#token=T (a fragment never reaches the server or its log) or ?token=T. It is
// kept in this tab's sessionStorage and removed from the address bar, and sent in a header,
// never in a URL. A private session's key stays in memory (the link), never in a URL.
const TOKEN_KEY = "facecast.token";
function readToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  const given = hash.get("token") || query.get("token");
  if (given) {
    try { sessionStorage.setItem(TOKEN_KEY, given); } catch (error) { /* private mode */ }
    hash.delete("token");
    query.delete("token");
    const rest = (query.toString() ? `?${query}` : "") + (hash.toString() ? `#${hash}` : "");
    history.replaceState(history.state, "", location.pathname + rest);
    return given;
  }
  try { return sessionStorage.getItem(TOKEN_KEY); } catch (error) { return null; }
}
export const token = readToken();

/** The headers that carry the operator token and a session key (when there are). */
function authHeaders(key = null, headers = {}) {
  const all = { ...headers };
  if (token) all["X-Facecast-Token"] = token;
  if (key) all["X-Facecast-Key"] = key;
  return all;
}

// Wait until ICE gathering is complete (the server does not trickle candidates).
function iceGathered(pc, timeoutMs = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, timeoutMs);
  });
}

/**
 * The RTCConfiguration the server hands out (GET /api/ice: its --ice-server list). No STUN or
 * TURN server is used unless the server was told about one (LAN / localhost needs none).
 */
export async function iceConfig() {
  try {
    const response = await fetch("/api/ice", { cache: "no-store" });
    const config = response.ok ? await response.json() : {};
    return { iceServers: Array.isArray(config.iceServers) ? config.iceServers : [] };
  } catch (error) {
    return { iceServers: [] };
  }
}

/**
 * Connect to the server.
 * options: {session: null | "broadcast" | id, webcam: MediaStream | null,
 *           video: HTMLVideoElement, onEvent(event), onConnection(state),
 *           view?: "avatar" | "overlay" (the picture with its matte beside it: /overlay),
 *           key?: the key of the private session ``session``}
 * Returns {send(obj), sessionId, key, rights, pc, close()}: ``key`` is the new private
 * session's secret (kept in memory only: uploads to it need it), ``rights`` "drive" or "view"
 * (the broadcast without the operator right: watch only).
 */
export async function connect(options) {
  const pc = new RTCPeerConnection(await iceConfig());
  // Closing the page closes the connection at once (the server frees the session now,
  // not when ICE consent runs out).
  window.addEventListener("pagehide", () => pc.close(), { once: true });
  const channel = pc.createDataChannel("facecast");
  const link = { pc, sessionId: null, key: null, rights: null, channel, send: null,
    close: () => pc.close(), setWebcamSending: () => {} };
  const queue = [];
  link.send = (message) => {
    const text = JSON.stringify(message);
    if (channel.readyState === "open") channel.send(text); else queue.push(text);
  };
  channel.onopen = () => { while (queue.length) channel.send(queue.shift()); options.onConnection?.("open"); };
  channel.onclose = () => options.onConnection?.("closed");
  channel.onmessage = (message) => {
    try { options.onEvent?.(JSON.parse(message.data)); } catch (error) { console.error(error); }
  };
  pc.onconnectionstatechange = () => options.onConnection?.(pc.connectionState);
  pc.ontrack = (event) => {
    if (event.track.kind !== "video") return;
    options.video.srcObject = new MediaStream([event.track]);
    options.video.play().catch(() => {});
  };
  // The webcam goes to the server only while capturing: a clone of the preview's track is
  // sent, disabled (black, ~1 fps) the rest of the time, so neither side spends CPU on it.
  const camTrack = options.webcam?.getVideoTracks()[0]?.clone();
  if (camTrack) {
    camTrack.enabled = false;
    pc.addTransceiver(camTrack, { direction: "sendrecv" });
  } else {
    pc.addTransceiver("video", { direction: "recvonly" });
  }
  link.setWebcamSending = (on) => { if (camTrack) camTrack.enabled = on; };

  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc);
  const body = { sdp: pc.localDescription.sdp, type: "offer" };
  if (options.session) body.session = options.session;
  if (options.view) body.view = options.view;
  if (options.key) body.key = options.key;
  if (token && options.session === "broadcast") body.token = token;
  let response, answer;
  try {
    response = await fetch("/offer", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    answer = await response.json();
  } catch (error) { // the server is not there (restarting, network): free this peer
    channel.onclose = null;
    pc.onconnectionstatechange = null;
    pc.close();
    throw error;
  }
  if (!response.ok) {
    // refused (server full, bad token): say why, not "closed"
    channel.onclose = null;
    pc.onconnectionstatechange = null;
    pc.close();
    const error = new Error(answer.message || "the server refused the connection");
    error.code = answer.code;
    throw error;
  }
  link.sessionId = answer.session;
  link.key = answer.key || options.key || null;
  link.rights = answer.rights || "drive";
  await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
  return link;
}

/** Upload a photo (File/Blob) to a session; resolves to the server's JSON answer. ``id`` is
 *  echoed in the session's done/error events for this upload; ``key`` is the session's key
 *  (the link's; the broadcast needs the operator token instead). */
export async function uploadPhoto(sessionId, file, id = null, key = null) {
  let url = "/upload?session=" + encodeURIComponent(sessionId);
  if (id) url += "&id=" + encodeURIComponent(id); // the session's events for it carry this id
  const response = await fetch(url, { method: "POST", body: file,
    headers: authHeaders(key, { "Content-Type": file.type || "application/octet-stream" }) });
  const answer = await response.json().catch(() => ({ code: "bad_answer", message: response.statusText }));
  if (!response.ok) {
    const error = new Error(answer.message || (response.status === 413
      ? "the photo is too large" : `upload failed (HTTP ${response.status})`));
    error.code = answer.code;
    throw error;
  }
  return answer;
}

/** ``count`` still photos of a playing <video> (the local camera) over ``seconds``, as JPEG
 *  Blobs at the camera's own resolution: full quality, unlike the first seconds of the
 *  WebRTC video, whose send bitrate is still ramping up. ``onStill(taken)`` is called after
 *  each one (a count for the page). */
export async function takeStills(video, count = 8, seconds = 2.0, onStill = null) {
  const width = video.videoWidth, height = video.videoHeight;
  if (!width || !height) throw new Error("the camera shows no picture yet");
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  const context = canvas.getContext("2d");
  const stills = [];
  for (let i = 0; i < count; i++) {
    if (i) await new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / (count - 1)));
    context.drawImage(video, 0, 0, width, height);
    stills.push(await new Promise((resolve, reject) => canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error("cannot encode a still"))), "image/jpeg", 0.92)));
    onStill?.(stills.length);
  }
  return stills;
}

/** Post stills (Blobs) to a session's POST /capture: the server picks the best and calibrates
 *  it; resolves to its JSON answer (``done`` with command "capture"). ``key`` as for
 *  uploadPhoto. */
export async function uploadStills(sessionId, stills, id = null, key = null) {
  let url = "/capture?session=" + encodeURIComponent(sessionId);
  if (id) url += "&id=" + encodeURIComponent(id);
  const form = new FormData();
  stills.forEach((still, i) => form.append("frame", still, `still${i}.jpg`));
  const response = await fetch(url, { method: "POST", body: form, headers: authHeaders(key) });
  const answer = await response.json().catch(() => ({ code: "bad_answer", message: response.statusText }));
  if (!response.ok) {
    const error = new Error(answer.message || `capture failed (HTTP ${response.status})`);
    error.code = answer.code;
    throw error;
  }
  return answer;
}

/** Frames per second decoded by the peer connection (WebRTC stats); calls onFps each second. */
export function meterStatsFps(pc, onFps) {
  let previous = null;
  return setInterval(async () => {
    const stats = await pc.getStats().catch(() => null);
    if (!stats) return;
    stats.forEach((report) => {
      if (report.type !== "inbound-rtp" || report.kind !== "video") return;
      if (previous) {
        const seconds = (report.timestamp - previous.timestamp) / 1000;
        if (seconds > 0) onFps((report.framesDecoded - previous.framesDecoded) / seconds);
      }
      previous = { timestamp: report.timestamp, framesDecoded: report.framesDecoded || 0 };
    });
  }, 1000);
}

/** Count frames shown by a video element; calls onFps(fps) every second. */
export function meterFps(video, onFps) {
  let frames = 0;
  let last = performance.now();
  let previousTotal = 0;
  const tick = () => {
    const now = performance.now();
    if (now - last >= 1000) {
      const quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
      let count = frames;
      if (quality && !("requestVideoFrameCallback" in video)) {
        count = quality.totalVideoFrames - previousTotal;
        previousTotal = quality.totalVideoFrames;
      }
      onFps((count * 1000) / (now - last));
      frames = 0;
      last = now;
    }
  };
  if ("requestVideoFrameCallback" in video) {
    const onFrame = () => { frames += 1; video.requestVideoFrameCallback(onFrame); };
    video.requestVideoFrameCallback(onFrame);
  }
  return setInterval(tick, 250);
}

/** "disgust 0.8 → happiness 1.0" from a plan event. */
export function describePlan(plan) {
  const anchors = (plan.anchors || []).map((a) => `${a.label.replaceAll("_", " ")} ${Number(a.intensity).toFixed(1)}`);
  return anchors.length ? anchors.join(" → ") : (plan.understood || []).join(" → ");
}

// The white space Python's str.strip() removes (the server's), so that the page and the server
// count an instruction the same way.
const SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const AROUND = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "g");

/** An instruction as it is sent: without its surrounding white space. */
export function cleanText(text) {
  return String(text).replace(AROUND, "");
}

/** The length of an instruction as the server counts it (protocol.text_length): Unicode code
 *  points (an emoji is one, not two UTF-16 units) of the text without surrounding space. */
export function textLength(text) {
  return [...cleanText(text)].length;
}

/** "planned in 4 parts · nothing to perform in: “We are recording…”" from a plan event
 *  ("" for a text read at once). */
export function describePieces(plan) {
  const parts = [];
  if ((plan.pieces || 1) > 1) parts.push(`planned in ${plan.pieces} parts`);
  const skipped = (plan.skipped || []).map((piece) => `“${shorten(piece, 48)}”`);
  if (skipped.length) parts.push(`nothing to perform in ${skipped.join(", ")}`);
  return parts.join(" · ");
}

/** ``text`` cut to about ``chars`` characters at a word, with an ellipsis. */
export function shorten(text, chars) {
  if (text.length <= chars) return text;
  const cut = text.slice(0, chars);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(" "), chars * 0.6)).trimEnd()}…`;
}

/** Keep the last frame a <video> showed as its poster and detach its stream (a dropped
 *  connection then shows the face as it was, not a black box). */
export function freezeVideo(video) {
  if (!video.videoWidth) return;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  video.poster = canvas.toDataURL("image/jpeg", 0.8);
  video.srcObject = null;
}
