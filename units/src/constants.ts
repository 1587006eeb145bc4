// Every number with a unit that the shared formatting uses, in one place.

/** Time constant of the moving average of a transfer's speed (older rates fade as e^(-age/this)). */
export const SPEED_SMOOTHING_MS = 2_500;
/** A transfer's speed and time left are hidden this long after its first progress (they read wrong then). */
export const SPEED_WARMUP_MS = 3_000;
/** One kilobyte: decimal SI, as file managers and disk makers count. */
export const BYTES_PER_KB = 1_000;
