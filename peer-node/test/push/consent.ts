// Push consents for tests that are about something else than consent (transport, verification, limits).
import type { PushConsent } from "../../src/push/push-settings.js";

/** Takes every push (the setting "anyone" with no size bound). */
export const TAKE_EVERY_PUSH: PushConsent = {
  admit: () => ({ keep: async () => undefined, release: () => undefined }),
};
