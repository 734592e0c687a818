import { AlreadyExistsError, StoreUnavailableError } from '../../src/store/port.js';

/** A UNIQUE or PRIMARY KEY constraint refused the write (the row exists already). */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && 'code' in err && String(err.code).startsWith('SQLITE_CONSTRAINT');
}

/** Runs a write whose only expected refusal is a taken unique key, reported as AlreadyExistsError(`taken`). */
export function unlessTaken<T>(write: () => T, taken: string): T {
  try {
    return write();
  } catch (err) {
    if (isUniqueViolation(err)) throw new AlreadyExistsError(taken);
    throw err;
  }
}

/**
 * Errors that mean "the database cannot serve now", not "this request is wrong": locked
 * past the busy timeout, read-only or unopenable file, disk I/O failure, full disk. They
 * become StoreUnavailableError, which the HTTP layer answers with 503 and Retry-After.
 */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|READONLY|IOERR|FULL|CANTOPEN)/;

export function toStoreError(err: unknown): unknown {
  if (err instanceof Error && 'code' in err && UNAVAILABLE.test(String(err.code))) {
    return new StoreUnavailableError(`database unavailable: ${err.message}`, { cause: err });
  }
  return err;
}
