// A transfer's progress as the CLI shows it while following one: a bar redrawn in place on a terminal,
// a plain line at most once a second (and at each change of state) elsewhere. The speed and time left
// are the CLI's own smoothed reading of the byte counts (@p2p/units, as in the tab), shown only while
// bytes move and not in a transfer's first seconds, when they read several times too high.
import { SpeedSmoother, type SpeedReading } from "@p2p/units";
import { CLI_BAR_WIDTH_CHARS, CLI_PROGRESS_LINE_INTERVAL_MS } from "../constants.js";
import { TransferState, type TransferProgress } from "../gen.js";
import { bar, progressLine } from "./format.js";

/** Prints the progress of one followed transfer. */
export class ProgressPrinter {
  readonly #out: NodeJS.WritableStream;
  readonly #tty: boolean;
  #smoother = new SpeedSmoother();
  #lastState: TransferState | undefined;
  #lastLineMs = 0;
  #drawn = false;

  /** Prints to `out`, as a bar redrawn in place when `tty`, else as lines. */
  constructor(out: NodeJS.WritableStream, tty: boolean) {
    this.#out = out;
    this.#tty = tty;
  }

  /** Shows one progress report received at `nowMs`. */
  show(progress: TransferProgress, nowMs: number): void {
    const changed = progress.state !== this.#lastState;
    // A new phase (queued, running, verifying) starts a new average: verifying moves no bytes.
    if (changed) this.#smoother = new SpeedSmoother();
    this.#smoother.sample(Number(progress.bytesDone), nowMs);
    const speed: SpeedReading | undefined =
      progress.state === TransferState.RUNNING ? this.#smoother.reading(Number(progress.bytesTotal), nowMs) : undefined;
    if (this.#tty) {
      this.#out.write(`\r${bar(progress, CLI_BAR_WIDTH_CHARS, speed)}\x1b[K`);
      this.#drawn = true;
    } else if (changed || nowMs - this.#lastLineMs >= CLI_PROGRESS_LINE_INTERVAL_MS) {
      this.#out.write(`${progressLine(progress, speed)}\n`);
      this.#lastLineMs = nowMs;
    }
    this.#lastState = progress.state;
  }

  /** Ends the bar's line, so what is printed next starts on a line of its own. */
  end(): void {
    if (this.#drawn) this.#out.write("\n");
    this.#drawn = false;
  }
}
