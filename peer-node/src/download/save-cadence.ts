// When a download saves its resume state (the bitfield of verified pieces): after DOWNLOAD_STATE_SAVE_PIECES
// newly verified pieces or DOWNLOAD_STATE_SAVE_INTERVAL_MS, whichever comes first. A save costs a datasync
// of the partial file, so not per piece; bounded so that a crash or kill loses at most a second or 64
// pieces of verified work. Saving every 256 pieces or never instead of every 64 did not change the 1 GiB
// bench beyond its own spread. Times come in as numbers.
import { DOWNLOAD_STATE_SAVE_INTERVAL_MS, DOWNLOAD_STATE_SAVE_PIECES } from "../constants.js";

/** The save cadence of one download (across its tries: the clock runs on, the piece count restarts). */
export class SaveCadence {
  #unsaved = 0;
  #lastSaveMs: number;

  /** A cadence whose clock starts at `nowMs`. */
  constructor(nowMs: number) {
    this.#lastSaveMs = nowMs;
  }

  /** A piece was verified at `nowMs`: true when the state is to be saved now (counted as saved). */
  pieceVerified(nowMs: number): boolean {
    this.#unsaved++;
    if (this.#unsaved < DOWNLOAD_STATE_SAVE_PIECES && nowMs - this.#lastSaveMs < DOWNLOAD_STATE_SAVE_INTERVAL_MS) return false;
    this.#unsaved = 0;
    this.#lastSaveMs = nowMs;
    return true;
  }

  /** A new try starts from other pieces: the count of unsaved ones restarts. */
  restart(): void {
    this.#unsaved = 0;
  }
}
