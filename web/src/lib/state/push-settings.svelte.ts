import type { ClientApi } from "../client/api.js";
import { PushAccept, type PushPolicy } from "../client/gen.js";
import { describeOnly, type ErrorReporter } from "./report.js";

/** Whom this peer takes pushes from, as the settings panel edits it. */
export type AcceptChoice = "nobody" | "listed" | "anyone";

const TO_PROTO: Record<AcceptChoice, PushAccept> = { nobody: PushAccept.NOBODY, listed: PushAccept.LISTED, anyone: PushAccept.ANYONE };

/** Dependencies of {@link PushSettingsState}. */
export interface PushSettingsDeps {
  api: ClientApi;
  reportError?: ErrorReporter;
}

/** Peer names typed as "bob, carol" or one per line: trimmed, empty ones dropped, each once. */
export function parsePeerNames(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((name) => name.trim()).filter((name) => name !== ""))];
}

/**
 * This peer's push setting (GetSettings / UpdateSettings): whom it takes files from that other peers
 * send it, the largest file and the room pushes may use. A fresh peer takes none.
 */
export class PushSettingsState {
  accept = $state<AcceptChoice>("nobody");
  /** The listed peers, as typed. */
  fromText = $state("");
  maxFileBytes = $state(0);
  quotaBytes = $state(0);
  quotaUsedBytes = $state(0);
  loaded = $state(false);
  saving = $state(false);
  #deps: PushSettingsDeps;

  constructor(deps: PushSettingsDeps) {
    this.#deps = deps;
  }

  /** Reads the setting from the pserver. Returns an error message, or undefined. */
  async load(): Promise<string | undefined> {
    try {
      const { settings } = await this.#deps.api.getSettings({});
      if (settings?.pushPolicy) this.#apply(settings.pushPolicy);
      return undefined;
    } catch (error) {
      return (this.#deps.reportError ?? describeOnly)(error, "settings");
    }
  }

  /** Saves the setting as edited. Returns an error message, or undefined. */
  async save(): Promise<string | undefined> {
    this.saving = true;
    try {
      const pushPolicy = {
        accept: TO_PROTO[this.accept],
        from: parsePeerNames(this.fromText),
        maxFileBytes: BigInt(Math.max(0, Math.floor(this.maxFileBytes))),
        quotaBytes: BigInt(Math.max(0, Math.floor(this.quotaBytes))),
      };
      const { settings } = await this.#deps.api.updateSettings({ pushPolicy });
      if (settings?.pushPolicy) this.#apply(settings.pushPolicy);
      return undefined;
    } catch (error) {
      return (this.#deps.reportError ?? describeOnly)(error, "settings");
    } finally {
      this.saving = false;
    }
  }

  #apply(p: PushPolicy): void {
    this.accept = p.accept === PushAccept.LISTED ? "listed" : p.accept === PushAccept.ANYONE ? "anyone" : "nobody";
    this.fromText = p.from.join(", ");
    this.maxFileBytes = Number(p.maxFileBytes);
    this.quotaBytes = Number(p.quotaBytes);
    this.quotaUsedBytes = Number(p.quotaUsedBytes);
    this.loaded = true;
  }
}
