// A binary min-heap of store entries by expiry time, indexed so an entry whose expiry moves is
// re-placed in O(log n) without a search: the in-memory store finds what it may forget with it.

export interface HeapEntry {
  expiresAt: number;
  /** Position in the heap's array; maintained by the heap, -1 when not in it. */
  slot: number;
}

export class ExpiryHeap<E extends HeapEntry> {
  readonly #items: E[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** The entry that expires first, or undefined when empty. */
  peek(): E | undefined {
    return this.#items[0];
  }

  push(entry: E): void {
    entry.slot = this.#items.length;
    this.#items.push(entry);
    this.#up(entry.slot);
  }

  /** Call after changing `entry.expiresAt`. */
  update(entry: E): void {
    this.#down(this.#up(entry.slot));
  }

  remove(entry: E): void {
    const i = entry.slot;
    if (i < 0) return;
    const last = this.#items.pop()!;
    entry.slot = -1;
    if (last === entry) return;
    this.#items[i] = last;
    last.slot = i;
    this.#down(this.#up(i));
  }

  clear(): void {
    for (const e of this.#items) e.slot = -1;
    this.#items.length = 0;
  }

  /** Moves the item at `i` towards the root while it expires before its parent; returns where it stopped. */
  #up(i: number): number {
    const items = this.#items;
    const item = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (parent.expiresAt <= item.expiresAt) break;
      items[i] = parent;
      parent.slot = i;
      i = p;
    }
    items[i] = item;
    item.slot = i;
    return i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && items[r]!.expiresAt < items[l]!.expiresAt ? r : l;
      const child = items[c]!;
      if (child.expiresAt >= item.expiresAt) break;
      items[i] = child;
      child.slot = i;
      i = c;
    }
    items[i] = item;
    item.slot = i;
  }
}
