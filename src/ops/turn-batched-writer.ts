/** Where the batched text goes: anything with a synchronous `write`, such as pino's SonicBoom in sync mode. */
export interface SyncSink {
  write(text: string): unknown;
}

/**
 * Collects what is written during one turn of the event loop and hands it to the sink in
 * one write right after that turn. A server logs a line per request as it finishes, and
 * under load many finish in the same turn: one write per turn instead of one per line
 * means one system call, and one wake-up of whatever reads stdout (a container runtime's
 * log driver), for all of them.
 *
 * The sink is written synchronously, so nothing is in flight at any time, and `flush()`
 * is registered on `exit`: a line logged just before `process.exit` still reaches it.
 */
export class TurnBatchedWriter {
  #pending: string[] = [];
  #scheduled = false;

  constructor(private readonly sink: SyncSink) {
    process.on('exit', this.flush);
  }

  write(text: string): void {
    this.#pending.push(text);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.flush);
  }

  readonly flush = (): void => {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    this.sink.write(text);
  };
}
