import { auditRoutes } from '../api/audit-routes.js';
import { flags, readThroughRoute, type Command } from './common.js';

/** The audit log, newest first: GET /api/audit's filters, paging and event shape. */
export const auditCommands: Record<string, Command> = {
  'audit list': async (args, ctx) => {
    const values = flags(args, {
      action: { type: 'string' },
      'actor-id': { type: 'string' },
      'target-id': { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
    });
    return readThroughRoute(auditRoutes(ctx.store), 'get', '/api/audit', {
      action: values.action,
      actor_id: values['actor-id'],
      target_id: values['target-id'],
      since: values.since,
      until: values.until,
      limit: values.limit,
      cursor: values.cursor,
    });
  },
};
