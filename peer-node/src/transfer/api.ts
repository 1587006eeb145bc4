import type { Transfer } from "./transfer.js";

/** A live peer that holds (or will receive) a file: its name and pserver base URL. */
export interface PeerRef {
  readonly name: string;
  /** Base URL of the peer's one port, e.g. http://127.0.0.1:7002. */
  readonly address: string;
}

/** Asks the directory which live peers (other than this one) hold a content id. */
export type FindHolders = (contentId: string, signal?: AbortSignal) => Promise<PeerRef[]>;

/** What the directory vouches for when it issued a push ticket. */
export interface RedeemedTicket {
  readonly contentId: string;
  readonly size: number;
  /** Name of the pushing peer. */
  readonly from: string;
}

/** Redeems a push ticket at the directory; rejects with TICKET_REFUSED when the directory does not vouch. */
export type RedeemTicket = (ticket: string, contentId: string) => Promise<RedeemedTicket>;

/** Multi-source, verified, resumable downloads into the shared folder. */
export interface Downloader {
  /** Starts the download of a content id, or returns the running one; never throws for network trouble (the transfer fails instead). */
  download(contentId: string): Transfer;
  /** Restarts downloads a previous run left unfinished (their state files are in the store's partialDir). */
  resumeUnfinished(): Promise<Transfer[]>;
  /** Cancels everything and waits for the workers to stop. */
  close(): Promise<void>;
}

/** Pushes a held file to one peer under a directory ticket. */
export interface Pusher {
  /** Starts pushing; the transfer completes when the receiver has verified and kept the file. */
  push(contentId: string, target: PeerRef, ticket: string): Transfer;
}
