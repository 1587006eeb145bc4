// Bad input, directory REST API: a table of hostile requests per route. Every case must get the
// expected 4xx with a JSON {error, message} body whose message says what was wrong, leave every row of
// the directory as it was, and leave the directory serving. Cases that expose a bug in the directory
// carry `knownFailure`: the chaos table reports them as FAIL, `npm test` leaves them out.
import {
  ADDRESS_MAX_CHARS,
  BODY_LIMIT_BYTES,
  FILE_NAME_MAX_BYTES,
  INDEX_BODY_LIMIT_BYTES,
  MAX_FILES_PER_REQUEST,
  BASE_PIECE_SIZE_BYTES,
  PASSWORD_MAX_BYTES,
  PASSWORD_MIN_BYTES,
  SEARCH_MAX_LIMIT,
  SEARCH_MAX_OFFSET,
  SEARCH_QUERY_MAX_BYTES,
  USERNAME_MAX_CHARS,
} from "@p2p/directory-api";
import { bearer, fakeContentId, numberedContentId, twoByteTextOver, WELL_FORMED_TOKEN } from "../harness/directory-api.js";
import type { RawRequest, RawResponse } from "../harness/http.js";
import { startRestFixture, type RestContext, type RestFixture } from "./rest-fixture.js";
import { tableResult, type CaseResult } from "./case-table.js";
import type { Scenario } from "./scenario.js";

/** One hostile request and what the directory must answer. */
export interface RestCase {
  /** "POST /api/v1/login" */
  readonly route: string;
  /** What is wrong with the request. */
  readonly name: string;
  readonly request: (ctx: RestContext) => RawRequest;
  /** The status a demanding user expects. */
  readonly status: number;
  /** What the message must mention. */
  readonly message?: RegExp;
  /** Answered by Node's HTTP parser before the app: the status line is the whole message. */
  readonly bareStatus?: true;
  /** Why this case fails today (a bug in the directory); such cases stay out of `npm test`. */
  readonly knownFailure?: string;
}

const JSON_TYPE = { "content-type": "application/json" };
const LOGIN = "/api/v1/login";
const VALID_LOGIN = { username: "mallory", password: "mallory-password", address: "http://127.0.0.1:9009" };

const post = (path: string, body: RawRequest["body"], headers: Record<string, string> = {}) => (): RawRequest => ({ method: "POST", path, body, headers });
const login = (body: RawRequest["body"], headers?: Record<string, string>) => post(LOGIN, body, headers);
const withA = (method: string, path: string, body?: RawRequest["body"], headers: Record<string, string> = {}) => (ctx: RestContext): RawRequest => ({
  method,
  path,
  body,
  headers: { ...bearer(ctx.tokenA), ...headers },
});
const file = (overrides: Record<string, unknown>) => ({ name: "f.bin", size: 10, contentId: fakeContentId("d"), pieceSize: BASE_PIECE_SIZE_BYTES, ...overrides });
const deepArray = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
/** A number as the case names write it: 10,001. */
const count = (n: number) => n.toLocaleString("en");
const OVER_BODY_LIMIT_KIB = BODY_LIMIT_BYTES / 1024 + 6;
const OVER_INDEX_BODY_LIMIT_MIB = INDEX_BODY_LIMIT_BYTES / (1024 * 1024) + 1;
const LONG_ADDRESS = `http://${"a".repeat(ADDRESS_MAX_CHARS)}.example:80`;
const invalidUtf8Json = (prefix: string, suffix: string) => Buffer.concat([Buffer.from(prefix), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(suffix)]);

/** Every hostile REST case. */
export const REST_CASES: readonly RestCase[] = [
  // ---- POST /login
  { route: "POST /login", name: "username is a number", request: login({ ...VALID_LOGIN, username: 42 }), status: 400, message: /username/ },
  { route: "POST /login", name: "username missing", request: login({ password: VALID_LOGIN.password, address: VALID_LOGIN.address }), status: 400, message: /username is required/ },
  { route: "POST /login", name: "password missing", request: login({ username: "mallory", address: VALID_LOGIN.address }), status: 400, message: /password/ },
  { route: "POST /login", name: "address missing", request: login({ username: "mallory", password: VALID_LOGIN.password }), status: 400, message: /address/ },
  { route: "POST /login", name: "username with a path traversal", request: login({ ...VALID_LOGIN, username: "../admin" }), status: 400, message: /username/ },
  { route: "POST /login", name: `username of ${USERNAME_MAX_CHARS + 1} characters`, request: login({ ...VALID_LOGIN, username: "u".repeat(USERNAME_MAX_CHARS + 1) }), status: 400, message: /username/ },
  { route: "POST /login", name: "username with a NUL", request: login({ ...VALID_LOGIN, username: "mal\u0000lory" }), status: 400, message: /username/ },
  { route: "POST /login", name: `password of ${PASSWORD_MIN_BYTES - 1} bytes`, request: login({ ...VALID_LOGIN, password: "p".repeat(PASSWORD_MIN_BYTES - 1) }), status: 400, message: /password/ },
  { route: "POST /login", name: `password of ${count(PASSWORD_MAX_BYTES + 1)} bytes`, request: login({ ...VALID_LOGIN, password: "p".repeat(PASSWORD_MAX_BYTES + 1) }), status: 400, message: /password/ },
  { route: "POST /login", name: "password is an object", request: login({ ...VALID_LOGIN, password: { $ne: "" } }), status: 400, message: /password/ },
  { route: "POST /login", name: "address is not a URL", request: login({ ...VALID_LOGIN, address: "not a url" }), status: 400, message: /address/ },
  { route: "POST /login", name: "address with a path", request: login({ ...VALID_LOGIN, address: "http://127.0.0.1:9009/admin" }), status: 400, message: /address/ },
  { route: "POST /login", name: "address with a file: scheme", request: login({ ...VALID_LOGIN, address: "file:///etc/passwd" }), status: 400, message: /address/ },
  { route: "POST /login", name: "address with port 0", request: login({ ...VALID_LOGIN, address: "http://127.0.0.1:0" }), status: 400, message: /address/ },
  { route: "POST /login", name: `address of ${count(LONG_ADDRESS.length)} characters`, request: login({ ...VALID_LOGIN, address: LONG_ADDRESS }), status: 400, message: /address/ },
  { route: "POST /login", name: "wrong password for alice", request: login({ username: "alice", password: "not-alices-password", address: VALID_LOGIN.address }), status: 401, message: /password/i },
  { route: "POST /login", name: "body is an array", request: login([VALID_LOGIN]), status: 400, message: /body/ },
  { route: "POST /login", name: "body is null", request: login("null", JSON_TYPE), status: 400, message: /body/ },
  { route: "POST /login", name: "body is a JSON string", request: login('"mallory"', JSON_TYPE), status: 400, message: /body/ },
  { route: "POST /login", name: "body is not JSON", request: login("{username: mallory", JSON_TYPE), status: 400, message: /JSON/ },
  { route: "POST /login", name: "JSON nested 20,000 deep", request: login(deepArray(20_000), JSON_TYPE), status: 400, message: /body/ },
  { route: "POST /login", name: "__proto__ key", request: login('{"__proto__":{"admin":true},"username":"mallory"}', JSON_TYPE), status: 400 },
  { route: "POST /login", name: "invalid UTF-8 in the username", request: login(invalidUtf8Json('{"username":"mal', `","password":"${VALID_LOGIN.password}","address":"${VALID_LOGIN.address}"}`), JSON_TYPE), status: 400, message: /username|UTF-8/ },
  {
    route: "POST /login",
    name: "invalid UTF-8 in the password",
    request: login(invalidUtf8Json('{"username":"mallory-utf8","password":"secret-', `","address":"${VALID_LOGIN.address}"}`), JSON_TYPE),
    status: 400,
    message: /UTF-8|password/,
  },
  { route: "POST /login", name: `body of ${OVER_BODY_LIMIT_KIB} KiB`, request: login({ ...VALID_LOGIN, padding: "x".repeat(OVER_BODY_LIMIT_KIB * 1024) }), status: 413 },
  { route: "POST /login", name: "Content-Type text/plain", request: login(JSON.stringify(VALID_LOGIN), { "content-type": "text/plain" }), status: 415 },
  { route: "POST /login", name: "Content-Type form-urlencoded", request: login("username=mallory&password=mallory-password", { "content-type": "application/x-www-form-urlencoded" }), status: 415 },
  { route: "POST /login", name: "no Content-Type", request: login(Buffer.from(JSON.stringify(VALID_LOGIN))), status: 415 },
  { route: "POST /login", name: "unknown field next to valid ones", request: login({ ...VALID_LOGIN, username: "mallory-extra", admin: true }), status: 400, message: /admin/ },

  // ---- POST /logout and /heartbeat
  { route: "POST /logout", name: "no Authorization", request: post("/api/v1/logout", undefined), status: 401, message: /bearer/i },
  { route: "POST /logout", name: "Basic instead of Bearer", request: post("/api/v1/logout", undefined, { authorization: "Basic YWxpY2U6cGFzcw==" }), status: 401, message: /bearer/i },
  { route: "POST /logout", name: "well-formed unknown token", request: post("/api/v1/logout", undefined, bearer(WELL_FORMED_TOKEN)), status: 401, message: /session/ },
  { route: "POST /logout", name: "token with a traversal", request: post("/api/v1/logout", undefined, bearer("../../etc/passwd")), status: 401 },
  { route: "POST /heartbeat", name: "no Authorization", request: post("/api/v1/heartbeat", undefined), status: 401, message: /bearer/i },
  { route: "POST /heartbeat", name: "token in the query string", request: (ctx) => ({ method: "POST", path: `/api/v1/heartbeat?token=${ctx.tokenA}` }), status: 401 },
  { route: "POST /heartbeat", name: "token of 8 KiB", request: post("/api/v1/heartbeat", undefined, bearer("A".repeat(8192))), status: 401 },
  { route: "POST /heartbeat", name: "Authorization header of 20 KiB", request: post("/api/v1/heartbeat", undefined, bearer("A".repeat(20 * 1024))), status: 431, bareStatus: true },
  { route: "POST /heartbeat", name: `body of ${OVER_BODY_LIMIT_KIB} KiB`, request: withA("POST", "/api/v1/heartbeat", "x".repeat(OVER_BODY_LIMIT_KIB * 1024), JSON_TYPE), status: 413 },

  // ---- PUT /index
  { route: "PUT /index", name: "POST instead of PUT", request: post("/api/v1/index", { files: [] }), status: 404, message: /no route/ },
  { route: "PUT /index", name: "no Authorization (PUT)", request: () => ({ method: "PUT", path: "/api/v1/index", body: { files: [] } }), status: 401 },
  { route: "PUT /index", name: "files is an object", request: withA("PUT", "/api/v1/index", { files: { a: 1 } }), status: 400, message: /files/ },
  { route: "PUT /index", name: "files missing", request: withA("PUT", "/api/v1/index", {}), status: 400, message: /files/ },
  { route: "PUT /index", name: "entry without contentId", request: withA("PUT", "/api/v1/index", { files: [{ name: "a", size: 1, pieceSize: BASE_PIECE_SIZE_BYTES }] }), status: 400, message: /contentId/ },
  { route: "PUT /index", name: "contentId in upper case", request: withA("PUT", "/api/v1/index", { files: [file({ contentId: fakeContentId("a").toUpperCase() })] }), status: 400, message: /contentId/ },
  { route: "PUT /index", name: "contentId one character short", request: withA("PUT", "/api/v1/index", { files: [file({ contentId: fakeContentId("a").slice(1) })] }), status: 400, message: /contentId/ },
  { route: "PUT /index", name: "name with a path traversal", request: withA("PUT", "/api/v1/index", { files: [file({ name: "../../etc/passwd" })] }), status: 400, message: /name/ },
  { route: "PUT /index", name: 'name ".."', request: withA("PUT", "/api/v1/index", { files: [file({ name: ".." })] }), status: 400, message: /name/ },
  { route: "PUT /index", name: "name with a backslash", request: withA("PUT", "/api/v1/index", { files: [file({ name: "..\\windows" })] }), status: 400, message: /name/ },
  { route: "PUT /index", name: "name with a NUL", request: withA("PUT", "/api/v1/index", { files: [file({ name: "a\u0000.txt" })] }), status: 400, message: /name/ },
  {
    route: "PUT /index",
    name: `name of ${twoByteTextOver(FILE_NAME_MAX_BYTES).length * 2} UTF-8 bytes (${twoByteTextOver(FILE_NAME_MAX_BYTES).length} characters)`,
    request: withA("PUT", "/api/v1/index", { files: [file({ name: twoByteTextOver(FILE_NAME_MAX_BYTES) })] }),
    status: 400,
    message: /name/,
  },
  { route: "PUT /index", name: "empty name", request: withA("PUT", "/api/v1/index", { files: [file({ name: "" })] }), status: 400, message: /name/ },
  {
    route: "PUT /index",
    name: "invalid UTF-8 in a name",
    request: withA("PUT", "/api/v1/index", invalidUtf8Json('{"files":[{"name":"bad-', `.bin","size":1,"contentId":"${fakeContentId("e")}","pieceSize":${BASE_PIECE_SIZE_BYTES}}]}`), JSON_TYPE),
    status: 400,
    message: /UTF-8|name/,
  },
  { route: "PUT /index", name: "negative size", request: withA("PUT", "/api/v1/index", { files: [file({ size: -1 })] }), status: 400, message: /size/ },
  { route: "PUT /index", name: "size 2^53 + 1", request: withA("PUT", "/api/v1/index", `{"files":[{"name":"a","size":9007199254740993,"contentId":"${fakeContentId("d")}","pieceSize":${BASE_PIECE_SIZE_BYTES}}]}`, JSON_TYPE), status: 400, message: /size/ },
  { route: "PUT /index", name: "size 1e400", request: withA("PUT", "/api/v1/index", `{"files":[{"name":"a","size":1e400,"contentId":"${fakeContentId("d")}","pieceSize":${BASE_PIECE_SIZE_BYTES}}]}`, JSON_TYPE), status: 400, message: /size/ },
  { route: "PUT /index", name: "size as a string", request: withA("PUT", "/api/v1/index", { files: [file({ size: "10" })] }), status: 400, message: /size/ },
  { route: "PUT /index", name: "fractional size", request: withA("PUT", "/api/v1/index", { files: [file({ size: 1.5 })] }), status: 400, message: /size/ },
  { route: "PUT /index", name: "pieceSize 0", request: withA("PUT", "/api/v1/index", { files: [file({ pieceSize: 0 })] }), status: 400, message: /pieceSize/ },
  { route: "PUT /index", name: "pieceSize 2^31", request: withA("PUT", "/api/v1/index", { files: [file({ pieceSize: 2 ** 31 })] }), status: 400, message: /pieceSize/ },
  {
    route: "PUT /index",
    name: `${count(MAX_FILES_PER_REQUEST + 1)} files`,
    request: withA("PUT", "/api/v1/index", { files: Array.from({ length: MAX_FILES_PER_REQUEST + 1 }, (_, i) => file({ name: `f${i}`, contentId: numberedContentId(i) })) }),
    status: 400,
    message: /files/,
  },
  {
    route: "PUT /index",
    name: `body of ${OVER_INDEX_BODY_LIMIT_MIB} MiB announced`,
    request: (ctx) => ({ ...withA("PUT", "/api/v1/index", undefined, JSON_TYPE)(ctx), declareBodyBytes: OVER_INDEX_BODY_LIMIT_MIB * 1024 * 1024 }),
    status: 413,
  },
  { route: "POST /login", name: "body of 1 GiB announced", request: () => ({ ...login(undefined, JSON_TYPE)(), declareBodyBytes: 1024 ** 3 }), status: 413 },
  { route: "PUT /index", name: "JSON nested 100,000 deep", request: withA("PUT", "/api/v1/index", `{"files":${deepArray(100_000)}}`, JSON_TYPE), status: 400 },
  { route: "PUT /index", name: "unknown field in an entry", request: withA("PUT", "/api/v1/index", { files: [file({ owner: "bob" })] }), status: 400, message: /owner/ },

  // ---- PATCH /index
  { route: "PATCH /index", name: "no Authorization", request: () => ({ method: "PATCH", path: "/api/v1/index", body: { add: [] } }), status: 401 },
  { route: "PATCH /index", name: "add is a string", request: withA("PATCH", "/api/v1/index", { add: "f.bin" }), status: 400, message: /add/ },
  { route: "PATCH /index", name: "remove holds a bad content id", request: withA("PATCH", "/api/v1/index", { remove: ["../x"] }), status: 400, message: /remove/ },
  {
    route: "PATCH /index",
    name: `add and remove together name ${count(MAX_FILES_PER_REQUEST + 1)} files`,
    request: withA("PATCH", "/api/v1/index", { add: [file({})], remove: Array.from({ length: MAX_FILES_PER_REQUEST }, (_, i) => numberedContentId(i)) }),
    status: 400,
    message: new RegExp(`${MAX_FILES_PER_REQUEST}|${count(MAX_FILES_PER_REQUEST)}`),
  },
  { route: "PATCH /index", name: "misspelt field (removee)", request: (ctx) => withA("PATCH", "/api/v1/index", { removee: [ctx.heldContentId] })(ctx), status: 400, message: /removee/ },

  // ---- GET /search
  { route: "GET /search", name: "q missing", request: () => ({ method: "GET", path: "/api/v1/search" }), status: 400, message: /q/ },
  { route: "GET /search", name: "q empty", request: () => ({ method: "GET", path: "/api/v1/search?q=" }), status: 400, message: /q/ },
  {
    route: "GET /search",
    name: `q of ${twoByteTextOver(SEARCH_QUERY_MAX_BYTES).length * 2} bytes`,
    request: () => ({ method: "GET", path: `/api/v1/search?q=${encodeURIComponent(twoByteTextOver(SEARCH_QUERY_MAX_BYTES))}` }),
    status: 400,
    message: /q/,
  },
  { route: "GET /search", name: "q with a NUL", request: () => ({ method: "GET", path: "/api/v1/search?q=a%00b" }), status: 400, message: /q/ },
  { route: "GET /search", name: "q given twice", request: () => ({ method: "GET", path: "/api/v1/search?q=a&q=b" }), status: 400, message: /q/ },
  {
    route: "GET /search",
    name: "q with invalid UTF-8 (%ff%fe)",
    request: () => ({ method: "GET", path: "/api/v1/search?q=%ff%fe" }),
    status: 400,
    message: /q/,
  },
  { route: "GET /search", name: "limit 0", request: () => ({ method: "GET", path: "/api/v1/search?q=a&limit=0" }), status: 400, message: /limit/ },
  { route: "GET /search", name: `limit ${SEARCH_MAX_LIMIT + 1}`, request: () => ({ method: "GET", path: `/api/v1/search?q=a&limit=${SEARCH_MAX_LIMIT + 1}` }), status: 400, message: /limit/ },
  { route: "GET /search", name: "limit 10^20", request: () => ({ method: "GET", path: "/api/v1/search?q=a&limit=100000000000000000000" }), status: 400, message: /limit/ },
  { route: "GET /search", name: "limit not a number", request: () => ({ method: "GET", path: "/api/v1/search?q=a&limit=ten" }), status: 400, message: /limit/ },
  { route: "GET /search", name: "negative offset", request: () => ({ method: "GET", path: "/api/v1/search?q=a&offset=-1" }), status: 400, message: /offset/ },
  { route: "GET /search", name: `offset ${count(SEARCH_MAX_OFFSET + 1)}`, request: () => ({ method: "GET", path: `/api/v1/search?q=a&offset=${SEARCH_MAX_OFFSET + 1}` }), status: 400, message: /offset/ },

  // ---- GET /files/:contentId
  { route: "GET /files/:contentId", name: "content id in upper case", request: () => ({ method: "GET", path: `/api/v1/files/${fakeContentId("a").toUpperCase()}` }), status: 400, message: /contentId/ },
  { route: "GET /files/:contentId", name: "content id one character short", request: () => ({ method: "GET", path: `/api/v1/files/${fakeContentId("a").slice(1)}` }), status: 400, message: /contentId/ },
  { route: "GET /files/:contentId", name: "encoded path traversal", request: () => ({ method: "GET", path: "/api/v1/files/..%2f..%2f..%2fetc%2fpasswd" }), status: 400, message: /contentId/ },
  { route: "GET /files/:contentId", name: "content id of 8,000 characters", request: () => ({ method: "GET", path: `/api/v1/files/${"a".repeat(8000)}` }), status: 414, message: /param length/ },
  { route: "GET /files/:contentId", name: "unknown content id", request: () => ({ method: "GET", path: `/api/v1/files/${fakeContentId("9")}` }), status: 404, message: /no live peer/ },

  // ---- POST /upload-target
  { route: "POST /upload-target", name: "no Authorization", request: post("/api/v1/upload-target", { contentId: fakeContentId("d"), size: 1 }), status: 401 },
  { route: "POST /upload-target", name: "bad content id", request: withA("POST", "/api/v1/upload-target", { contentId: "xyz", size: 1 }), status: 400, message: /contentId/ },
  { route: "POST /upload-target", name: "negative size", request: withA("POST", "/api/v1/upload-target", { contentId: fakeContentId("d"), size: -5 }), status: 400, message: /size/ },
  { route: "POST /upload-target", name: "size as a string", request: withA("POST", "/api/v1/upload-target", { contentId: fakeContentId("d"), size: "5" }), status: 400, message: /size/ },
  { route: "POST /upload-target", name: "target with a traversal", request: withA("POST", "/api/v1/upload-target", { contentId: fakeContentId("d"), size: 1, target: "../bob" }), status: 400, message: /target/ },
  { route: "POST /upload-target", name: "target is the caller", request: withA("POST", "/api/v1/upload-target", { contentId: fakeContentId("d"), size: 1, target: "alice" }), status: 404, message: /itself/ },
  { route: "POST /upload-target", name: "target unknown", request: withA("POST", "/api/v1/upload-target", { contentId: fakeContentId("d"), size: 1, target: "nobody" }), status: 404, message: /not online/ },
  {
    route: "POST /upload-target",
    name: "misspelt target (targett)",
    request: withA("POST", "/api/v1/upload-target", { contentId: fakeContentId("d"), size: 1, targett: "nobody" }),
    status: 400,
    message: /targett/,
  },

  // ---- POST /tickets/redeem
  { route: "POST /tickets/redeem", name: "no Authorization", request: (ctx) => post("/api/v1/tickets/redeem", { ticket: ctx.ticket, contentId: ctx.ticketContentId })(), status: 401 },
  { route: "POST /tickets/redeem", name: "malformed ticket", request: withA("POST", "/api/v1/tickets/redeem", { ticket: "x", contentId: fakeContentId("c") }), status: 400, message: /ticket/ },
  { route: "POST /tickets/redeem", name: "ticket missing", request: withA("POST", "/api/v1/tickets/redeem", { contentId: fakeContentId("c") }), status: 400, message: /ticket/ },
  { route: "POST /tickets/redeem", name: "unknown well-formed ticket", request: withA("POST", "/api/v1/tickets/redeem", { ticket: WELL_FORMED_TOKEN, contentId: fakeContentId("c") }), status: 404, message: /ticket/ },
  { route: "POST /tickets/redeem", name: "bad content id", request: (ctx) => withA("POST", "/api/v1/tickets/redeem", { ticket: ctx.ticket, contentId: fakeContentId("c").toUpperCase() })(ctx), status: 400, message: /contentId/ },

  // ---- unknown routes and methods
  { route: "unknown route", name: "GET /api/v1/admin", request: () => ({ method: "GET", path: "/api/v1/admin" }), status: 404, message: /no route/ },
  { route: "unknown route", name: "GET /api/v2/peers", request: () => ({ method: "GET", path: "/api/v2/peers" }), status: 404, message: /no route/ },
  { route: "unknown route", name: "DELETE /api/v1/index", request: withA("DELETE", "/api/v1/index"), status: 404, message: /no route/ },
  { route: "unknown route", name: "PROPFIND /api/v1/peers", request: () => ({ method: "PROPFIND", path: "/api/v1/peers" }), status: 404 },
  { route: "unknown route", name: "POST /healthz", request: post("/healthz", {}), status: 404 },
  { route: "unknown route", name: "raw path traversal", request: () => ({ method: "GET", path: "/api/v1/../../../../etc/passwd" }), status: 404 },
  { route: "unknown route", name: "traversal under /docs", request: () => ({ method: "GET", path: "/docs/%2e%2e/%2e%2e/%2e%2e/package.json" }), status: 404 },
];

/** What one case did. */
export interface RestCaseOutcome {
  readonly ok: boolean;
  /** What was wrong, when not ok. */
  readonly problem: string;
  readonly status: number;
}

/** Sends one case, then checks status, message, unchanged rows and that the directory still serves. */
export async function runRestCase(fixture: RestFixture, c: RestCase): Promise<RestCaseOutcome> {
  const before = await fixture.digest();
  let res: RawResponse;
  try {
    res = await fixture.api.raw(c.request(fixture.ctx), 60_000);
  } catch (error) {
    return { ok: false, status: 0, problem: `no answer: ${(error as Error).message}` };
  }
  const problems: string[] = [];
  if (res.status !== c.status) problems.push(`HTTP ${res.status} (expected ${c.status})`);
  const body = res.json as { error?: unknown; message?: unknown } | undefined;
  if (!c.bareStatus) {
    if (typeof body?.error !== "string" || typeof body.message !== "string" || body.message.trim() === "") {
      problems.push(`no {error, message} JSON body: ${res.text.slice(0, 80)}`);
    } else if (res.status >= 400 && c.message && !c.message.test(body.message)) {
      problems.push(`message "${body.message}" does not match ${c.message}`);
    } else if (/internal server error/i.test(body.message)) {
      problems.push("message is Internal Server Error");
    }
  }
  if (!(await fixture.api.healthy())) problems.push("the directory stopped answering /healthz");
  const after = await fixture.digest();
  if (after.digest !== before.digest) problems.push(`rows changed (${after.how})`);
  return { ok: problems.length === 0, status: res.status, problem: problems.join("; ") };
}

/** A case's name for tables and test titles. */
export function restCaseTitle(c: RestCase): string {
  return `${c.route}: ${c.name}`;
}

/** The whole REST table as one scenario. */
export function badInputRestScenario(): Scenario {
  return {
    family: "bad input",
    name: `directory REST: ${REST_CASES.length} hostile requests`,
    async run() {
      const fixture = await startRestFixture("bad-input-rest");
      try {
        const results: CaseResult[] = [];
        for (const c of REST_CASES) {
          const outcome = await runRestCase(fixture, c);
          results.push({ title: restCaseTitle(c), ok: outcome.ok, problem: outcome.problem, knownFailure: c.knownFailure });
        }
        return tableResult("hostile requests (status, message, no row changed, still serving)", results, "REST bug");
      } finally {
        await fixture.close();
      }
    },
  };
}
