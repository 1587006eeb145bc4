import { isPeerName, PASSWORD_MAX_BYTES, PASSWORD_MIN_BYTES, USERNAME_MAX_CHARS, utf8ByteLength } from "@p2p/directory-api";
import type { ClientApi } from "../client/api.js";
import type { DirectoryLink, GetStatusResponse } from "../client/gen.js";
import type { TokenStore } from "../client/token-store.js";
import { describeOnly, type ErrorReporter } from "./report.js";
import { msOf } from "./views.js";

/** Dependencies of {@link SessionState}. */
export interface SessionDeps {
  api: ClientApi;
  tokens: TokenStore;
  reportError?: ErrorReporter;
}

/** This pserver's link to the directory, as last reported. */
export interface LinkView {
  loggedIn: boolean;
  reachable: boolean;
  lastHeartbeatAtMs: number | undefined;
}


/** Checks login input before it leaves the tab; returns a sentence for the person, or undefined. */
export function checkCredentials(username: string, password: string): string | undefined {
  if (username === "") return "Enter your username.";
  if (!isPeerName(username)) return `Usernames are 1 to ${USERNAME_MAX_CHARS} letters, digits, dots, dashes or underscores.`;
  const passwordBytes = utf8ByteLength(password);
  if (passwordBytes === 0) return "Enter your password.";
  if (passwordBytes < PASSWORD_MIN_BYTES) return `Passwords are at least ${PASSWORD_MIN_BYTES} characters long.`;
  if (passwordBytes > PASSWORD_MAX_BYTES) return "That password is too long.";
  return undefined;
}

/**
 * Who this tab is: which peer it belongs to, whether it holds a session, and how the peer's link to
 * the directory is. The token lives in the TokenStore (sessionStorage) so a reload stays logged in.
 */
export class SessionState {
  /** Name of this peer (the configured name before login, the username after). */
  peerName = $state("");
  /** Address this peer advertises to other peers. */
  address = $state("");
  /** Whether the pserver is logged in at the directory (its files on the network), as GetStatus said. */
  peerOnline = $state(false);
  /**
   * The one name this pserver accepts at login, if it has one: a pserver is configured as one peer
   * and refuses every other username (PermissionDenied), so the login form shows it read-only.
   */
  fixedUsername = $derived(this.peerName);
  /** Software version of the pserver. */
  version = $state("");
  directoryUrl = $state("");
  /** Whether this tab holds a valid session. */
  loggedIn = $state(false);
  /** Whether the first status check has answered (before that the page shows nothing to act on). */
  ready = $state(false);
  /** Whether the pserver answered the last status call; false while it cannot be reached at all. */
  reachable = $state(true);
  link = $state<LinkView>({ loggedIn: false, reachable: false, lastHeartbeatAtMs: undefined });
  /** A login, logout or status call is running. */
  busy = $state(false);
  /** The last login error, as a sentence. */
  error = $state("");
  /** Why the tab was logged out without asking (session expired), shown on the login form. */
  endedReason = $state("");
  /** What the person's own logout did, shown calmly on the login form afterwards. */
  farewell = $state("");
  #deps: SessionDeps;

  constructor(deps: SessionDeps) {
    this.#deps = deps;
  }

  /**
   * Asks the pserver who it is. With a stored token, also whether that session is still valid;
   * an expired one is forgotten and the person is told why.
   */
  async load(): Promise<void> {
    const hadToken = this.#deps.tokens.token !== undefined;
    try {
      const status = await this.#deps.api.getStatus({});
      this.applyStatus(status);
      if (hadToken && !status.sessionValid) {
        this.#deps.tokens.clear();
        this.endedReason = "Your session has ended. Please log in again.";
      }
      this.error = "";
      this.reachable = true;
      this.ready = true;
    } catch {
      // Nothing answers: the page says so across its full width and tries again by itself. The
      // token is kept (the pserver may only be restarting); a tab that holds one keeps waiting
      // rather than showing a login form it may not need.
      this.reachable = false;
      this.loggedIn = false;
      if (!hadToken) this.ready = true;
    }
  }

  /** Takes in a GetStatus answer. */
  applyStatus(status: GetStatusResponse): void {
    this.peerName = status.peerName;
    this.peerOnline = status.loggedIn;
    this.version = status.version;
    this.loggedIn = status.sessionValid;
    if (status.sessionValid) {
      this.address = status.address;
      this.directoryUrl = status.directoryUrl;
      this.link = {
        loggedIn: status.loggedIn,
        reachable: status.directoryReachable,
        lastHeartbeatAtMs: msOf(status.lastHeartbeatAt),
      };
    }
  }

  /** Takes in a link change from the event feed. */
  applyLink(link: DirectoryLink): void {
    this.link = { loggedIn: link.loggedIn, reachable: link.reachable, lastHeartbeatAtMs: msOf(link.lastHeartbeatAt) };
  }

  /** Logs in (the first login of a name registers it); returns true on success, else sets `error`. */
  async login(username: string, password: string): Promise<boolean> {
    const name = username.trim();
    const invalid = checkCredentials(name, password);
    if (invalid !== undefined) {
      this.error = invalid;
      return false;
    }
    this.busy = true;
    this.error = "";
    try {
      const response = await this.#deps.api.login({ username: name, password });
      this.#deps.tokens.set(response.sessionToken);
      this.peerName = response.peerName || name;
      this.loggedIn = true;
      this.endedReason = "";
      this.farewell = "";
      // Address, directory and link come with the status; a failure here is not a failed login.
      try {
        this.applyStatus(await this.#deps.api.getStatus({}));
      } catch {
        this.link = { loggedIn: true, reachable: true, lastHeartbeatAtMs: Date.now() };
      }
      return true;
    } catch (error) {
      this.error = (this.#deps.reportError ?? describeOnly)(error, "login");
      return false;
    } finally {
      this.busy = false;
    }
  }

  /**
   * Logs out at the pserver (best effort) and forgets the session in this tab in every case; returns
   * whether the pserver confirmed it (only then did the peer go offline at the directory).
   */
  async logout(): Promise<boolean> {
    this.busy = true;
    try {
      await this.#deps.api.logout({});
      return true;
    } catch {
      // The person wants out: a pserver that cannot be reached must not keep them logged in here.
      return false;
    } finally {
      this.ended("");
      this.busy = false;
    }
  }

  /** Forgets the session in this tab, with the reason to show on the login form. */
  ended(reason: string): void {
    this.#deps.tokens.clear();
    this.loggedIn = false;
    this.endedReason = reason;
    this.error = "";
    this.link = { loggedIn: false, reachable: this.link.reachable, lastHeartbeatAtMs: this.link.lastHeartbeatAtMs };
  }
}
