/**
 * Reassembles an orchestration's history from its event records: a record may be split over
 * several messages (all but the last say `more`), and a record with `reset` starts a new run.
 * Invariant: events of an unfinished record (its last part never written: the writer died or was
 * fenced) are never part of the history.
 */
export interface HistoryRecord<E> {
  h?: E[];
  in?: number;
  reset?: boolean;
  more?: boolean;
}

export class HistoryAssembler<E> {
  readonly history: E[] = [];
  /** Highest inbox sequence of a finished record. */
  lastIn = 0;
  private group: E[] = [];
  private groupResets = false;

  add(record: HistoryRecord<E>): void {
    if (record.reset) {
      this.group = [];
      this.groupResets = true;
    }
    this.group.push(...(record.h ?? []));
    if (record.more) return;
    if (this.groupResets) this.history.length = 0;
    this.history.push(...this.group);
    if (record.in !== undefined) this.lastIn = Math.max(this.lastIn, record.in);
    this.group = [];
    this.groupResets = false;
  }
}
