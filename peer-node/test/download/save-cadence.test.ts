import { expect, it } from "vitest";
import { DOWNLOAD_STATE_SAVE_INTERVAL_MS, DOWNLOAD_STATE_SAVE_PIECES } from "../../src/constants.js";
import { SaveCadence } from "../../src/download/save-cadence.js";

it("saves the resume state every 64 verified pieces, or after a second, whichever comes first", () => {
  const c = new SaveCadence(0);
  const fast = Array.from({ length: 2 * DOWNLOAD_STATE_SAVE_PIECES }, (_, k) => c.pieceVerified(k));
  expect(fast.flatMap((due, k) => (due ? [k] : []))).toEqual([DOWNLOAD_STATE_SAVE_PIECES - 1, 2 * DOWNLOAD_STATE_SAVE_PIECES - 1]);
  // Slow pieces: the clock decides, counted from the last save.
  const last = 2 * DOWNLOAD_STATE_SAVE_PIECES - 1;
  expect(c.pieceVerified(last + DOWNLOAD_STATE_SAVE_INTERVAL_MS - 1)).toBe(false);
  expect(c.pieceVerified(last + DOWNLOAD_STATE_SAVE_INTERVAL_MS)).toBe(true);
});

it("counts pieces afresh for a new try, and keeps its clock", () => {
  const c = new SaveCadence(0);
  for (let k = 0; k < DOWNLOAD_STATE_SAVE_PIECES - 1; k++) expect(c.pieceVerified(1)).toBe(false);
  c.restart();
  expect(c.pieceVerified(2)).toBe(false);
  expect(c.pieceVerified(DOWNLOAD_STATE_SAVE_INTERVAL_MS)).toBe(true);
});
