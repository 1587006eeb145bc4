/** Which items of a list are ticked for an action on several at once (keys: content ids). */
export class Selection {
  ids = $state<string[]>([]);
  #set = $derived(new Set(this.ids));

  /** Whether an item is ticked. */
  has(id: string): boolean {
    return this.#set.has(id);
  }

  /** Ticks or unticks one item. */
  toggle(id: string, on: boolean = !this.has(id)): void {
    if (on === this.has(id)) return;
    this.ids = on ? [...this.ids, id] : this.ids.filter((known) => known !== id);
  }

  /** Ticks exactly these items. */
  set(ids: Iterable<string>): void {
    this.ids = [...new Set(ids)];
  }

  /** The ticked ones among `items` (in the list's order), so an item gone from the list counts no more. */
  pick<T>(items: readonly T[], key: (item: T) => string): T[] {
    return items.filter((item) => this.#set.has(key(item)));
  }

  /** Unticks everything. */
  clear(): void {
    this.ids = [];
  }
}
