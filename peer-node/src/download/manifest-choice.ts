// Which manifest a download fetches pieces against, and which holders it trusts for it.
//
// A manifest names the piece hashes; only the whole-file hash (the content id) proves it. So today a
// download asks every holder for its manifest, checks each adds up, and goes with the majority: a lying
// manifest shows only at the final hash, and agreement of two holders is the best early check there is.
// If the chosen manifest then does not produce the file, its holders are distrusted and the next try
// goes with another manifest, once per distinct manifest at most.
//
// The download job sees only the ManifestChoice interface, so a manifest the content id authenticates
// by itself can replace the vote without touching the job.
import type { Logger } from "pino";
import { HOLDERS_PER_DOWNLOAD_MAX } from "../constants.js";
import { PeerError } from "../errors.js";
import type { PeerClients } from "../pieces/peer-clients.js";
import { manifestFromProto } from "../pieces/manifest-wire.js";
import type { Manifest } from "../store/file-store.js";
import { checkManifest, manifestFingerprint } from "../store/pieces.js";
import type { PeerRef } from "../transfer/api.js";
import { sleep } from "../transfer/rate-limiter.js";
import type { HolderLookup } from "./holder-lookup.js";

/** The manifest a try of a download uses. */
export interface ChosenManifest {
  readonly manifest: Manifest;
  /** The holders that serve it. */
  readonly holders: readonly PeerRef[];
  /** It is the manifest passed as `saved` (a resumed download goes on with its verified pieces as they are). */
  readonly isSaved: boolean;
}

/** Getting manifests from holders and choosing the one to download with. */
export interface ManifestChoice {
  /**
   * Finds holders and chooses a manifest, preferring `saved` (a resumed download's) while a holder serves
   * it; throws a PeerError (NO_HOLDERS, or DIRECTORY_UNREACHABLE) when no holder serves a usable one in time.
   */
  choose(saved: Manifest | undefined): Promise<ChosenManifest>;
  /** Whether a holder found later serves the chosen manifest (only then is it asked for pieces). */
  serves(ref: PeerRef): Promise<boolean>;
  /**
   * The chosen manifest did not produce the file. When another manifest remains to try, forgets the
   * chosen one and returns the names of the holders that served it (the download stops trusting them);
   * otherwise returns undefined and changes nothing.
   */
  rejectChosen(): string[] | undefined;
  /** Every holder that served a manifest that proved wrong. */
  readonly distrusted: ReadonlySet<string>;
}

/** What the majority choice needs. */
export interface MajorityManifestChoiceOptions {
  readonly contentId: string;
  readonly lookup: HolderLookup;
  readonly peers: Pick<PeerClients, "client">;
  readonly logger: Logger;
  /** The download's signal: an abort ends a choice with the signal's reason. */
  readonly signal: AbortSignal;
  /** How long a holder may take to answer GetManifest. */
  readonly manifestTimeoutMs: number;
  /** How long to wait for a first holder with a usable manifest (or for the saved one). */
  readonly noHolderGraceMs: number;
}

/** Manifests grouped by fingerprint, with the holders that serve each. */
type Groups = Map<string, { manifest: Manifest; refs: PeerRef[] }>;

/** The manifest most holders serve; after one proves wrong, the next most served. */
export class MajorityManifestChoice implements ManifestChoice {
  readonly #o: MajorityManifestChoiceOptions;
  /** Fingerprints of manifests that did not produce the file. */
  readonly #rejected = new Set<string>();
  readonly #distrusted = new Set<string>();
  /** Fingerprints of manifests other holders served that have not been tried (bounds the retries). */
  readonly #others = new Set<string>();
  /** The chosen manifest's fingerprint; "" before a choice and after a rejection. */
  #fingerprint = "";
  /** Holders whose manifest the current try uses. */
  #usedBy: string[] = [];

  constructor(options: MajorityManifestChoiceOptions) {
    this.#o = options;
  }

  get distrusted(): ReadonlySet<string> {
    return this.#distrusted;
  }

  async choose(saved: Manifest | undefined): Promise<ChosenManifest> {
    const prefer = saved ? manifestFingerprint(saved) : undefined;
    const groups = await this.#probeUntilAny(prefer);
    for (const fp of this.#rejected) groups.delete(fp);
    if (groups.size === 0) throw new PeerError("NO_HOLDERS", "No holder serves a manifest that has not already proved wrong.");
    let chosen = prefer === undefined ? undefined : groups.get(prefer);
    const isSaved = chosen !== undefined;
    // Ties go to the manifest whose first holder the directory listed first.
    chosen ??= [...groups.values()].sort((a, b) => b.refs.length - a.refs.length)[0]!;
    if (groups.size > 1) {
      this.#o.logger.warn({ groups: [...groups.values()].map((g) => g.refs.map((r) => r.name)) }, "holders disagree about the manifest; using the majority");
    }
    this.#fingerprint = manifestFingerprint(chosen.manifest);
    this.#usedBy = chosen.refs.map((r) => r.name);
    for (const fp of groups.keys()) if (fp !== this.#fingerprint) this.#others.add(fp);
    return { manifest: chosen.manifest, holders: chosen.refs, isSaved };
  }

  async serves(ref: PeerRef): Promise<boolean> {
    const probe = await this.#probe(ref);
    return probe !== undefined && manifestFingerprint(probe.manifest) === this.#fingerprint;
  }

  rejectChosen(): string[] | undefined {
    if (this.#fingerprint === "" || this.#others.size === 0) return undefined;
    const servedBy = this.#usedBy;
    this.#rejected.add(this.#fingerprint);
    for (const name of servedBy) this.#distrusted.add(name);
    this.#others.delete(this.#fingerprint);
    this.#fingerprint = "";
    this.#usedBy = [];
    return servedBy;
  }

  /**
   * Finds holders and their manifests, waiting up to noHolderGraceMs for a first usable one (and, when
   * `prefer` is given, for a holder that serves that one). Returns manifests grouped by fingerprint.
   */
  async #probeUntilAny(prefer: string | undefined): Promise<Groups> {
    const { lookup, signal, noHolderGraceMs } = this.#o;
    const deadline = Date.now() + noHolderGraceMs;
    const tried = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      const refs = (await lookup.find()).slice(0, HOLDERS_PER_DOWNLOAD_MAX);
      for (const r of refs) tried.add(r.name);
      const groups: Groups = new Map();
      const results = await Promise.all(refs.map((ref) => this.#probe(ref)));
      for (const r of results) {
        if (!r) continue;
        const fp = manifestFingerprint(r.manifest);
        const g = groups.get(fp) ?? { manifest: r.manifest, refs: [] };
        g.refs.push(r.ref);
        groups.set(fp, g);
      }
      if (groups.size > 0 && (prefer === undefined || groups.has(prefer) || Date.now() >= deadline)) return groups;
      if (Date.now() >= deadline) {
        if (lookup.lastError !== undefined && tried.size === 0) {
          throw new PeerError("DIRECTORY_UNREACHABLE", "The directory could not be reached to find who holds this file.", { cause: lookup.lastError });
        }
        throw new PeerError(
          "NO_HOLDERS",
          tried.size === 0
            ? "No live peer holds this file right now."
            : `None of the peers that hold this file (${[...tried].join(", ")}) answered with a usable manifest.`,
        );
      }
      await sleep(Math.min(250 * 2 ** attempt, 2_000, Math.max(0, deadline - Date.now())), signal);
    }
  }

  /** A holder's manifest if it answers in time with one that adds up. */
  async #probe(ref: PeerRef): Promise<{ ref: PeerRef; manifest: Manifest } | undefined> {
    const { contentId, signal } = this.#o;
    try {
      const client = this.#o.peers.client(ref.address);
      const res = await client.getManifest({ contentId }, { signal, timeoutMs: this.#o.manifestTimeoutMs });
      return { ref, manifest: checkManifest(manifestFromProto(res.manifest), contentId) };
    } catch (err) {
      signal.throwIfAborted();
      this.#o.logger.debug({ holder: ref.name, err: (err as Error).message }, "no usable manifest from holder");
      return undefined;
    }
  }
}
