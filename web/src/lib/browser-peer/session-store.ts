// What a browser peer remembers across reloads: its name and gateways (localStorage, to fill in the
// form) and, for this tab only, the resume token of its login (sessionStorage), so a reload takes
// the directory session over without the password. The password itself is never stored.
import { BROWSER_PEER_KEY } from "../constants.js";
import type { KeyValueStorage } from "../client/token-store.js";

/** The remembered join. */
export interface RememberedJoin {
  peerName: string;
  gateways: string[];
  resumeToken?: string;
}

function read(storage: KeyValueStorage | undefined): RememberedJoin | undefined {
  try {
    const parsed = JSON.parse(storage?.getItem(BROWSER_PEER_KEY) ?? "null") as Partial<RememberedJoin> | null;
    if (typeof parsed?.peerName !== "string" || !Array.isArray(parsed.gateways)) return undefined;
    const gateways = parsed.gateways.filter((url): url is string => typeof url === "string");
    return { peerName: parsed.peerName, gateways, ...(typeof parsed.resumeToken === "string" ? { resumeToken: parsed.resumeToken } : {}) };
  } catch {
    return undefined;
  }
}

function write(storage: KeyValueStorage | undefined, value: RememberedJoin | undefined): void {
  try {
    if (value === undefined) storage?.removeItem(BROWSER_PEER_KEY);
    else storage?.setItem(BROWSER_PEER_KEY, JSON.stringify(value));
  } catch {
    // Storage full or off: the next reload asks for the password again.
  }
}

/** Reads and writes the remembered join in both storages. */
export class JoinMemory {
  readonly #tab: KeyValueStorage | undefined;
  readonly #lasting: KeyValueStorage | undefined;

  constructor(tab: KeyValueStorage | undefined, lasting: KeyValueStorage | undefined) {
    this.#tab = tab;
    this.#lasting = lasting;
  }

  /** The join this tab can resume (with its resume token), if any. */
  resumable(): RememberedJoin | undefined {
    const join = read(this.#tab);
    return join?.resumeToken !== undefined ? join : undefined;
  }

  /** The name and gateways last used in this browser, to fill in the form. */
  lastUsed(): RememberedJoin | undefined {
    return read(this.#lasting);
  }

  /** Remembers a login. */
  remember(join: RememberedJoin): void {
    write(this.#tab, join);
    write(this.#lasting, { peerName: join.peerName, gateways: join.gateways });
  }

  /** Forgets the tab's session (logout). */
  forget(): void {
    write(this.#tab, undefined);
  }
}
