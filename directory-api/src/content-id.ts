// The content id: the one definition of its format. Everything that accepts, stores or checks a
// content id (the directory's schemas, the pserver, chaos, the tab) asks here, so that a new format
// (a Merkle root instead of the SHA-256 of the whole file) changes this file and nothing else.

/** JSON Schema pattern of a content id: the SHA-256 of the content, 64 lower-case hex characters. */
export const CONTENT_ID_PATTERN = "^[0-9a-f]{64}$";

/** What a content id looks like, for error messages ("contentId must be …"). */
export const CONTENT_ID_RULE = "must be 64 lower-case hex characters (a SHA-256)";

/** What a content id is, for API descriptions. */
export const CONTENT_ID_DESCRIPTION = "SHA-256 of the content, 64 lower-case hex";

const CONTENT_ID = new RegExp(CONTENT_ID_PATTERN);

/** Whether a value is a content id. */
export function isContentId(value: unknown): value is string {
  return typeof value === "string" && CONTENT_ID.test(value);
}
