// @p2p/directory-api: the directory's REST contract. Other packages import only this module.

export * from "./constants.js";
export { CONTENT_ID_DESCRIPTION, CONTENT_ID_PATTERN, CONTENT_ID_RULE, isContentId } from "./content-id.js";
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
