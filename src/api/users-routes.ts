import { z } from 'zod';
import { permissionView } from '../access/permissions.js';
import { createManagedUser, deleteManagedUser, newManagedUserSchema, updateManagedUser, userChangesSchema, type AdminDeps } from '../access/user-admin.js';
import { HttpError } from '../http/errors.js';
import type { Store } from '../store/port.js';
import { defineRoute, type ApiRoute } from './api-route.js';
import { requestedBy } from './principal.js';
import { pageOf, pageQuery, paginate, permissionSchema, userSchema, userView } from './schemas.js';

const idParams = z.object({ id: z.string().min(1).max(128) });

export async function userOr404(store: Store, id: string) {
  const user = await store.users.findById(id);
  if (!user) throw new HttpError(404, 'not_found', `No user has the id ${id}.`);
  return user;
}

/** Users: list, get, create, update (incl. role, status, password), disable/enable, delete. */
export function userRoutes(deps: AdminDeps): ApiRoute[] {
  const { store } = deps;
  const userWithPermissions = userSchema.extend({ permissions: z.array(permissionSchema) });
  const withPermissions = async (id: string) => ({
    ...userView(await userOr404(store, id)),
    permissions: (await store.permissions.listForUser(id)).map(permissionView),
  });
  const setStatus = (status: 'active' | 'disabled') =>
    defineRoute({
      method: 'post',
      path: `/api/users/:id/${status === 'active' ? 'enable' : 'disable'}`,
      summary: status === 'active' ? 'Enable a user' : 'Disable a user (ends their sessions and tokens; keys stop working)',
      tag: 'Users',
      access: 'admin',
      params: idParams,
      responses: { 200: { description: 'The user', schema: userSchema } },
      errors: { 409: 'The only active admin cannot be disabled.' },
      async handle({ params, principal, ctx }) {
        const user = await updateManagedUser(deps, await userOr404(store, params.id), { status }, requestedBy(principal, ctx));
        return { status: 200, body: userView(user) };
      },
    });

  return [
    defineRoute({
      method: 'get',
      path: '/api/users',
      summary: 'List users, in email order',
      tag: 'Users',
      access: 'admin',
      query: z
        .object({
          email: z.string().max(254).optional().describe('Part of the email, case-insensitive.'),
          role: z.enum(['admin', 'viewer']).optional(),
          status: z.enum(['active', 'disabled']).optional(),
          ...pageQuery,
        })
        .strict(),
      responses: { 200: { description: 'A page of users', schema: pageOf(userSchema) } },
      async handle({ query }) {
        const users = await store.users.list({ email: query.email, role: query.role, status: query.status, after: query.cursor, limit: query.limit + 1 });
        const page = paginate(users, query.limit, (u) => u.email);
        return { status: 200, body: { data: page.data.map(userView), next_cursor: page.next_cursor } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/users',
      summary: 'Create a user',
      tag: 'Users',
      access: 'admin',
      body: newManagedUserSchema,
      responses: { 201: { description: 'The new user', schema: userSchema } },
      errors: { 409: 'Another user has that email address.' },
      async handle({ body, principal, ctx }) {
        const user = await createManagedUser(deps, body, requestedBy(principal, ctx));
        return { status: 201, body: userView(user), headers: { Location: `/api/users/${user.id}` } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/users/:id',
      summary: 'Get a user with their permissions',
      tag: 'Users',
      access: 'admin',
      params: idParams,
      responses: { 200: { description: 'The user', schema: userWithPermissions } },
      handle: async ({ params }) => ({ status: 200, body: await withPermissions(params.id) }),
    }),
    defineRoute({
      method: 'patch',
      path: '/api/users/:id',
      summary: 'Change a user: name, email, role, status, email_verified or password',
      tag: 'Users',
      access: 'admin',
      params: idParams,
      body: userChangesSchema,
      responses: { 200: { description: 'The changed user', schema: userSchema } },
      errors: { 409: 'The email belongs to another user, or this would leave no active admin.' },
      async handle({ params, body, principal, ctx }) {
        const user = await updateManagedUser(deps, await userOr404(store, params.id), body, requestedBy(principal, ctx));
        return { status: 200, body: userView(user) };
      },
    }),
    setStatus('disabled'),
    setStatus('active'),
    defineRoute({
      method: 'delete',
      path: '/api/users/:id',
      summary: 'Delete a user and everything they own (keys, permissions, sessions, tokens)',
      tag: 'Users',
      access: 'admin',
      params: idParams,
      responses: { 204: { description: 'Deleted' } },
      errors: { 409: 'The only active admin cannot be deleted.' },
      async handle({ params, principal, ctx }) {
        await deleteManagedUser(deps, await userOr404(store, params.id), requestedBy(principal, ctx));
        return { status: 204 };
      },
    }),
  ];
}
