// @p2p/directory-api: the directory's REST contract. Other packages import only this module.

export * from "./constants.js";
export {
  BASE_PIECE_SIZE_BYTES,
  canonicalManifestBytes,
  CONTENT_ID_DESCRIPTION,
  CONTENT_ID_PATTERN,
  CONTENT_ID_PREFIX,
  CONTENT_ID_RULE,
  contentIdFromManifestDigest,
  contentIdOf,
  isContentId,
  isLegacyContentId,
  LEGACY_CONTENT_ID_MESSAGE,
  LEGACY_CONTENT_ID_PATTERN,
  MANIFEST_HEADER_BYTES,
  MANIFEST_MAGIC,
  MANIFEST_TARGET_PIECES,
  manifestProblem,
  PIECE_HASH_BYTES,
  pieceCountFor,
  pieceSizeFor,
  type Sha256,
} from "./content-id.js";
export {
  ADDRESS_NONCE_PATTERN,
  ADDRESS_PATTERN,
  addressProblem,
  FILE_NAME_PATTERN,
  fileNameProblem,
  isPeerName,
  NO_CONTROL_CHARACTERS_PATTERN,
  passwordProblem,
  PATTERN_MESSAGES,
  PROOF_KEY_PATTERN,
  queryLengthProblem,
  RELAY_PATH_PREFIX,
  relayAddress,
  relayNameOf,
  TOKEN_PATTERN,
  USERNAME_PATTERN,
  utf8ByteLength,
} from "./rules.js";
export * from "./schemas.js";
export { PUSH_ACCEPT_VALUES, PUSH_POLICY_MAX_SENDERS, PushPolicyBody, pushPolicyAccepts, type PushAccept } from "./push-policy.js";
