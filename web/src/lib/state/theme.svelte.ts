import type { KeyValueStorage } from "../client/token-store.js";
import { THEME_KEY } from "../constants.js";

/** The colour theme a person picked: follow the system, or always light or dark. */
export type ThemeChoice = "system" | "light" | "dark";

const CHOICES: readonly ThemeChoice[] = ["system", "light", "dark"];

/** Reads a stored choice; anything unknown means "follow the system". */
export function parseThemeChoice(value: string | null | undefined): ThemeChoice {
  return CHOICES.find((choice) => choice === value) ?? "system";
}

/**
 * The tab's colour theme. "system" follows `prefers-color-scheme`; the choice is kept in tab
 * storage, so a reload keeps it. The page applies it as `data-theme` on <html>, where the CSS
 * palette (light-dark() colours under `color-scheme`) picks it up.
 */
export class ThemeState {
  choice = $state<ThemeChoice>("system");
  #storage: KeyValueStorage | undefined;

  constructor(storage?: KeyValueStorage) {
    this.#storage = storage;
    try {
      this.choice = parseThemeChoice(storage?.getItem(THEME_KEY));
    } catch {
      this.choice = "system";
    }
  }

  /** Picks a theme and remembers it in the tab. */
  set(choice: ThemeChoice): void {
    this.choice = choice;
    try {
      this.#storage?.setItem(THEME_KEY, choice);
    } catch {
      // Storage refused: the theme still applies to this page.
    }
  }
}
