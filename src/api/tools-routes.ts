import { z } from 'zod';
import { permissionView } from '../access/permissions.js';
import { createTool, deleteTool, findTool, listTools, newToolSchema, rotateToolSecret, toolChangesSchema, toolView, updateTool, type ToolDeps } from '../access/tools.js';
import { HttpError } from '../http/errors.js';
import { defineRoute, type ApiRoute } from './api-route.js';
import { requestedBy } from './principal.js';
import { permissionSchema, toolSchema } from './schemas.js';

const idParams = z.object({ id: z.string().min(1).max(128) });
/** A secret appears in exactly one response: the one that made it. */
const toolWithSecret = toolSchema.extend({ client_secret: z.string().optional().describe('Shown once; store it now.') });

export async function toolOr404(deps: ToolDeps, id: string) {
  const tool = await findTool(deps, id);
  if (!tool) throw new HttpError(404, 'not_found', `No tool has the id ${id}.`);
  return tool;
}

/** Tools (registered OIDC clients): list, register, get, update, rotate secret, delete, their permissions. */
export function toolRoutes(deps: ToolDeps): ApiRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/tools',
      summary: 'List tools',
      tag: 'Tools',
      access: 'admin',
      responses: { 200: { description: 'Every tool', schema: z.object({ data: z.array(toolSchema) }) } },
      handle: async () => ({ status: 200, body: { data: (await listTools(deps)).map(toolView) } }),
    }),
    defineRoute({
      method: 'post',
      path: '/api/tools',
      summary: 'Register a tool',
      tag: 'Tools',
      access: 'admin',
      body: newToolSchema,
      responses: { 201: { description: 'The tool, with its client_secret when it has one', schema: toolWithSecret } },
      errors: { 409: 'A tool with that id exists.' },
      async handle({ body, principal, ctx }) {
        const { record, secret } = await createTool(deps, body, requestedBy(principal, ctx));
        return { status: 201, body: { ...toolView(record), ...(secret ? { client_secret: secret } : {}) }, headers: { Location: `/api/tools/${record.clientId}` } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/tools/:id',
      summary: 'Get a tool',
      tag: 'Tools',
      access: 'admin',
      params: idParams,
      responses: { 200: { description: 'The tool', schema: toolSchema } },
      handle: async ({ params }) => ({ status: 200, body: toolView(await toolOr404(deps, params.id)) }),
    }),
    defineRoute({
      method: 'patch',
      path: '/api/tools/:id',
      summary: 'Change a tool (its secret stays)',
      tag: 'Tools',
      access: 'admin',
      params: idParams,
      body: toolChangesSchema,
      responses: { 200: { description: 'The changed tool', schema: toolWithSecret } },
      async handle({ params, body, principal, ctx }) {
        const { record, secret } = await updateTool(deps, await toolOr404(deps, params.id), body, requestedBy(principal, ctx));
        return { status: 200, body: { ...toolView(record), ...(secret ? { client_secret: secret } : {}) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/tools/:id/secret',
      summary: 'Rotate a tool\'s client secret (the old one stops working at once)',
      tag: 'Tools',
      access: 'admin',
      params: idParams,
      responses: { 200: { description: 'The new secret, shown once', schema: z.object({ client_secret: z.string() }) } },
      errors: { 409: 'The tool does not authenticate with a secret.' },
      async handle({ params, principal, ctx }) {
        const secret = await rotateToolSecret(deps, await toolOr404(deps, params.id), requestedBy(principal, ctx));
        return { status: 200, body: { client_secret: secret } };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/tools/:id',
      summary: 'Delete a tool and every permission for it',
      tag: 'Tools',
      access: 'admin',
      params: idParams,
      responses: { 204: { description: 'Deleted' } },
      async handle({ params, principal, ctx }) {
        await deleteTool(deps, await toolOr404(deps, params.id), requestedBy(principal, ctx));
        return { status: 204 };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/tools/:id/permissions',
      summary: 'List who has which permission in a tool',
      tag: 'Permissions',
      access: 'admin',
      params: idParams,
      responses: { 200: { description: 'The tool\'s permissions, by user id', schema: z.object({ data: z.array(permissionSchema) }) } },
      async handle({ params }) {
        await toolOr404(deps, params.id);
        return { status: 200, body: { data: (await deps.store.permissions.listForTool(params.id)).map(permissionView) } };
      },
    }),
  ];
}
