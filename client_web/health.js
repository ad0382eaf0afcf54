// The stream's health as the page sees it: the gaps between the frames the <video> presents
// (requestVideoFrameCallback), over the last few seconds. Honest numbers, measured here.

/**
 * Watch ``video``; every 500 ms call ``onReport`` with, for the last ``windowMs``:
 *   {late, longestMs, lateMs, stalledMs, windowMs, frames}
 * late: gaps longer than ``lateAfterMs()`` (and the current one, when no frame came for that
 * long: stalledMs); longestMs: the longest of them; lateMs: their total. No report before
 * the first frame, nor while the page is hidden (browsers stop presenting frames then).
 * Returns {reset()} (forget the past, e.g. after a reconnect).
 */
export function watchFrames(video, onReport, { windowMs = 10000, lateAfterMs = () => 250 } = {}) {
  const gaps = []; // [presented at, gap ms]
  let last = null;
  let frames = 0;
  const reset = () => { gaps.length = 0; last = null; };
  if (!("requestVideoFrameCallback" in video)) return { reset, supported: false };
  const onFrame = (now) => {
    if (last !== null && now - last > lateAfterMs()) gaps.push([now, now - last]);
    last = now;
    frames += 1;
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  document.addEventListener("visibilitychange", reset);
  setInterval(() => {
    if (last === null || document.visibilityState === "hidden") return;
    const now = performance.now();
    while (gaps.length && now - gaps[0][0] > windowMs) gaps.shift();
    const waiting = now - last;
    const stalledMs = waiting > lateAfterMs() ? waiting : 0;
    const all = gaps.map(([, gap]) => gap).concat(stalledMs ? [stalledMs] : []);
    onReport({
      late: all.length,
      longestMs: all.length ? Math.max(...all) : 0,
      lateMs: all.reduce((sum, gap) => sum + gap, 0),
      stalledMs,
      windowMs,
      frames,
    });
  }, 500);
  return { reset, supported: true };
}

/** What the page says about a report (empty when the stream is on time). */
export function describeHealth(report) {
  if (!report || !report.late) return "";
  const seconds = (ms) => `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
  if (report.stalledMs >= 1000) {
    return `No new frame for ${seconds(report.stalledMs)}: the server or the network is slow. ` +
      "The video goes on by itself when they catch up.";
  }
  const pauses = report.late === 1 ? "1 pause" : `${report.late} pauses`;
  return `The stream is late: ${pauses} in the last ${Math.round(report.windowMs / 1000)} s ` +
    `(longest ${seconds(report.longestMs)}, ${seconds(report.lateMs)} in all).`;
}
