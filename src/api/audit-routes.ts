import { z } from 'zod';
import type { AuditEvent, Store } from '../store/port.js';
import { defineRoute, type ApiRoute } from './api-route.js';
import { auditEventSchema, pageOf, pageQuery, paginate } from './schemas.js';

const eventView = (e: AuditEvent): z.infer<typeof auditEventSchema> => ({
  id: e.id,
  at: new Date(e.at).toISOString(),
  action: e.action,
  actor: { type: e.actor.type, id: e.actor.id, ...(e.actor.apiKeyId ? { api_key_id: e.actor.apiKeyId } : {}) },
  target: e.target,
  ip: e.ip,
  details: e.details,
});

const instant = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));

/** The audit log, newest first. */
export function auditRoutes(store: Store): ApiRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/audit',
      summary: 'Read the audit log, newest first',
      tag: 'Audit',
      access: 'admin',
      query: z
        .object({
          action: z.string().max(64).optional().describe('e.g. login.failed, api_key.revoked, permission.changed'),
          actor_id: z.string().max(128).optional(),
          target_id: z.string().max(128).optional(),
          since: instant.optional().describe('ISO 8601 time; events at or after it.'),
          until: instant.optional().describe('ISO 8601 time; events at or before it.'),
          ...pageQuery,
        })
        .strict(),
      responses: { 200: { description: 'A page of events', schema: pageOf(auditEventSchema) } },
      async handle({ query }) {
        const events = await store.audit.list({
          action: query.action,
          actorId: query.actor_id,
          targetId: query.target_id,
          since: query.since,
          until: query.until,
          before: query.cursor,
          limit: query.limit + 1,
        });
        const page = paginate(events, query.limit, (e) => e.id);
        return { status: 200, body: { data: page.data.map(eventView), next_cursor: page.next_cursor } };
      },
    }),
  ];
}
