// PUT /push-policy: whom a peer takes pushes from, and how much. The directory only picks upload targets
// whose policy takes the sender and the size; the receiving pserver checks its own policy again on every
// push (it never relies on the directory alone). A peer that never sent a policy takes no push.

import { type Static, Type } from "typebox";
import { MAX_FILE_SIZE_BYTES } from "./constants.js";
import { USERNAME_PATTERN } from "./rules.js";

/** Most peer names a "listed" push policy may name. */
export const PUSH_POLICY_MAX_SENDERS = 64;

/** Whom a peer takes pushes from. */
export const PUSH_ACCEPT_VALUES = ["nobody", "listed", "anyone"] as const;
export type PushAccept = (typeof PUSH_ACCEPT_VALUES)[number];

/** PUT /push-policy. */
export const PushPolicyBody = Type.Object(
  {
    accept: Type.Union([Type.Literal("nobody"), Type.Literal("listed"), Type.Literal("anyone")], {
      description: "nobody (the default), the peers listed in `from`, or anyone",
    }),
    from: Type.Array(Type.String({ pattern: USERNAME_PATTERN, description: "peer name (case-insensitive)" }), {
      maxItems: PUSH_POLICY_MAX_SENDERS,
      description: `peers whose pushes are taken when accept is "listed" (at most ${PUSH_POLICY_MAX_SENDERS})`,
    }),
    maxFileBytes: Type.Integer({ minimum: 0, maximum: MAX_FILE_SIZE_BYTES, description: "largest single file taken" }),
    quotaBytes: Type.Integer({
      minimum: 0,
      maximum: MAX_FILE_SIZE_BYTES,
      description: "bytes of pushes the peer still takes now (its quota minus what pushes already brought)",
    }),
  },
  { additionalProperties: false },
);
export type PushPolicyBody = Static<typeof PushPolicyBody>;

/** Whether `policy` takes a push of `size` bytes from the peer named `from` (names compare case-insensitively). */
export function pushPolicyAccepts(policy: PushPolicyBody, from: string, size: number): boolean {
  if (size > policy.maxFileBytes || size > policy.quotaBytes) return false;
  if (policy.accept === "anyone") return true;
  if (policy.accept === "nobody") return false;
  const key = from.toLowerCase();
  return policy.from.some((name) => name.toLowerCase() === key);
}
