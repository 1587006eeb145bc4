// Bounded waiting: every loop in chaos ends by count and by time.
import { POLL_INTERVAL_MS, WAIT_TIMEOUT_MS } from "../constants.js";

/** Resolves after `ms` (unref'd, so a pending sleep never keeps a process alive). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Polls `check` until it returns something truthy and returns that; errors thrown by `check` count as
 * "not yet". Throws after `timeoutMs` with `what` and the last error.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = WAIT_TIMEOUT_MS,
  everyMs = POLL_INTERVAL_MS,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  const rounds = Math.ceil(timeoutMs / everyMs) + 1;
  let lastError: unknown;
  for (let round = 0; round < rounds; round++) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(everyMs, Math.max(1, deadline - Date.now())));
  }
  const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
}

/** Runs `task` but gives up after `timeoutMs` with an error naming `what`. */
export async function withTimeout<T>(task: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      task,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
