// The push policy between its proto form (ClientService GetSettings/UpdateSettings) and the domain's.
import { create } from "@bufbuild/protobuf";
import { PeerError } from "../errors.js";
import { PushAccept, SettingsSchema, type PushPolicy as PushPolicyMessage, type Settings } from "../gen.js";
import type { PushPolicy, PushSettings } from "../push/push-settings.js";

const ACCEPT_TO_PROTO = { nobody: PushAccept.NOBODY, listed: PushAccept.LISTED, anyone: PushAccept.ANYONE } as const;

/** The settings message: the policy and how much of the quota pushes use now. */
export function settingsMessage(settings: PushSettings): Settings {
  const p = settings.policy;
  return create(SettingsSchema, {
    pushPolicy: {
      accept: ACCEPT_TO_PROTO[p.accept],
      from: [...p.from],
      maxFileBytes: BigInt(p.maxFileBytes),
      quotaBytes: BigInt(p.quotaBytes),
      quotaUsedBytes: BigInt(settings.usedBytes()),
    },
  });
}

/** The fields of a policy message to change (UNSPECIFIED accept leaves it; from and sizes are taken as given). */
export function policyChange(m: PushPolicyMessage): Partial<PushPolicy> {
  const change: { -readonly [K in keyof PushPolicy]?: PushPolicy[K] } = {};
  if (m.accept !== PushAccept.UNSPECIFIED) {
    const entry = Object.entries(ACCEPT_TO_PROTO).find(([, v]) => v === m.accept);
    if (!entry) throw new PeerError("BAD_REQUEST", "push_policy.accept must be NOBODY, LISTED or ANYONE.");
    change.accept = entry[0] as PushPolicy["accept"];
  }
  change.from = m.from;
  for (const key of ["maxFileBytes", "quotaBytes"] as const) {
    if (m[key] > BigInt(Number.MAX_SAFE_INTEGER)) throw new PeerError("BAD_REQUEST", `push_policy.${key} is too large.`);
    change[key] = Number(m[key]);
  }
  return change;
}
