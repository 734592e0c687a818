import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Database } from './driver.js';

/** How long a statement waits for another process's lock before it fails. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Switches the file to WAL (a property of the file: the first process to open a fresh
 * database does it for everyone). The switch needs the file to itself, and while another
 * process is opening or switching the same fresh file SQLite answers SQLITE_BUSY at once,
 * without waiting out the busy timeout; so this retries for as long as that timeout.
 */
async function useWal(db: Database): Promise<void> {
  const giveUpAt = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= giveUpAt) throw err;
      await sleep(10);
    }
  }
}

/**
 * Opens the embedded store's file (`:memory:` for a throw-away one) as every process
 * sharing it must: WAL, so readers and one writer work side by side; a busy timeout, so
 * a writer waits for another process's lock instead of failing; foreign keys enforced.
 *
 * And `synchronous = FULL`: every commit is on disk before the write's promise settles.
 * better-sqlite3 is built with SQLite's WAL default lowered to NORMAL, which skips that
 * fsync; a power cut or kernel crash could then roll back the last commits, among them a
 * consumed refresh token (replayable again), a revoked API key or a disabled user. The
 * cost, an fsync per commit, is what GroupCommit shares between concurrent writes.
 */
export async function openConnection(path: string): Promise<Database> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  await useWal(db);
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  return db;
}
