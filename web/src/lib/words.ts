// The plain words the transfer list uses; the same transfer reads the same in every row.
import type { TransferKindName, TransferView } from "./state/views.js";

/** What kind of move a transfer is, in a word. */
export const KIND_LABEL: Record<TransferKindName, string> = { download: "Download", upload: "Send", import: "Add" };

/** Where a transfer is, in words; `paused` is an import whose file this tab no longer has. */
export function phaseLabel(view: TransferView, paused: boolean): string {
  switch (view.phase) {
    case "queued":
      return "Waiting";
    case "running":
      if (paused) return "Paused";
      return view.kind === "download" ? "Downloading" : view.kind === "upload" ? "Sending" : "Adding to your shared files";
    case "verifying":
      return "Checking what arrived";
    case "completed":
      return "Done";
    case "failed":
      return "Failed";
    case "cancelled":
      return "Cancelled";
  }
}

/** Which peers a transfer moves bytes with, e.g. "from bob, carol" or "to bob"; empty for imports. */
export function peersLine(view: TransferView): string {
  if (view.kind === "download") return view.sources.length > 0 ? `from ${view.sources.join(", ")}` : "";
  if (view.kind === "upload") {
    if (view.targetPeer) return `to ${view.targetPeer}`;
    return view.sources.length > 0 ? `to ${view.sources.join(", ")}` : "to a peer the network picks";
  }
  return "";
}

/** Whether a running import waits for this tab to pick its file again (the page was reloaded). */
export function waitsForFile(view: TransferView): boolean {
  return view.kind === "import" && !view.drivenByTab && (view.phase === "queued" || view.phase === "running" || view.phase === "verifying");
}

/** "1 file", "3 files". */
export function fileCount(count: number): string {
  return `${count} ${count === 1 ? "file" : "files"}`;
}

/** What logging out will do, said before it is done. */
export function logoutWarning(sharedFiles: number): string {
  if (sharedFiles === 0) return "This peer goes offline: other peers stop seeing it until you log in again.";
  const verb = sharedFiles === 1 ? "goes" : "go";
  return `${fileCount(sharedFiles)} ${verb} offline from the network: other peers can't download ${sharedFiles === 1 ? "it" : "them"} from you until you log in again.`;
}

/** What logging out did, said on the login page afterwards. */
export function loggedOutSentence(sharedFiles: number): string {
  if (sharedFiles === 0) return "You logged out. This peer is offline.";
  const were = sharedFiles === 1 ? "was" : "were";
  return `You logged out. This peer is offline: its ${fileCount(sharedFiles)} ${were} taken off the network.`;
}
