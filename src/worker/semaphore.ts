/**
 * A counting semaphore: bounds concurrent work (activity executions) across several producers,
 * waking waiters in FIFO order so that no producer starves.
 */
export class Semaphore {
  private readonly waiters: Array<() => void> = [];
  private used = 0;

  constructor(private readonly permits: number) {}

  get inUse(): number {
    return this.used;
  }

  async acquire(): Promise<void> {
    if (this.used < this.permits) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next(); // the permit passes straight to the next waiter
    else this.used--;
  }
}
