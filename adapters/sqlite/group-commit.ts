import type { Database } from './driver.js';

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/**
 * Group commit for the embedded store. With WAL and `synchronous=FULL` every commit waits
 * for an fsync, and better-sqlite3 waits on the main thread: on the benchmark VM a lone
 * write costs ~270 µs of wall time, ~85 µs when eight share a commit. So writes issued in
 * the same turn of the event loop (the requests Node parsed together) are queued and
 * committed together in one IMMEDIATE transaction just after that turn (`setImmediate`).
 *
 * What a caller sees does not change: its promise settles only after the commit that
 * holds its write is durable, so nothing is acknowledged that a power cut could undo.
 * Each write runs in a savepoint of its own, so one that throws (a constraint, a missing
 * row) is rolled back and rejected alone; if the commit itself fails, every write in it
 * is rejected and none was made. Every write is atomic, a lone one too (it gets a
 * transaction of its own). Writes of concurrent requests reach the database in the
 * order they were issued, so a conditional write (consume-once) still lets exactly one
 * of two racing redemptions win.
 */
export class GroupCommit {
  private queue: PendingWrite[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private readonly commitTogether: (writes: PendingWrite[]) => Array<{ ok: true; value: unknown } | { ok: false; error: unknown }>;

  constructor(db: Database) {
    const inSavepoint = db.transaction((run: () => unknown) => run());
    this.commitTogether = db.transaction((writes: PendingWrite[]) =>
      writes.map((write) => {
        try {
          return { ok: true as const, value: inSavepoint(write.run) };
        } catch (error) {
          return { ok: false as const, error };
        }
      }),
    ).immediate;
  }

  /** Runs `write` (synchronous statements) in the next group commit; resolves with its result once that commit is durable. */
  write<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: write, resolve: resolve as (value: unknown) => void, reject });
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Commits whatever is queued now (the store calls this before it closes the database). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const writes = this.queue;
    this.queue = [];
    if (writes.length === 0) return;
    let outcomes;
    try {
      outcomes = this.commitTogether(writes);
    } catch (error) {
      for (const write of writes) write.reject(error);
      return;
    }
    outcomes.forEach((outcome, i) => (outcome.ok ? writes[i]!.resolve(outcome.value) : writes[i]!.reject(outcome.error)));
  }
}
