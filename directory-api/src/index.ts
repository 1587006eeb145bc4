// @p2p/directory-api: the directory's REST contract. Other packages import only this module.

export * from "./constants.js";
export { CONTENT_ID_DESCRIPTION, CONTENT_ID_PATTERN, CONTENT_ID_RULE, isContentId } from "./content-id.js";
export {
  ADDRESS_PATTERN,
  addressProblem,
  FILE_NAME_PATTERN,
  fileNameProblem,
  isPeerName,
  NO_CONTROL_CHARACTERS_PATTERN,
  passwordProblem,
  PATTERN_MESSAGES,
  queryLengthProblem,
  TOKEN_PATTERN,
  USERNAME_PATTERN,
  utf8ByteLength,
} from "./rules.js";
export * from "./schemas.js";
export { PUSH_ACCEPT_VALUES, PUSH_POLICY_MAX_SENDERS, PushPolicyBody, pushPolicyAccepts, type PushAccept } from "./push-policy.js";
