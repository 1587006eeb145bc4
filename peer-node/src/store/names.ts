// File names that come from the network (manifests, pushes) or a browser (imports) become real paths
// in the shared folder, so they are checked as strictly as croc checks received names: one safe path
// component on Linux, macOS and Windows alike, or a clear refusal.
import { MAX_FILE_NAME_BYTES } from "../constants.js";
import { PeerError } from "../errors.js";

// A surrogate without its pair: a JS string that no UTF-8 byte sequence can represent.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// Windows refuses these as a file's base name whatever the extension ("con.txt" opens the console).
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;
// Characters Windows cannot store in a name; ":" also opens NTFS alternate data streams ("a:b").
const WINDOWS_FORBIDDEN = /[<>:"|?*]/;
// C0 controls, DEL, C1 controls: invisible, and some terminals act on them.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Bidirectional overrides and isolates disguise names ("gnp.exe" shown as "exe.png").
const BIDI = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;

/** Why a name is unacceptable, or undefined when it is a valid shared file name. */
export function fileNameProblem(name: string): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "The file name is empty.";
  // Lone surrogates cannot be encoded as UTF-8; U+FFFD is what a decoder leaves for invalid UTF-8.
  if (LONE_SURROGATE.test(name) || name.includes("\ufffd")) return "The file name is not valid UTF-8.";
  if (Buffer.byteLength(name, "utf8") > MAX_FILE_NAME_BYTES) {
    return `The file name is longer than ${MAX_FILE_NAME_BYTES} bytes.`;
  }
  if (name.normalize("NFC") !== name) return "The file name is not in Unicode normal form C (NFC).";
  if (name === "." || name === "..") return "The file name cannot be . or ..";
  if (name.includes("/") || name.includes("\\")) return "The file name cannot contain / or \\ (it must not be a path).";
  if (CONTROL.test(name)) return "The file name cannot contain control characters.";
  if (BIDI.test(name)) return "The file name cannot contain bidirectional text controls.";
  if (WINDOWS_FORBIDDEN.test(name)) return 'The file name cannot contain any of < > : " | ? *.';
  if (name.startsWith(".")) return "Hidden file names (starting with a dot) are not shared.";
  if (/[. ]$/.test(name)) return "The file name cannot end with a dot or a space.";
  if (/^\s|\s$/.test(name)) return "The file name cannot start or end with white space.";
  const base = name.split(".")[0]!.trimEnd();
  if (WINDOWS_RESERVED.test(base)) return `The file name ${JSON.stringify(name)} is reserved on Windows.`;
  return undefined;
}

/** Whether a name is a valid shared file name. */
export function isValidFileName(name: string): boolean {
  return fileNameProblem(name) === undefined;
}

/** Returns the name unchanged when valid; throws a BAD_NAME PeerError with the reason otherwise. */
export function validateFileName(name: string): string {
  const problem = fileNameProblem(name);
  if (problem !== undefined) throw new PeerError("BAD_NAME", problem);
  return name;
}

/**
 * Turns any name into a valid one (for names we did not choose, e.g. a holder's manifest): NFC,
 * forbidden characters replaced by "_", trimmed, shortened; `fallback` when nothing usable is left.
 */
export function sanitizeFileName(name: string, fallback: string): string {
  let s = (typeof name === "string" ? name : "").replace(new RegExp(LONE_SURROGATE.source, "g"), "_").normalize("NFC");
  s = s.replace(/[\/\\]/g, "_").replace(new RegExp(CONTROL.source, "g"), "").replace(new RegExp(BIDI.source, "g"), "");
  s = s.replace(new RegExp(WINDOWS_FORBIDDEN.source, "g"), "_").replace(/\ufffd/g, "_");
  s = s.trim().replace(/^\.+/, "").replace(/[. ]+$/, "");
  s = truncateUtf8(s, MAX_FILE_NAME_BYTES);
  if (WINDOWS_RESERVED.test(s.split(".")[0]!.trimEnd())) s = `_${s}`;
  s = truncateUtf8(s, MAX_FILE_NAME_BYTES).replace(/[. ]+$/, "");
  return isValidFileName(s) ? s : fallback;
}

/**
 * The first of `name`, `stem (1).ext`, `stem (2).ext`, ... for which `taken` says no; the stem is
 * shortened when the suffix would push the name past the byte limit.
 */
export function uniqueFileName(name: string, taken: (candidate: string) => boolean, maxTries = 10_000): string {
  if (!taken(name)) return name;
  const dot = name.lastIndexOf(".");
  // "archive.tar.gz" -> "archive.tar (1).gz"; a name whose only dot is first has no extension.
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  for (let i = 1; i <= maxTries; i++) {
    const suffix = ` (${i})${ext}`;
    const room = MAX_FILE_NAME_BYTES - Buffer.byteLength(suffix, "utf8");
    const candidate = `${truncateUtf8(stem, room).trimEnd()}${suffix}`.normalize("NFC");
    if (isValidFileName(candidate) && !taken(candidate)) return candidate;
  }
  throw new PeerError("BAD_NAME", `No free name like ${JSON.stringify(name)} is left in the shared folder.`);
}

/** Cuts a string to at most `maxBytes` UTF-8 bytes without splitting a character. */
function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s, "utf8") <= maxBytes) return s;
  let out = "";
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch, "utf8");
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}
