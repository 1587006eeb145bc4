// The page's location hash, behind a small interface so the state classes never touch `window`.

/** Reading, clearing and following the location hash. */
export interface HashLocation {
  /** The current hash, e.g. "#/get/<content id>" (empty when none). */
  read(): string;
  /** Removes the hash from the address bar without a reload or a history entry. */
  clear(): void;
  /** Calls back when the hash changes (a link followed, a paste into the address bar); returns an unsubscribe. */
  onChange(listener: (hash: string) => void): () => void;
}

/** The browser window's location hash. */
export function browserHashLocation(): HashLocation {
  return {
    read: () => window.location.hash,
    clear: () => history.replaceState(history.state, "", window.location.pathname + window.location.search),
    onChange: (listener) => {
      const handler = (): void => listener(window.location.hash);
      window.addEventListener("hashchange", handler);
      return () => window.removeEventListener("hashchange", handler);
    },
  };
}
