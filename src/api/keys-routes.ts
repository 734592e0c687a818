import { z } from 'zod';
import { apiKeyInputSchema, apiKeyView, createApiKey, revokeApiKey, type ApiKeyDeps } from '../access/api-keys.js';
import { HttpError } from '../http/errors.js';
import { defineRoute, type ApiRoute } from './api-route.js';
import { isAdministrator } from './authorize.js';
import { forbidden, requestedBy } from './principal.js';
import { apiKeySchema } from './schemas.js';

/** API keys: everyone manages their own; administrators may list and revoke anyone's. */
export function keyRoutes(deps: ApiKeyDeps): ApiRoute[] {
  const { store } = deps;
  return [
    defineRoute({
      method: 'get',
      path: '/api/keys',
      summary: 'List your API keys (administrators: anyone\'s, with user_id)',
      tag: 'API keys',
      access: 'self',
      query: z.object({ user_id: z.string().min(1).max(128).optional().describe('Administrators only: whose keys.') }).strict(),
      responses: { 200: { description: 'The keys, oldest first, revoked ones included; never the key itself', schema: z.object({ data: z.array(apiKeySchema) }) } },
      async handle({ query, principal }) {
        const userId = query.user_id ?? principal.user!.id;
        if (userId !== principal.user!.id && !(await isAdministrator(store, principal))) throw forbidden('Only administrators may list other people\'s keys.');
        return { status: 200, body: { data: (await store.apiKeys.listForUser(userId)).map(apiKeyView) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/keys',
      summary: 'Create an API key for yourself; the key is in this response only',
      tag: 'API keys',
      access: 'self',
      body: apiKeyInputSchema,
      responses: { 201: { description: 'The key (shown once) and its listing', schema: apiKeySchema.extend({ key: z.string() }) } },
      errors: { 403: 'The per-user key limit is reached (error: key_limit_reached), or the credential does not allow this.' },
      async handle({ body, principal, ctx }) {
        const { key, record } = await createApiKey(deps, principal.user!, body, requestedBy(principal, ctx));
        return { status: 201, body: { ...apiKeyView(record), key } };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/keys/:id',
      summary: 'Revoke an API key (yours; administrators: anyone\'s). Refused at once everywhere',
      tag: 'API keys',
      access: 'self',
      params: z.object({ id: z.string().min(1).max(128) }),
      responses: { 204: { description: 'Revoked (or already revoked)' } },
      async handle({ params, principal, ctx }) {
        const key = await store.apiKeys.findById(params.id);
        const mayRevoke = key && (key.userId === principal.user!.id || (await isAdministrator(store, principal)));
        if (!key || !mayRevoke) throw new HttpError(404, 'not_found', `No API key of yours has the id ${params.id}.`);
        await revokeApiKey(deps, key, requestedBy(principal, ctx));
        return { status: 204 };
      },
    }),
  ];
}
