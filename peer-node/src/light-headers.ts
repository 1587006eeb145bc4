// The fetch API's `Headers`, for the pserver process, without Node's internal undici.
//
// Why: connect-es keeps every header map in a `Headers` (each call's request, response and trailers), and
// Node 20 defines the global `Headers` lazily: the first use loads its internal undici (fetch, web
// streams, WebSocket...), which the pserver uses for nothing else. In a bare process that load is +13 MiB
// of RSS (+6.6 beside http2 and crypto: V8 heap and the node binary's pages it touches); in the pserver,
// online and idle 70.8-71.2 -> 68.4-69.3 MiB, and the peak of a 1 GiB download ~4 MiB lower (peer-node/
// README.md, 2026-12-05). `installLightHeaders` puts this class in its place before anything asks for it.
//
// It does what the Fetch standard's Headers does (https://fetch.spec.whatwg.org/#headers-class) for the
// "none" guard: names are checked tokens, kept lowercase; values are trimmed of HTTP whitespace and may not
// hold NUL, CR or LF; a bad one throws a TypeError. `get` joins a name's values with ", "; iteration is
// sorted by name, values joined, except set-cookie, whose values come one by one (`getSetCookie` too).
// test/light-headers.test.ts checks it against Node's own Headers on the same calls.

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LEADING_WHITESPACE = /^[\t\n\r ]+/;
const TRAILING_WHITESPACE = /[\t\n\r ]+$/;
const FORBIDDEN_IN_VALUE = /[\0\r\n]/;

function checkedName(name: string): string {
  const s = String(name);
  if (!TOKEN.test(s)) throw new TypeError(`Headers: "${s}" is an invalid header name.`);
  return s.toLowerCase();
}

function checkedValue(name: string, value: string): string {
  const s = String(value).replace(LEADING_WHITESPACE, "").replace(TRAILING_WHITESPACE, "");
  if (FORBIDDEN_IN_VALUE.test(s)) throw new TypeError(`Headers: the value of "${name}" holds NUL, CR or LF.`);
  return s;
}

type Init = ConstructorParameters<typeof globalThis.Headers>[0];

/** A `Headers` (the Fetch standard's, guard "none") that needs nothing from undici. */
export class LightHeaders implements Headers {
  /** Lowercase name -> its values, in the order they were appended; names in the order first set. */
  readonly #map = new Map<string, string[]>();

  constructor(init?: Init) {
    if (init === undefined || init === null) return;
    if (typeof init !== "object") throw new TypeError("Headers: the init is neither a record nor a sequence of pairs.");
    if (Symbol.iterator in init) {
      for (const pair of init as Iterable<Iterable<string>>) {
        const entry = typeof pair === "string" ? undefined : [...pair];
        if (entry === undefined || entry.length !== 2) throw new TypeError("Headers: each header of a sequence must be a [name, value] pair.");
        this.append(entry[0]!, entry[1]!);
      }
      return;
    }
    for (const name of Object.keys(init)) this.append(name, (init as Record<string, string>)[name]!);
  }

  append(name: string, value: string): void {
    const key = checkedName(name);
    const v = checkedValue(key, value);
    const values = this.#map.get(key);
    if (values) values.push(v);
    else this.#map.set(key, [v]);
  }

  delete(name: string): void {
    this.#map.delete(checkedName(name));
  }

  get(name: string): string | null {
    const values = this.#map.get(checkedName(name));
    return values === undefined ? null : values.join(", ");
  }

  getSetCookie(): string[] {
    return [...(this.#map.get("set-cookie") ?? [])];
  }

  has(name: string): boolean {
    return this.#map.has(checkedName(name));
  }

  set(name: string, value: string): void {
    const key = checkedName(name);
    this.#map.set(key, [checkedValue(key, value)]);
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [key, value] of this.#sorted()) callback.call(thisArg, value, key, this);
  }

  entries(): ReturnType<Headers["entries"]> {
    return this.#sorted()[Symbol.iterator]() as ReturnType<Headers["entries"]>;
  }

  keys(): ReturnType<Headers["keys"]> {
    return this.#sorted().map(([key]) => key)[Symbol.iterator]() as ReturnType<Headers["keys"]>;
  }

  values(): ReturnType<Headers["values"]> {
    return this.#sorted().map(([, value]) => value)[Symbol.iterator]() as ReturnType<Headers["values"]>;
  }

  [Symbol.iterator](): ReturnType<Headers["entries"]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return "Headers";
  }

  /** The standard's "sort and combine": by name in code-unit order (names are ASCII), set-cookie's values apart. */
  #sorted(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const key of [...this.#map.keys()].sort()) {
      const values = this.#map.get(key)!;
      if (key === "set-cookie") for (const v of values) out.push([key, v]);
      else out.push([key, values.join(", ")]);
    }
    return out;
  }
}

/**
 * Makes LightHeaders the global `Headers` of this process, unless Node's Headers was used already (then
 * undici is loaded, nothing is saved, and two kinds of Headers would only confuse). Call before anything
 * uses `Headers`.
 */
export function installLightHeaders(): void {
  const own = Object.getOwnPropertyDescriptor(globalThis, "Headers");
  // Node 20 defines Headers as a getter that loads undici on first use; once loaded it is a plain value.
  if (own && !("get" in own && typeof own.get === "function")) return;
  Object.defineProperty(globalThis, "Headers", { value: LightHeaders, writable: true, configurable: true, enumerable: false });
}
