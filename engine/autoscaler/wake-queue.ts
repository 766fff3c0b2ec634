/**
 * Items to look at again from a given time on, earliest first: a binary min-heap on the time.
 * The autoscaler keeps its resting sets that wait for a scale-down delay here; an entry whose set
 * woke or rested again meanwhile is stale and the caller skips it (no removal from the middle).
 * Example: push(a at 5), push(b at 3); takeDue(4) → [b]; takeDue(5) → [a].
 */
export class WakeQueue<Item> {
  readonly #times: number[] = [];
  readonly #items: Item[] = [];

  get size(): number {
    return this.#times.length;
  }

  push(at: number, item: Item): void {
    let index = this.#times.length;
    this.#times.push(at);
    this.#items.push(item);
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.#times[parent]! <= at) break;
      this.#move(parent, index);
      index = parent;
    }
    this.#times[index] = at;
    this.#items[index] = item;
  }

  /** Removes the entries due at or before `now`, earliest first, and hands each to `visit` with its time. */
  takeDue(now: number, visit: (item: Item, at: number) => void): void {
    while (this.#times.length > 0 && this.#times[0]! <= now) {
      const at = this.#times[0]!;
      const item = this.#items[0]!;
      this.#removeFirst();
      visit(item, at);
    }
  }

  /** Keeps only the entries `keep` accepts (ordered by time, which is a heap). */
  retain(keep: (item: Item, at: number) => boolean): void {
    const kept = this.#times.map((at, index) => ({ at, item: this.#items[index]! })).filter(({ at, item }) => keep(item, at));
    kept.sort((a, b) => a.at - b.at);
    this.#times.length = 0;
    this.#items.length = 0;
    for (const { at, item } of kept) {
      this.#times.push(at);
      this.#items.push(item);
    }
  }

  #removeFirst(): void {
    const lastTime = this.#times.pop()!;
    const lastItem = this.#items.pop()!;
    const size = this.#times.length;
    if (size === 0) return;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= size) break;
      const right = left + 1;
      const child = right < size && this.#times[right]! < this.#times[left]! ? right : left;
      if (this.#times[child]! >= lastTime) break;
      this.#move(child, index);
      index = child;
    }
    this.#times[index] = lastTime;
    this.#items[index] = lastItem;
  }

  #move(from: number, to: number): void {
    this.#times[to] = this.#times[from]!;
    this.#items[to] = this.#items[from]!;
  }
}
