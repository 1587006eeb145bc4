// Who holds a file: the directory's answer for one download, without this peer, the holders the download
// no longer trusts, and duplicates. A directory that cannot be reached is an empty answer (the download
// goes on with the holders it has, and asks again later); the failure is kept to explain a download that
// never found anyone.
import type { Logger } from "pino";
import type { FindHolders, PeerRef } from "../transfer/api.js";

/** What a lookup needs. */
export interface HolderLookupOptions {
  readonly contentId: string;
  readonly findHolders: FindHolders;
  /** This peer's name (never a holder); a function when it can change at login. */
  readonly selfName: string | (() => string);
  /** Holders this download does not ask (banned, distrusted). */
  readonly excluded: (name: string) => boolean;
  readonly logger: Logger;
  /** The download's signal: an abort ends a lookup with the signal's reason. */
  readonly signal: AbortSignal;
}

/** The directory's holders of one download's content id. */
export class HolderLookup {
  readonly #o: HolderLookupOptions;
  #lastError: unknown;

  constructor(options: HolderLookupOptions) {
    this.#o = options;
  }

  /** Why the last lookup failed, or undefined when it answered. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** Holders from the directory, minus this peer and excluded ones, one per name; [] when it cannot be reached. */
  async find(): Promise<PeerRef[]> {
    const o = this.#o;
    const self = typeof o.selfName === "function" ? o.selfName() : o.selfName;
    let refs: PeerRef[];
    try {
      refs = await o.findHolders(o.contentId, o.signal);
      this.#lastError = undefined;
    } catch (err) {
      o.signal.throwIfAborted();
      this.#lastError = err;
      o.logger.info({ err: (err as Error).message }, "could not ask the directory for holders");
      return [];
    }
    const seen = new Set<string>();
    return refs.filter((r) => {
      if (r.name === self || o.excluded(r.name) || seen.has(r.name)) return false;
      seen.add(r.name);
      return true;
    });
  }
}
