import { describe, expect, it } from "vitest";
import { progress } from "./testing/fake-pserver.js";
import { TransferKind, TransferState } from "./client/gen.js";
import { transferView } from "./state/views.js";
import { loggedOutSentence, logoutWarning, peersLine, phaseLabel, waitsForFile } from "./words.js";

describe("logout words", () => {
  it("says before how many files go offline, and after that they were taken off the network", () => {
    expect(logoutWarning(3)).toBe("3 files go offline from the network: other peers can't download them from you until you log in again.");
    expect(logoutWarning(1)).toBe("1 file goes offline from the network: other peers can't download it from you until you log in again.");
    expect(logoutWarning(0)).toBe("This peer goes offline: other peers stop seeing it until you log in again.");
    expect(loggedOutSentence(3)).toBe("You logged out. This peer is offline: its 3 files were taken off the network.");
    expect(loggedOutSentence(1)).toBe("You logged out. This peer is offline: its 1 file was taken off the network.");
    expect(loggedOutSentence(0)).toBe("You logged out. This peer is offline.");
  });
});

describe("transfer words", () => {
  const view = (fields: Parameters<typeof progress>[0]) => transferView(progress(fields), 0);

  it("say what a transfer does in plain words", () => {
    expect(phaseLabel(view({ id: "a", kind: TransferKind.IMPORT }), false)).toBe("Adding to your shared files");
    expect(phaseLabel(view({ id: "a", kind: TransferKind.DOWNLOAD }), false)).toBe("Downloading");
    expect(phaseLabel(view({ id: "a", state: TransferState.VERIFYING }), false)).toBe("Checking what arrived");
    expect(peersLine(view({ id: "a", sources: ["bob", "carol"] }))).toBe("from bob, carol");
    expect(peersLine(view({ id: "a", kind: TransferKind.UPLOAD }))).toBe("to a peer the network picks");
  });

  it("knows an import waits for its file after a reload", () => {
    const reloaded = view({ id: "a", kind: TransferKind.IMPORT });
    expect(waitsForFile(reloaded)).toBe(true);
    expect(waitsForFile({ ...reloaded, drivenByTab: true })).toBe(false);
    expect(phaseLabel(reloaded, true)).toBe("Paused");
  });
});
