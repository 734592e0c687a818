import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { AuditActor, AuditEvent, Store } from '../store/port.js';

/** Every action the audit log records. */
export type AuditAction =
  | 'login.succeeded'
  | 'login.failed'
  | 'user.created'
  | 'user.updated'
  | 'user.role_changed'
  | 'user.disabled'
  | 'user.enabled'
  | 'user.deleted'
  | 'tool.created'
  | 'tool.updated'
  | 'tool.secret_rotated'
  | 'tool.deleted'
  | 'permission.granted'
  | 'permission.changed'
  | 'permission.revoked'
  | 'api_key.created'
  | 'api_key.revoked';

export const ANONYMOUS: AuditActor = { type: 'anonymous', id: null };

/** Ids sort by time (then randomly within a millisecond), so pages are cut by id alone. */
const eventId = (at: number) => `${at.toString(36).padStart(9, '0')}${randomBytes(5).toString('hex')}`;

export interface AuditEntry {
  actor: AuditActor;
  target?: { type: 'user' | 'tool' | 'api_key'; id: string };
  ip?: string | null;
  details?: Record<string, unknown>;
}

/**
 * The audit log: who did what to whom, from where. Recording happens after the action
 * succeeded; a failure to record is logged loudly but does not undo the action.
 */
export class AuditLog {
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    /** Told of every recorded action (the server counts them as metrics). */
    private readonly onRecord: (action: AuditAction) => void = () => {},
  ) {}

  async record(action: AuditAction, entry: AuditEntry): Promise<void> {
    const at = Date.now();
    const event: AuditEvent = {
      id: eventId(at),
      at,
      action,
      actor: entry.actor,
      target: entry.target ?? null,
      ip: entry.ip ?? null,
      details: entry.details ?? {},
    };
    this.onRecord(action);
    try {
      await this.store.audit.append(event);
    } catch (err) {
      this.logger.error('audit event not recorded', { err, action, actor: entry.actor, target: entry.target });
    }
  }
}
