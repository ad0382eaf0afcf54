// Keeping a connection to the server: when it cannot be made or drops (server restart,
// network), try again with backoff, without a reload. Used by the main page and the kiosk.

export const RETRY_MS = [500, 1000, 2000, 4000, 8000, 10000]; // then every 10 s

/**
 * Opens a link with ``open()`` (a promise of the link; rejects when the server is not there)
 * and, after ``lost()``, a new one, waiting RETRY_MS[attempt] between failed attempts.
 *   onWait(delayMs, attempt, error)  before each wait (error: why the last attempt failed)
 *   onOpen(link, reconnected)        a link is up (reconnected: it replaces a lost one)
 *   fatal(error) -> bool             stop trying (e.g. a bad token); onFatal(error) is called
 */
export class Reconnector {
  constructor(open, { onWait, onOpen, fatal = () => false, onFatal = () => {} }) {
    Object.assign(this, { open, onWait, onOpen, fatal, onFatal });
    this.attempt = 0;
    this.timer = null;
    this.connecting = false;
    this.everOpened = false;
  }

  /** The first connection. */
  start() {
    this._try();
  }

  /** The current link is gone: connect again (after a short wait). */
  lost() {
    if (this.timer !== null || this.connecting) return; // already on it
    this._wait(null);
  }

  get waiting() {
    return this.timer !== null || this.connecting;
  }

  async _try() {
    this.connecting = true;
    let link;
    try {
      link = await this.open();
    } catch (error) {
      this.connecting = false;
      if (this.fatal(error)) { this.onFatal(error); return; }
      this._wait(error);
      return;
    }
    this.connecting = false;
    const reconnected = this.everOpened;
    this.everOpened = true;
    this.attempt = 0;
    this.onOpen(link, reconnected);
  }

  _wait(error) {
    const delay = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
    this.attempt += 1;
    this.onWait(delay, this.attempt, error);
    this.timer = setTimeout(() => { this.timer = null; this._try(); }, delay);
  }
}
