/** One message shown to the person at the top of the page. */
export interface Notice {
  id: number;
  kind: "error" | "info";
  text: string;
}

/** How long an informational notice stays before it fades by itself. */
const INFO_NOTICE_MS = 6_000;
/** The most notices shown at once; older ones give way. */
const MAX_NOTICES = 4;

/** Messages for the person: errors stay until dismissed, information goes away by itself. */
export class NoticesState {
  items = $state<Notice[]>([]);
  #nextId = 1;
  #timers = new Map<number, ReturnType<typeof setTimeout>>();

  /** Shows an error sentence (the same sentence twice is shown once). */
  error(text: string): void {
    this.#push("error", text);
  }

  /** Shows a short piece of information that goes away by itself. */
  info(text: string): void {
    const id = this.#push("info", text);
    if (id !== undefined) this.#timers.set(id, setTimeout(() => this.dismiss(id), INFO_NOTICE_MS));
  }

  /** Removes one notice. */
  dismiss(id: number): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
    this.items = this.items.filter((notice) => notice.id !== id);
  }

  /** Removes every notice. */
  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.items = [];
  }

  #push(kind: Notice["kind"], text: string): number | undefined {
    if (this.items.some((notice) => notice.kind === kind && notice.text === text)) return undefined;
    const id = this.#nextId++;
    this.items = [...this.items, { id, kind, text }].slice(-MAX_NOTICES);
    return id;
  }
}
