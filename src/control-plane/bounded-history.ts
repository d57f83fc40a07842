/** The default bound of a change history in bytes (the store's and each replica's). */
export const DEFAULT_HISTORY_BYTES = 32 * 1024 * 1024;

/**
 * A history of changes bounded in number and in bytes (each entry comes with its estimated size). It is trimmed in
 * batches, from the oldest, down to four fifths of a bound once it passes a quarter over its count or over its
 * bytes: shifting a 10,000-entry array on every change would copy it every time.
 */
export class BoundedHistory<T> {
  private readonly entries: T[] = [];
  private readonly sizes: number[] = [];
  private total = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  /** The entries kept, oldest first. */
  get items(): readonly T[] {
    return this.entries;
  }

  get length(): number {
    return this.entries.length;
  }

  /** The estimated size of the entries kept, in bytes. */
  get bytes(): number {
    return this.total;
  }

  /** Adds an entry of about `bytes`; returns the entries trimmed away to make room (oldest first). */
  push(entry: T, bytes: number): T[] {
    this.entries.push(entry);
    this.sizes.push(bytes);
    this.total += bytes;
    if (this.entries.length <= this.maxEntries * 1.25 && this.total <= this.maxBytes) return [];
    let drop = Math.max(0, this.entries.length - Math.floor(this.maxEntries * 0.8));
    let total = this.total;
    for (let i = 0; i < drop; i += 1) total -= this.sizes[i]!;
    while (total > this.maxBytes * 0.8 && drop < this.entries.length) total -= this.sizes[drop++]!;
    this.sizes.splice(0, drop);
    this.total = total;
    return this.entries.splice(0, drop);
  }

  clear(): void {
    this.entries.length = 0;
    this.sizes.length = 0;
    this.total = 0;
  }
}
