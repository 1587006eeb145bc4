import type { KeyValueStorage } from "../client/token-store.js";
import { CLEARED_TRANSFERS_KEY_PREFIX, CLEARED_TRANSFERS_MAX } from "../constants.js";

/** Prefix of the ids the tab makes up for transfers the pserver has not named yet (imports). */
export const LOCAL_ID_PREFIX = "local-";

/**
 * The transfer ids a person cleared from the list. The pserver keeps its own record of ended
 * transfers and sends it again after every reconnect and reload; these ids keep them out of the list.
 * Kept in tab storage under the peer's name, the newest few hundred (the pserver forgets its record on
 * restart, and its ids are UUIDs, so old ones never come back).
 */
export class ClearedTransfers {
  #ids = new Set<string>();
  #key: string | undefined;
  readonly #storage: KeyValueStorage | undefined;

  constructor(storage?: KeyValueStorage) {
    this.#storage = storage;
  }

  /** Loads what was cleared for a peer before (a reload, or a login after a logout). */
  useFor(peerName: string): void {
    this.#key = `${CLEARED_TRANSFERS_KEY_PREFIX}${peerName}`;
    try {
      const parsed: unknown = JSON.parse(this.#storage?.getItem(this.#key) ?? "[]");
      if (Array.isArray(parsed)) for (const id of parsed) if (typeof id === "string") this.#ids.add(id);
    } catch {
      // Unreadable: nothing was cleared, as far as this tab can tell.
    }
  }

  /** Whether an id was cleared. */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Every cleared id. */
  all(): Iterable<string> {
    return this.#ids;
  }

  /** Remembers cleared ids, in the tab's storage too once the peer is known. */
  add(ids: Iterable<string>): void {
    for (const id of ids) this.#ids.add(id);
    if (this.#key === undefined) return;
    // Ids the tab made up itself (imports the pserver never heard of) do not outlive the page.
    const kept = [...this.#ids].filter((id) => !id.startsWith(LOCAL_ID_PREFIX)).slice(-CLEARED_TRANSFERS_MAX);
    try {
      this.#storage?.setItem(this.#key, JSON.stringify(kept));
    } catch {
      // Storage full or refused: the list is cleared for this page all the same.
    }
  }

  /** Forgets the ids in memory (logout); the tab's storage keeps them for the next login. */
  reset(): void {
    this.#ids.clear();
    this.#key = undefined;
  }
}
