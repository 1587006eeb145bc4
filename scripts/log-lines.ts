// How `npm start` shows the log lines of its processes: on a terminal, one readable line per record
// (time, level, source, message, a few key fields); elsewhere, or when asked, the JSON lines as they
// are, so a file or a log shipper gets every field.

/** Readable lines ("pretty") or JSON lines ("json"). */
export type LogFormat = "pretty" | "json";

/** --json or LOG_FORMAT=json asks for JSON, LOG_FORMAT=pretty for readable lines; else a terminal gets readable lines. */
export function chooseLogFormat(argv: readonly string[], env: NodeJS.ProcessEnv, isTTY: boolean): LogFormat {
  if (argv.includes("--json")) return "json";
  const asked = env.LOG_FORMAT?.trim().toLowerCase();
  if (asked === "json" || asked === "pretty") return asked;
  return isTTY ? "pretty" : "json";
}

const LEVELS: Record<number, { word: string; color: string }> = {
  10: { word: "TRACE", color: "\x1b[90m" },
  20: { word: "DEBUG", color: "\x1b[90m" },
  30: { word: "INFO", color: "\x1b[32m" },
  40: { word: "WARN", color: "\x1b[33m" },
  50: { word: "ERROR", color: "\x1b[31m" },
  60: { word: "FATAL", color: "\x1b[41m\x1b[97m" },
};
const RESET = "\x1b[0m";
const DIM = "\x1b[2m";
/** Fields every record has, or that the line shows elsewhere (time, level, source, message). */
const SHOWN_ELSEWHERE = new Set(["level", "time", "msg", "pid", "hostname", "name", "peer", "service", "component", "v"]);
const MAX_FIELDS = 6;
const MAX_VALUE_CHARS = 80;

/** A pino record: what every line has, and whatever the code bound or passed. */
type LogRecord = { level?: unknown; time?: unknown; msg?: unknown; component?: unknown } & Record<string, unknown>;

/** Parses a line as a pino record; undefined for anything else (plain text a process printed). */
export function parseRecord(line: string): LogRecord | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value) && "level" in value ? (value as LogRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** One field's value in a few characters: errors by their message, requests by method and URL. */
function shortValue(key: string, value: unknown): string {
  if (value !== null && typeof value === "object") {
    const object = value as Record<string, unknown>;
    if (key === "err" || key === "error") return JSON.stringify(String(object.message ?? object.type ?? "error"));
    if (key === "req") return `${String(object.method)} ${String(object.url)}`;
    if (key === "res") return String(object.statusCode);
  }
  const text = typeof value === "string" ? (/[\s"=]/.test(value) || value === "" ? JSON.stringify(value) : value) : JSON.stringify(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

/** Local wall-clock time as HH:MM:SS. */
function clock(ms: number): string {
  const at = new Date(ms);
  return [at.getHours(), at.getMinutes(), at.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/**
 * A pino record as one readable line, e.g.
 * `20:31:04 INFO  alice  pserver started  url=http://127.0.0.1:7001 loggedIn=true`.
 */
export function prettyRecord(record: LogRecord, source: string, color: boolean): string {
  const level = LEVELS[Number(record.level)] ?? { word: String(record.level), color: "" };
  const time = typeof record.time === "number" ? clock(record.time) : clock(Date.now());
  const who = typeof record.component === "string" ? `${source}/${record.component}` : source;
  const fields = Object.entries(record)
    .filter(([key, value]) => !SHOWN_ELSEWHERE.has(key) && value !== undefined)
    .slice(0, MAX_FIELDS)
    .map(([key, value]) => `${key}=${shortValue(key, value)}`);
  const paint = (code: string, text: string): string => (color && code ? `${code}${text}${RESET}` : text);
  const message = typeof record.msg === "string" ? record.msg : "";
  return [paint(DIM, time), paint(level.color, level.word.padEnd(5)), paint("\x1b[36m", who.padEnd(9)), message, paint(DIM, fields.join(" "))]
    .filter((part) => part !== "")
    .join(" ")
    .trimEnd();
}

/**
 * A line a process printed, in the chosen format: readable lines keep plain text as it is (with its
 * source in front); JSON lines pass records through untouched and wrap plain text as a record.
 */
export function formatLine(line: string, source: string, format: LogFormat, color: boolean, nowMs: number = Date.now()): string {
  const record = parseRecord(line);
  if (format === "json") return record !== undefined ? line : JSON.stringify({ level: 30, time: nowMs, name: source, msg: line });
  if (record !== undefined) return prettyRecord(record, source, color);
  return `${color ? `\x1b[36m${source.padEnd(9)}\x1b[0m` : source.padEnd(9)} ${line}`;
}
