/** A minimal typed listener registry for events that are discriminated unions on `type`. */

/** A listener of the events of one type. */
export type Listener<E extends { readonly type: string }, K extends E['type']> = (event: Extract<E, { type: K }>) => void;

/** Listeners by event type; a throwing listener does not stop the others (its error is rethrown asynchronously). */
export class Listeners<E extends { readonly type: string }> {
  private readonly byType = new Map<string, Set<(event: E) => void>>();

  /** Adds `fn` for events of `type`; returns a function that removes it. */
  on<K extends E['type']>(type: K, fn: Listener<E, K>): () => void {
    let set = this.byType.get(type);
    if (!set) {
      set = new Set();
      this.byType.set(type, set);
    }
    const wrapped = fn as (event: E) => void;
    set.add(wrapped);
    return () => {
      set.delete(wrapped);
    };
  }

  /** Removes `fn` from events of `type`. */
  off<K extends E['type']>(type: K, fn: Listener<E, K>): void {
    this.byType.get(type)?.delete(fn as (event: E) => void);
  }

  /** Calls every listener of `event.type`. */
  emit(event: E): void {
    const set = this.byType.get(event.type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(event);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.byType.clear();
  }
}
