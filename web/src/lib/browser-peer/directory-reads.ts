// What a browser peer reads from the directory itself: search and the live peers. These routes need
// no session and any origin may read them; the directory's URL comes from the page's pserver
// (GetStatus). Answers are checked before use: the directory is on the open network too.
import type { HolderAddress } from "./worker-protocol.js";

/** One search result as the browser peer shows it. */
export interface FoundFile {
  contentId: string;
  name: string;
  size: number;
  holders: HolderAddress[];
}

/** An http(s) URL: a pserver's address, or a browser peer's relay address at its gateway. */
function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

function holdersOf(value: unknown): HolderAddress[] {
  if (!Array.isArray(value)) return [];
  const holders: HolderAddress[] = [];
  for (const holder of value as { name?: unknown; address?: unknown }[]) {
    if (typeof holder?.name === "string" && typeof holder.address === "string" && isHttpUrl(holder.address)) {
      holders.push({ name: holder.name, address: holder.address });
    }
  }
  return holders;
}

/** Reads the directory's public routes. */
export class DirectoryReads {
  readonly #base: string;

  constructor(directoryUrl: string) {
    this.#base = directoryUrl.replace(/\/+$/, "");
  }

  async #get(path: string, signal?: AbortSignal): Promise<unknown> {
    const response = await fetch(`${this.#base}/api/v1${path}`, { signal: signal ?? null });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`The directory answered ${response.status}.`);
    return response.json();
  }

  /** Files whose name contains `query`, with their live holders. */
  async search(query: string, signal?: AbortSignal): Promise<FoundFile[]> {
    const body = (await this.#get(`/search?${new URLSearchParams({ q: query, limit: "50" })}`, signal)) as { results?: unknown } | undefined;
    if (!Array.isArray(body?.results)) return [];
    const found: FoundFile[] = [];
    for (const result of body.results as Record<string, unknown>[]) {
      if (typeof result.contentId !== "string" || typeof result.name !== "string" || typeof result.size !== "number") continue;
      found.push({ contentId: result.contentId, name: result.name, size: result.size, holders: holdersOf(result.holders) });
    }
    return found;
  }

  /** One content by id with its live holders, or undefined when no live peer holds it. */
  async file(contentId: string, signal?: AbortSignal): Promise<FoundFile | undefined> {
    const body = (await this.#get(`/files/${encodeURIComponent(contentId)}`, signal)) as Record<string, unknown> | undefined;
    if (body === undefined || typeof body.name !== "string" || typeof body.size !== "number") return undefined;
    return { contentId, name: body.name, size: body.size, holders: holdersOf(body.holders) };
  }

  /** The live holders of one content id (none when nobody holds it). */
  async holders(contentId: string, signal?: AbortSignal): Promise<HolderAddress[]> {
    return (await this.file(contentId, signal))?.holders ?? [];
  }

  /** The live peers' names. */
  async peers(signal?: AbortSignal): Promise<string[]> {
    const body = (await this.#get("/peers", signal)) as { peers?: unknown } | undefined;
    if (!Array.isArray(body?.peers)) return [];
    return (body.peers as { name?: unknown }[]).flatMap((peer) => (typeof peer?.name === "string" ? [peer.name] : []));
  }
}
