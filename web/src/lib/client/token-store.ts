import { SESSION_TOKEN_KEY } from "../constants.js";

/** The small part of the Web Storage API the token store needs (sessionStorage in the tab, a Map in tests). */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Holds the session token from Login. It lives in sessionStorage so a reload of the tab stays
 * logged in while a new tab (or a closed browser) has to log in again.
 */
export class TokenStore {
  #storage: KeyValueStorage | undefined;
  #token: string | undefined;

  constructor(storage?: KeyValueStorage) {
    this.#storage = storage;
    this.#token = storage?.getItem(SESSION_TOKEN_KEY) ?? undefined;
  }

  /** The current token, or undefined when logged out. */
  get token(): string | undefined {
    return this.#token;
  }

  /** Remembers a new token. */
  set(token: string): void {
    this.#token = token;
    this.#storage?.setItem(SESSION_TOKEN_KEY, token);
  }

  /** Forgets the token (logout, or the pserver said the session is over). */
  clear(): void {
    this.#token = undefined;
    this.#storage?.removeItem(SESSION_TOKEN_KEY);
  }
}

/** An in-memory storage, for tests and for browsers that refuse sessionStorage. */
export class MemoryStorage implements KeyValueStorage {
  #items = new Map<string, string>();
  /** Returns the stored value or null. */
  getItem(key: string): string | null {
    return this.#items.get(key) ?? null;
  }
  /** Stores a value. */
  setItem(key: string, value: string): void {
    this.#items.set(key, value);
  }
  /** Removes a value. */
  removeItem(key: string): void {
    this.#items.delete(key);
  }
}

/** sessionStorage when the browser allows it, else memory (private modes can throw on access). */
export function browserSessionStorage(): KeyValueStorage {
  try {
    const storage = globalThis.sessionStorage;
    storage.getItem(SESSION_TOKEN_KEY);
    return storage;
  } catch {
    return new MemoryStorage();
  }
}
