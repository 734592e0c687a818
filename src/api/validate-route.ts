import { z } from 'zod';
import { capPermission, effectivePermission, PERMISSION_LEVELS } from '../access/permissions.js';
import { HttpError } from '../http/errors.js';
import type { Store } from '../store/port.js';
import { defineRoute, type ApiRoute } from './api-route.js';
import type { Authenticator, Principal } from './principal.js';

const NO_ACCESS = 'No access to this tool';

const validSchema = z.object({
  valid: z.literal(true),
  user: z.object({ id: z.string(), email: z.string(), name: z.string().nullable(), role: z.enum(['admin', 'viewer']) }).nullable(),
  tool: z.string().nullable(),
  permission: z.enum(PERMISSION_LEVELS).nullable(),
  error: z.literal(NO_ACCESS).optional(),
});

const invalidSchema = z.object({ valid: z.literal(false), error: z.string(), error_description: z.string() });

/**
 * The permission the credential carries in the tool. An access token counts only at the
 * tool it was issued to, so one tool cannot replay a person's token at another; a
 * narrowed key counts only in its tool; a read-only key at most as `read`.
 */
async function permissionIn(store: Store, p: Principal, toolId: string | null) {
  if (!p.user || !toolId) return null;
  if (p.apiKey ? p.apiKey.toolId !== null && p.apiKey.toolId !== toolId : p.clientId !== toolId) return null;
  if (!(await store.clients.find(toolId))) return null;
  const level = await effectivePermission(store, p.user, toolId);
  return p.apiKey?.readOnly ? capPermission(level, 'read') : level;
}

/**
 * `POST /api/validate`: one call for tools that would rather not verify tokens themselves.
 * Takes an access token or API key; says who it is and their permission in the tool
 * (the one named, else the key's tool, else the token's own client).
 */
export function validateRoute(store: Store, authenticator: Authenticator, audiences: readonly string[]): ApiRoute {
  return defineRoute({
    method: 'post',
    path: '/api/validate',
    summary: 'Validate an access token or API key, and get the person\'s permission in a tool',
    tag: 'Validate',
    access: 'public',
    body: z.object({ tool: z.string().min(1).max(128).optional() }).strict(),
    bodyOptional: true,
    responses: {
      200: { description: `Valid. permission is null (with error "${NO_ACCESS}") when the person has none there`, schema: validSchema },
      401: { description: 'Missing, invalid, expired or revoked credential', schema: invalidSchema },
    },
    async handle({ body, ctx }) {
      let principal: Principal;
      try {
        principal = await authenticator.authenticate(ctx, audiences);
      } catch (err) {
        if (!(err instanceof HttpError) || err.status !== 401) throw err;
        return { status: 401, headers: err.headers, body: { valid: false, error: err.error, error_description: err.description } };
      }
      const toolId = body.tool ?? principal.apiKey?.toolId ?? principal.clientId;
      const permission = await permissionIn(store, principal, toolId);
      const user = principal.user && { id: principal.user.id, email: principal.user.email, name: principal.user.name, role: principal.user.role };
      return { status: 200, body: { valid: true, user, tool: toolId, permission, ...(permission === null ? { error: NO_ACCESS } : {}) } };
    },
  });
}
