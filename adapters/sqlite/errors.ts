/** A UNIQUE or PRIMARY KEY constraint refused the write (the row exists already). */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && 'code' in err && String(err.code).startsWith('SQLITE_CONSTRAINT');
}
