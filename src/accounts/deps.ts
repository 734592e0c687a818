import type { Logger } from '../logger.js';
import type { Mailer } from '../mail/mailer.js';
import type { AuditLog } from '../security/audit.js';
import type { Store } from '../store/port.js';

/** What the account flows need: the store, outgoing mail, the issuer links point at, logs. */
export interface AccountDeps {
  readonly store: Store;
  readonly audit: AuditLog;
  readonly mailer: Mailer;
  readonly issuer: string;
  readonly logger: Logger;
}

/**
 * Runs work whose outcome must not show in the response, neither in its content nor in
 * its timing (whether an email exists, whether mail is up). Failures are logged.
 */
export function inBackground(deps: AccountDeps, what: string, work: () => Promise<unknown>): void {
  setImmediate(() => {
    work().catch((err: unknown) => deps.logger.error(`${what} failed`, { err }));
  });
}
