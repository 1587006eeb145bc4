import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../client/token-store.js";
import { parseThemeChoice, ThemeState } from "./theme.svelte.js";

describe("ThemeState", () => {
  it("follows the system until a choice is made, and keeps the choice across a reload", () => {
    const storage = new MemoryStorage();
    const first = new ThemeState(storage);
    expect(first.choice).toBe("system");
    first.set("dark");
    expect(new ThemeState(storage).choice).toBe("dark");
    first.set("system");
    expect(new ThemeState(storage).choice).toBe("system");
  });

  it("reads anything unknown as the system's choice", () => {
    expect(parseThemeChoice("light")).toBe("light");
    expect(parseThemeChoice("purple")).toBe("system");
    expect(parseThemeChoice(null)).toBe("system");
  });
});
