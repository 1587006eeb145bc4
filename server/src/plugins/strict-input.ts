// Strict input: the edge refuses what would otherwise reach a route changed or guessed at. JSON bodies
// only, decoded as strict UTF-8, without prototype-poisoning keys; unknown body fields refused while
// query strings are coerced; invalid UTF-8 in a query string refused; schema errors that name the
// field and explain the rule. Not encapsulated (fastify-plugin): it sets the root's validator,
// parsers and hooks, which every route inherits.

import { PATTERN_MESSAGES } from "@p2p/directory-api";
import { Ajv, type AnySchema } from "ajv";
import type { FastifyInstance, FastifySchemaValidationError } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { DirectoryError } from "../errors.js";

/** Decodes request bodies; throws on invalid UTF-8 instead of substituting U+FFFD. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The strict-input plugin (register it on the root, before the routes). */
export const strictInput = fastifyPlugin(
  async (app: FastifyInstance) => {
    app.setValidatorCompiler(validatorCompiler());
    app.setSchemaErrorFormatter(formatSchemaError);

    // JSON bodies: an empty body is no body (curl -X POST .../logout with a JSON content type), and a
    // syntax error says so without quoting the body back (Node's messages quote it: it may hold a password).
    // Only JSON: a text/plain body would otherwise reach validation as a string ("body must be object").
    app.removeContentTypeParser("text/plain");
    const parseJson = app.getDefaultJsonParser("error", "error");
    // Bytes, decoded strictly: invalid UTF-8 is refused, not turned into U+FFFD (a password or a name other
    // than the bytes sent).
    app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, raw, done) => {
      let body: string;
      try {
        body = strictUtf8.decode(raw as Buffer);
      } catch {
        return done(new DirectoryError("invalid_argument", "body is not valid UTF-8"), undefined);
      }
      if (body === "") return done(null, undefined);
      parseJson(request, body, (error, value) => {
        if (!error) return done(null, value);
        // Valid JSON with a "__proto__" (or "constructor": {"prototype"}) key is refused too (prototype
        // poisoning); say where it is, so the caller can tell it from a syntax error.
        // (Fastify's parser error does not say which: a second look tells.)
        const at = poisonedKeyPath(body);
        done(new DirectoryError("invalid_argument", at ? `${at} is a forbidden key (prototype poisoning)` : "body is not valid JSON"), undefined);
      });
    });

    // Query strings: invalid UTF-8 in a percent-escape (?q=%ff%fe) is refused rather than searched as U+FFFD.
    app.addHook("onRequest", (request, _reply, done) => {
      const raw = request.raw.url ?? "";
      if (!raw.includes("%") || !raw.includes("?")) return done();
      const bad = invalidQueryPart(raw);
      if (bad === undefined) return done();
      done(new DirectoryError("invalid_argument", `querystring/${bad} is not valid UTF-8`));
    });
  },
  { name: "strict-input", fastify: "5.x" },
);

/**
 * Two validators: request bodies are JSON and must have the right types ("5" is not a size), while
 * query strings and path parameters are text that must be coerced ("?limit=5").
 */
function validatorCompiler() {
  const common = { useDefaults: true, allErrors: false, strict: true } as const;
  // Bodies keep unknown fields so `additionalProperties: false` refuses them (a misspelt "targett" must not
  // silently become "any peer"); query strings and path parameters still drop them and are coerced.
  const bodies = new Ajv({ ...common, removeAdditional: false, coerceTypes: false });
  const text = new Ajv({ ...common, removeAdditional: true, coerceTypes: true });
  return ({ schema, httpPart }: { schema: AnySchema; httpPart?: string }) =>
    (httpPart === "body" ? bodies : text).compile(schema);
}

/** A schema error as one sentence that names the field ("body/files/3/name must not contain ..."). */
function formatSchemaError(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const first = errors[0];
  if (!first) return new Error(`${dataVar} is invalid`);
  const field = `${dataVar}${first.instancePath}`;
  if (first.keyword === "required") {
    return new Error(`${field}/${String(first.params.missingProperty)} is required`);
  }
  if (first.keyword === "additionalProperties") {
    return new Error(`${field}/${String(first.params.additionalProperty)} is not a known field`);
  }
  const explained = first.keyword === "pattern" ? PATTERN_MESSAGES[String(first.params.pattern)] : undefined;
  return new Error(`${field} ${explained ?? first.message ?? "is invalid"}`);
}

/**
 * The raw query string's first key or value whose percent-escapes are not UTF-8 (Fastify's parser would
 * decode them to U+FFFD), or undefined when all decode.
 */
export function invalidQueryPart(url: string): string | undefined {
  const start = url.indexOf("?");
  if (start < 0) return undefined;
  for (const pair of url.slice(start + 1).split("&")) {
    const eq = pair.indexOf("=");
    const key = eq < 0 ? pair : pair.slice(0, eq);
    for (const part of eq < 0 ? [key] : [key, pair.slice(eq + 1)]) {
      try {
        decodeURIComponent(part);
      } catch {
        let name = key;
        try {
          name = decodeURIComponent(key);
        } catch {
          // the key itself is the bad part: name it raw
        }
        return name;
      }
    }
  }
  return undefined;
}

/**
 * Where the first "__proto__" key, or "constructor" key holding a "prototype", sits in the JSON `text`,
 * as "body/a/b/__proto__"; undefined when there is none. JSON.parse makes such keys plain own
 * properties (it never sets a prototype), so reading the text again here is safe.
 */
export function poisonedKeyPath(text: string): string | undefined {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return undefined;
  }
  const stack: Array<{ value: unknown; path: string }> = [{ value: root, path: "body" }];
  for (let visited = 0; stack.length > 0 && visited < 100_000; visited++) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    const keys = Object.keys(value);
    for (const key of keys) {
      const child = (value as Record<string, unknown>)[key];
      if (key === "__proto__") return `${path}/__proto__`;
      if (key === "constructor" && child !== null && typeof child === "object" && Object.hasOwn(child, "prototype")) return `${path}/constructor/prototype`;
    }
    for (const key of keys.reverse()) stack.push({ value: (value as Record<string, unknown>)[key], path: `${path}/${key}` });
  }
  return undefined;
}
