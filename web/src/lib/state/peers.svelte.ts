import type { Peer } from "../client/gen.js";
import { peerView, type PeerView } from "./views.js";

/** The live peers, kept current by the event feed. */
export class PeersState {
  peers = $state<PeerView[]>([]);
  /** Whether a list has arrived at least once (before that, nobody is known to be gone). */
  known = $state(false);
  names = $derived(new Set(this.peers.map((peer) => peer.name)));

  /** Replaces the list with the directory's current one. */
  set(peers: readonly Peer[]): void {
    this.peers = peers.map(peerView).sort((a, b) => a.name.localeCompare(b.name));
    this.known = true;
  }

  /** Whether a peer of that name is live (true while nothing is known yet). */
  isLive(name: string): boolean {
    return !this.known || this.names.has(name);
  }

  /** The live peers other than `selfName`: where a file can be pushed. */
  others(selfName: string): PeerView[] {
    return this.peers.filter((peer) => peer.name !== selfName);
  }

  /** Forgets everything (logout). */
  reset(): void {
    this.peers = [];
    this.known = false;
  }
}
