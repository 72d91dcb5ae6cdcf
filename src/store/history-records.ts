/**
 * Reassembles actor event records from their parts: a record larger than one message is split
 * (all parts but the last say `more`), and a record with `reset` starts a new run. The one
 * implementation used by history loads (worker and client) and by effect recovery.
 * Invariant: nothing of an unfinished record (its last part never written: the writer died or was
 * fenced) is ever returned: no history event, no effect.
 */
export interface EventRecord<E, F = unknown> {
  h?: E[];
  fx?: F[];
  in?: number;
  reset?: boolean;
  more?: boolean;
}

/** A record whose every part has been read. */
export interface FinishedRecord<E, F> {
  h: E[];
  fx: F[];
  reset: boolean;
  in?: number;
}

/** Joins parts per subject, in stream order; `add` returns a record once its last part arrives. */
export class RecordParts<E, F = unknown> {
  private readonly open = new Map<string, FinishedRecord<E, F>>();

  add(subject: string, record: EventRecord<E, F>): FinishedRecord<E, F> | undefined {
    // A reset part starts the record over (parts of an older unfinished record are dropped).
    const group = (record.reset ? undefined : this.open.get(subject)) ?? { h: [], fx: [], reset: record.reset === true };
    if (record.h) group.h.push(...record.h);
    if (record.fx) group.fx.push(...record.fx);
    if (record.more) {
      this.open.set(subject, group);
      return undefined;
    }
    this.open.delete(subject);
    if (record.in !== undefined) group.in = record.in;
    return group;
  }
}

/** The history of an instance's current run, from its records in stream order. */
export class HistoryAssembler<E> {
  readonly history: E[] = [];
  /** Highest inbox sequence of a finished record. */
  lastIn = 0;
  private readonly parts = new RecordParts<E>();

  add(record: EventRecord<E>): void {
    const finished = this.parts.add('', record);
    if (!finished) return;
    if (finished.reset) this.history.length = 0;
    this.history.push(...finished.h);
    if (finished.in !== undefined) this.lastIn = Math.max(this.lastIn, finished.in);
  }
}
