// Which holders a download fetches pieces from: those whose manifest is the one the content id names.
//
// The content id is the SHA-256 of the canonical manifest (docs/content-ids.md), so a manifest a holder
// sends is checked against the id as soon as it arrives (checkManifest), before any piece is fetched.
// There is only one manifest that passes; a holder that sends another (another piece size, hashes of
// other bytes) is refused and not asked again for this file, and how many holders send the same wrong
// manifest changes nothing. A holder that does not answer in time is only skipped: it may answer later.
import type { Logger } from "pino";
import { HOLDERS_PER_DOWNLOAD_MAX } from "../constants.js";
import { isPeerError, PeerError } from "../errors.js";
import type { PeerClients } from "../pieces/peer-clients.js";
import { manifestFromProto } from "../pieces/manifest-wire.js";
import type { Manifest } from "../store/file-store.js";
import { checkManifest } from "../store/pieces.js";
import type { PeerRef } from "../transfer/api.js";
import { sleep } from "../transfer/rate-limiter.js";
import type { HolderLookup } from "./holder-lookup.js";

/** The manifest a download uses. */
export interface ChosenManifest {
  readonly manifest: Manifest;
  /** The holders that serve it. */
  readonly holders: readonly PeerRef[];
  /** It is the manifest passed as `saved` (a resumed download goes on with its verified pieces as they are). */
  readonly isSaved: boolean;
}

/** Getting the manifest from holders and finding the holders that serve it. */
export interface ManifestChoice {
  /**
   * Finds holders that serve the manifest the content id names (`saved`, a resumed download's, was
   * checked against the id when it was loaded); throws a PeerError (NO_HOLDERS, or
   * DIRECTORY_UNREACHABLE) when no holder serves it in time.
   */
  choose(saved: Manifest | undefined): Promise<ChosenManifest>;
  /** Whether a holder found later serves the manifest the id names (only then is it asked for pieces). */
  serves(ref: PeerRef): Promise<boolean>;
  /** Every holder that sent a manifest the content id does not name. */
  readonly distrusted: ReadonlySet<string>;
}

/** What the verified choice needs. */
export interface VerifiedManifestChoiceOptions {
  readonly contentId: string;
  readonly lookup: HolderLookup;
  readonly peers: Pick<PeerClients, "client">;
  readonly logger: Logger;
  /** The download's signal: an abort ends a choice with the signal's reason. */
  readonly signal: AbortSignal;
  /** How long a holder may take to answer GetManifest. */
  readonly manifestTimeoutMs: number;
  /** How long to wait for a first holder that serves the manifest. */
  readonly noHolderGraceMs: number;
}

/** The manifest the content id names, and the holders that serve it. */
export class VerifiedManifestChoice implements ManifestChoice {
  readonly #o: VerifiedManifestChoiceOptions;
  readonly #distrusted = new Set<string>();

  constructor(options: VerifiedManifestChoiceOptions) {
    this.#o = options;
  }

  get distrusted(): ReadonlySet<string> {
    return this.#distrusted;
  }

  async choose(saved: Manifest | undefined): Promise<ChosenManifest> {
    const { lookup, signal, noHolderGraceMs } = this.#o;
    const deadline = Date.now() + noHolderGraceMs;
    const tried = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      const refs = (await lookup.find()).filter((r) => !this.#distrusted.has(r.name)).slice(0, HOLDERS_PER_DOWNLOAD_MAX);
      for (const r of refs) tried.add(r.name);
      const results = await Promise.all(refs.map((ref) => this.#probe(ref)));
      const serving = results.filter((r) => r !== undefined);
      if (serving.length > 0) {
        return { manifest: saved ?? serving[0]!.manifest, holders: serving.map((r) => r.ref), isSaved: saved !== undefined };
      }
      if (Date.now() >= deadline) {
        if (lookup.lastError !== undefined && tried.size === 0) {
          throw new PeerError("DIRECTORY_UNREACHABLE", "The directory could not be reached to find who holds this file.", { cause: lookup.lastError });
        }
        const refused = [...this.#distrusted];
        throw new PeerError(
          "NO_HOLDERS",
          tried.size === 0 && refused.length === 0
            ? "No live peer holds this file right now."
            : `None of the peers that hold this file answered with the manifest its content id names` +
                (refused.length > 0 ? ` (${refused.join(", ")} sent a different one and were refused).` : ` (tried ${[...tried].join(", ")}).`),
        );
      }
      await sleep(Math.min(250 * 2 ** attempt, 2_000, Math.max(0, deadline - Date.now())), signal);
    }
  }

  async serves(ref: PeerRef): Promise<boolean> {
    if (this.#distrusted.has(ref.name)) return false;
    return (await this.#probe(ref)) !== undefined;
  }

  /** A holder's manifest if it answers in time with the one the content id names; a different one distrusts it. */
  async #probe(ref: PeerRef): Promise<{ ref: PeerRef; manifest: Manifest } | undefined> {
    const { contentId, signal } = this.#o;
    let res;
    try {
      const client = this.#o.peers.client(ref.address);
      res = await client.getManifest({ contentId }, { signal, timeoutMs: this.#o.manifestTimeoutMs });
    } catch (err) {
      signal.throwIfAborted();
      this.#o.logger.debug({ holder: ref.name, err: (err as Error).message }, "no manifest from holder");
      return undefined;
    }
    try {
      return { ref, manifest: checkManifest(manifestFromProto(res.manifest), contentId) };
    } catch (err) {
      if (!isPeerError(err, "BAD_MANIFEST")) throw err;
      this.#distrusted.add(ref.name);
      this.#o.logger.warn({ holder: ref.name, problem: err.message }, "holder sent a manifest the content id does not name; not using it for this file");
      return undefined;
    }
  }
}
