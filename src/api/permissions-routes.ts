import { z } from 'zod';
import { PERMISSION_LEVELS, permissionView, revokePermission, setPermission } from '../access/permissions.js';
import type { ToolDeps } from '../access/tools.js';
import { HttpError } from '../http/errors.js';
import { defineRoute, type ApiRoute } from './api-route.js';
import { requestedBy } from './principal.js';
import { permissionSchema } from './schemas.js';
import { toolOr404 } from './tools-routes.js';
import { userOr404 } from './users-routes.js';

const pairParams = z.object({ id: z.string().min(1).max(128), tool: z.string().min(1).max(128) });

/** A user's permission in one tool: list, grant or change (PUT, idempotent), revoke. */
export function permissionRoutes(deps: ToolDeps): ApiRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/users/:id/permissions',
      summary: 'List a user\'s permissions, by tool',
      tag: 'Permissions',
      access: 'admin',
      params: z.object({ id: z.string().min(1).max(128) }),
      responses: { 200: { description: 'The user\'s permissions', schema: z.object({ data: z.array(permissionSchema) }) } },
      async handle({ params }) {
        await userOr404(deps.store, params.id);
        return { status: 200, body: { data: (await deps.store.permissions.listForUser(params.id)).map(permissionView) } };
      },
    }),
    defineRoute({
      method: 'put',
      path: '/api/users/:id/permissions/:tool',
      summary: 'Grant or change a user\'s permission in a tool (takes effect on their next token)',
      tag: 'Permissions',
      access: 'admin',
      params: pairParams,
      body: z.object({ level: z.enum(PERMISSION_LEVELS) }).strict(),
      responses: { 200: { description: 'The permission', schema: permissionSchema } },
      async handle({ params, body, principal, ctx }) {
        await userOr404(deps.store, params.id);
        await toolOr404(deps, params.tool);
        const record = await setPermission(deps, params.id, params.tool, body.level, requestedBy(principal, ctx));
        return { status: 200, body: permissionView(record) };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/users/:id/permissions/:tool',
      summary: 'Revoke a user\'s permission in a tool',
      tag: 'Permissions',
      access: 'admin',
      params: pairParams,
      responses: { 204: { description: 'Revoked' } },
      async handle({ params, principal, ctx }) {
        if (!(await revokePermission(deps, params.id, params.tool, requestedBy(principal, ctx)))) {
          throw new HttpError(404, 'not_found', 'That user has no permission in that tool.');
        }
        return { status: 204 };
      },
    }),
  ];
}
