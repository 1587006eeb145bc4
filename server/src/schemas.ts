// TypeBox schemas of every request and response (docs/directory-api.md). Requests are bounded here,
// at the edge; what JSON Schema cannot say (UTF-8 byte lengths, URL details) is checked in
// routes/edge-checks.ts. Responses have schemas too, so nothing but these fields ever leaves.

import { Type } from "typebox";
import {
  ADDRESS_MAX_CHARS,
  FILE_NAME_MAX_BYTES,
  MAX_FILE_SIZE_BYTES,
  MAX_FILES_PER_REQUEST,
  MAX_PIECE_SIZE_BYTES,
  MIN_PIECE_SIZE_BYTES,
  PASSWORD_MAX_BYTES,
  SEARCH_DEFAULT_LIMIT,
  SEARCH_MAX_LIMIT,
  SEARCH_MAX_OFFSET,
  SEARCH_QUERY_MAX_BYTES,
  USERNAME_MAX_CHARS,
} from "./constants.js";
import { TOKEN_PATTERN } from "./tokens.js";

export const USERNAME_PATTERN = `^[A-Za-z0-9._-]{1,${USERNAME_MAX_CHARS}}$`;
export const CONTENT_ID_PATTERN = "^[0-9a-f]{64}$";
/** No "/", "\", control characters (U+0000-U+001F, U+007F); not "." or "..". */
export const FILE_NAME_PATTERN = "^(?!\\.\\.?$)[^/\\\\\\u0000-\\u001f\\u007f]+$";
/** Scheme, host (name, IPv4 or [IPv6]) and an explicit port; nothing after but an optional "/". */
export const ADDRESS_PATTERN = "^https?://(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}/?$";
export const NO_CONTROL_CHARACTERS_PATTERN = "^[^\\u0000-\\u001f\\u007f]+$";

/** How a failed pattern is explained to a person, by pattern. */
export const PATTERN_MESSAGES: Readonly<Record<string, string>> = {
  [USERNAME_PATTERN]: `must be 1-${USERNAME_MAX_CHARS} characters of A-Z, a-z, 0-9, ".", "_" or "-"`,
  [CONTENT_ID_PATTERN]: "must be 64 lower-case hex characters (a SHA-256)",
  [FILE_NAME_PATTERN]: 'must not contain "/", "\\" or control characters, and must not be "." or ".."',
  [ADDRESS_PATTERN]: "must be an http:// or https:// URL with a host and a port, and no path",
  [NO_CONTROL_CHARACTERS_PATTERN]: "must not contain control characters",
  [TOKEN_PATTERN]: "must be a ticket as issued by upload-target (43 characters of base64url)",
};

const Timestamp = Type.String({ format: "date-time", description: "ISO-8601, by the directory's clock" });
const ContentId = Type.String({ pattern: CONTENT_ID_PATTERN, description: "SHA-256 of the content, 64 lower-case hex" });
const Username = Type.String({ pattern: USERNAME_PATTERN, description: "peer name" });

/** The body of every error response. */
export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: "HTTP reason phrase" }),
    message: Type.String({ description: "what went wrong, for a person" }),
  },
  { description: "error" },
);

/** The error responses a route can give (5xx carry no details). */
export function errorResponses(...statuses: number[]): Record<string, typeof ErrorBody> {
  const responses: Record<string, typeof ErrorBody> = { "5xx": ErrorBody };
  for (const status of [...statuses, 429]) responses[String(status)] = ErrorBody;
  return responses;
}

export const FileEntry = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: FILE_NAME_MAX_BYTES,
      pattern: FILE_NAME_PATTERN,
      description: `1-${FILE_NAME_MAX_BYTES} UTF-8 bytes, a single path component`,
    }),
    size: Type.Integer({ minimum: 0, maximum: MAX_FILE_SIZE_BYTES, description: "bytes" }),
    contentId: ContentId,
    pieceSize: Type.Integer({ minimum: MIN_PIECE_SIZE_BYTES, maximum: MAX_PIECE_SIZE_BYTES, description: "bytes" }),
  },
  { additionalProperties: false },
);

export const PeerAddress = Type.Object({
  name: Type.String(),
  address: Type.String(),
});

export const Peer = Type.Object({
  name: Type.String(),
  address: Type.String(),
  lastSeenAt: Timestamp,
});

export const LoginBody = Type.Object(
  {
    username: Username,
    password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_BYTES, description: "8-1024 UTF-8 bytes" }),
    address: Type.String({
      maxLength: ADDRESS_MAX_CHARS,
      pattern: ADDRESS_PATTERN,
      description: "the pserver's advertised base URL",
    }),
  },
  { additionalProperties: false },
);

export const LoginResponse = Type.Object({
  token: Type.String({ description: "bearer token (shown once)" }),
  peer: PeerAddress,
  heartbeatIntervalMs: Type.Integer(),
  sessionTtlMs: Type.Integer(),
  expiresAt: Timestamp,
});

export const OkResponse = Type.Object({ ok: Type.Boolean() });

export const HeartbeatResponse = Type.Object({
  expiresAt: Timestamp,
  heartbeatIntervalMs: Type.Integer(),
});

export const ReplaceIndexBody = Type.Object(
  { files: Type.Array(FileEntry, { maxItems: MAX_FILES_PER_REQUEST }) },
  { additionalProperties: false },
);

export const UpdateIndexBody = Type.Object(
  {
    add: Type.Optional(Type.Array(FileEntry, { maxItems: MAX_FILES_PER_REQUEST })),
    remove: Type.Optional(Type.Array(ContentId, { maxItems: MAX_FILES_PER_REQUEST })),
  },
  { additionalProperties: false },
);

export const IndexResponse = Type.Object({ count: Type.Integer({ description: "files the peer now holds" }) });

export const SearchQuery = Type.Object(
  {
    q: Type.String({
      minLength: 1,
      maxLength: SEARCH_QUERY_MAX_BYTES,
      pattern: NO_CONTROL_CHARACTERS_PATTERN,
      description: `case-insensitive substring of the name, 1-${SEARCH_QUERY_MAX_BYTES} UTF-8 bytes`,
    }),
    limit: Type.Integer({ minimum: 1, maximum: SEARCH_MAX_LIMIT, default: SEARCH_DEFAULT_LIMIT }),
    offset: Type.Integer({ minimum: 0, maximum: SEARCH_MAX_OFFSET, default: 0 }),
  },
  { additionalProperties: false },
);

export const SearchResult = Type.Object({
  contentId: Type.String(),
  name: Type.String({ description: "the name most holders use" }),
  size: Type.Integer(),
  pieceSize: Type.Integer(),
  holders: Type.Array(Peer, { description: "live holders, freshest heartbeat first (at most 100)" }),
  holderCount: Type.Integer({ description: "number of live holders" }),
});

export const SearchResponse = Type.Object({
  results: Type.Array(SearchResult),
  total: Type.Integer({ description: "number of results; a lower bound when totalExact is false" }),
  totalExact: Type.Boolean(),
  nextOffset: Type.Union([Type.Integer(), Type.Null()]),
});

export const ContentParams = Type.Object({ contentId: ContentId }, { additionalProperties: false });

export const PeersResponse = Type.Object({ peers: Type.Array(Peer) });

export const UploadTargetBody = Type.Object(
  {
    contentId: ContentId,
    size: Type.Integer({ minimum: 0, maximum: MAX_FILE_SIZE_BYTES }),
    target: Type.Optional(Username),
  },
  { additionalProperties: false },
);

export const UploadTargetResponse = Type.Object({
  peer: Peer,
  ticket: Type.String({ description: "single use; the target redeems it" }),
  expiresAt: Timestamp,
});

export const RedeemBody = Type.Object(
  { ticket: Type.String({ pattern: TOKEN_PATTERN }), contentId: ContentId },
  { additionalProperties: false },
);

export const RedeemResponse = Type.Object({
  contentId: Type.String(),
  size: Type.Integer(),
  from: Type.String({ description: "the uploading peer" }),
});

export const HealthResponse = Type.Object({ status: Type.String() });
