// TypeBox schemas of every /api/v1 request and response body (docs/directory-api.md). The directory
// validates requests and serializes responses with them; the pserver checks the directory's answers
// with the same ones. Responses are bounded as tightly as requests, so a client that checks an answer
// knows every field's type and range. What JSON Schema cannot say (UTF-8 byte lengths, port ranges) is
// in rules.ts.

import { type Static, Type } from "typebox";
import { CONTENT_ID_DESCRIPTION, CONTENT_ID_PATTERN } from "./content-id.js";
import {
  ADDRESS_MAX_CHARS,
  FILE_NAME_MAX_BYTES,
  MAX_FILE_SIZE_BYTES,
  MAX_FILES_PER_PEER,
  MAX_FILES_PER_REQUEST,
  MAX_HEARTBEAT_INTERVAL_MS,
  MAX_HOLDERS_PER_RESULT,
  MAX_PIECE_SIZE_BYTES,
  MAX_SESSION_TTL_MS,
  MIN_HEARTBEAT_INTERVAL_MS,
  MIN_PIECE_SIZE_BYTES,
  PASSWORD_MAX_BYTES,
  PASSWORD_MIN_BYTES,
  SEARCH_DEFAULT_LIMIT,
  SEARCH_MAX_LIMIT,
  SEARCH_MAX_OFFSET,
  SEARCH_QUERY_MAX_BYTES,
} from "./constants.js";
import { ADDRESS_PATTERN, FILE_NAME_PATTERN, NO_CONTROL_CHARACTERS_PATTERN, TOKEN_PATTERN, USERNAME_PATTERN } from "./rules.js";

const Timestamp = Type.String({ format: "date-time", description: "ISO-8601, by the directory's clock" });
const ContentId = Type.String({ pattern: CONTENT_ID_PATTERN, description: CONTENT_ID_DESCRIPTION });
const PeerName = Type.String({ pattern: USERNAME_PATTERN, description: "peer name" });
const SenderName = Type.String({ pattern: USERNAME_PATTERN, description: "the uploading peer" });
const Address = Type.String({
  maxLength: ADDRESS_MAX_CHARS,
  pattern: ADDRESS_PATTERN,
  description: "the pserver's advertised base URL",
});
const fileNameBounds = { minLength: 1, maxLength: FILE_NAME_MAX_BYTES, pattern: FILE_NAME_PATTERN } as const;
const FileName = Type.String({ ...fileNameBounds, description: `1-${FILE_NAME_MAX_BYTES} UTF-8 bytes, a single path component` });
const SharedName = Type.String({ ...fileNameBounds, description: "the name most holders use" });
const Size = Type.Integer({ minimum: 0, maximum: MAX_FILE_SIZE_BYTES, description: "bytes" });
const PieceSize = Type.Integer({ minimum: MIN_PIECE_SIZE_BYTES, maximum: MAX_PIECE_SIZE_BYTES, description: "bytes" });
const HeartbeatIntervalMs = Type.Integer({ minimum: MIN_HEARTBEAT_INTERVAL_MS, maximum: MAX_HEARTBEAT_INTERVAL_MS });
const FileCount = Type.Integer({ minimum: 0, maximum: MAX_FILES_PER_PEER, description: "files the peer now holds" });

/** The body of every error response. */
export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: "HTTP reason phrase" }),
    message: Type.String({ description: "what went wrong, for a person" }),
  },
  { description: "error" },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** One file of a peer's index. */
export const FileEntry = Type.Object(
  { name: FileName, size: Size, contentId: ContentId, pieceSize: PieceSize },
  { additionalProperties: false },
);
export type FileEntry = Static<typeof FileEntry>;

/** A peer's name and address, as its login answer names it. */
export const PeerAddress = Type.Object({ name: PeerName, address: Address });
export type PeerAddress = Static<typeof PeerAddress>;

/** A live peer. */
export const Peer = Type.Object({ name: PeerName, address: Address, lastSeenAt: Timestamp });
export type Peer = Static<typeof Peer>;

/** POST /login. */
export const LoginBody = Type.Object(
  {
    username: PeerName,
    password: Type.String({
      minLength: 1,
      maxLength: PASSWORD_MAX_BYTES,
      description: `${PASSWORD_MIN_BYTES}-${PASSWORD_MAX_BYTES} UTF-8 bytes`,
    }),
    address: Address,
  },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBody>;

export const LoginResponse = Type.Object({
  token: Type.String({ pattern: TOKEN_PATTERN, description: "bearer token (shown once)" }),
  peer: PeerAddress,
  heartbeatIntervalMs: HeartbeatIntervalMs,
  sessionTtlMs: Type.Integer({ minimum: MIN_HEARTBEAT_INTERVAL_MS, maximum: MAX_SESSION_TTL_MS }),
  expiresAt: Timestamp,
});
export type LoginResponse = Static<typeof LoginResponse>;

/** POST /relocate: the caller's session moved to another address (a browser peer changing gateways). */
export const RelocateBody = Type.Object({ address: Address }, { additionalProperties: false });
export type RelocateBody = Static<typeof RelocateBody>;

/** POST /logout. */
export const OkResponse = Type.Object({ ok: Type.Boolean() });
export type OkResponse = Static<typeof OkResponse>;

/** POST /heartbeat. */
export const HeartbeatResponse = Type.Object({ expiresAt: Timestamp, heartbeatIntervalMs: HeartbeatIntervalMs });
export type HeartbeatResponse = Static<typeof HeartbeatResponse>;

/** PUT /index. */
export const ReplaceIndexBody = Type.Object(
  { files: Type.Array(FileEntry, { maxItems: MAX_FILES_PER_REQUEST }) },
  { additionalProperties: false },
);
export type ReplaceIndexBody = Static<typeof ReplaceIndexBody>;

/** PATCH /index. */
export const UpdateIndexBody = Type.Object(
  {
    add: Type.Optional(Type.Array(FileEntry, { maxItems: MAX_FILES_PER_REQUEST })),
    remove: Type.Optional(Type.Array(ContentId, { maxItems: MAX_FILES_PER_REQUEST })),
  },
  { additionalProperties: false },
);
export type UpdateIndexBody = Static<typeof UpdateIndexBody>;

/** The answer of PUT and PATCH /index. */
export const IndexResponse = Type.Object({ count: FileCount });
export type IndexResponse = Static<typeof IndexResponse>;

/** GET /search's query string. */
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
export type SearchQuery = Static<typeof SearchQuery>;

/** One content with its live holders (a search result, and GET /files/:contentId). */
export const SearchResult = Type.Object({
  contentId: ContentId,
  name: SharedName,
  size: Size,
  pieceSize: PieceSize,
  holders: Type.Array(Peer, {
    maxItems: MAX_HOLDERS_PER_RESULT,
    description: `live holders, freshest heartbeat first (at most ${MAX_HOLDERS_PER_RESULT})`,
  }),
  holderCount: Type.Integer({ minimum: 0, description: "number of live holders" }),
});
export type SearchResult = Static<typeof SearchResult>;

/** GET /search. */
export const SearchResponse = Type.Object({
  results: Type.Array(SearchResult, { maxItems: SEARCH_MAX_LIMIT }),
  total: Type.Integer({ minimum: 0, description: "number of results; a lower bound when totalExact is false" }),
  totalExact: Type.Boolean(),
  nextOffset: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
});
export type SearchResponse = Static<typeof SearchResponse>;

/** GET /files/:contentId's path parameters. */
export const ContentParams = Type.Object({ contentId: ContentId }, { additionalProperties: false });
export type ContentParams = Static<typeof ContentParams>;

/** GET /peers. */
export const PeersResponse = Type.Object({ peers: Type.Array(Peer) });
export type PeersResponse = Static<typeof PeersResponse>;

/** POST /upload-target. */
export const UploadTargetBody = Type.Object(
  { contentId: ContentId, size: Size, target: Type.Optional(PeerName) },
  { additionalProperties: false },
);
export type UploadTargetBody = Static<typeof UploadTargetBody>;

export const UploadTargetResponse = Type.Object({
  peer: Peer,
  ticket: Type.String({ pattern: TOKEN_PATTERN, description: "single use; the target redeems it" }),
  expiresAt: Timestamp,
});
export type UploadTargetResponse = Static<typeof UploadTargetResponse>;

/** POST /tickets/redeem. */
export const RedeemBody = Type.Object(
  { ticket: Type.String({ pattern: TOKEN_PATTERN }), contentId: ContentId },
  { additionalProperties: false },
);
export type RedeemBody = Static<typeof RedeemBody>;

export const RedeemResponse = Type.Object({
  contentId: ContentId,
  size: Size,
  from: SenderName,
});
export type RedeemResponse = Static<typeof RedeemResponse>;

/** GET /healthz. */
export const HealthResponse = Type.Object({ status: Type.String() });
export type HealthResponse = Static<typeof HealthResponse>;
