import { z } from 'zod';
import { pictureUrl } from '../accounts/avatar.js';
import type { AccountDeps } from '../accounts/deps.js';
import { changePassword, profileSchema, updateProfile } from '../accounts/profile.js';
import { permissionView } from '../access/permissions.js';
import { HttpError } from '../http/errors.js';
import type { UserRecord } from '../store/port.js';
import { defineRoute, type ApiRoute } from './api-route.js';
import { permissionSchema, userSchema, userView } from './schemas.js';

/** The user as admins see them, plus what only the person's own view has. */
const meSchema = userSchema.extend({
  theme: z.enum(['light', 'dark', 'system']),
  picture: z.string().nullable(),
  permissions: z.array(permissionSchema),
});

/**
 * The caller's own account, for CLIs and single-page apps: read with any of the person's
 * tokens (scope openid) or keys; change only with a token they consented to for
 * `account`, or a key that is not read-only.
 */
export function meRoutes(deps: AccountDeps): ApiRoute[] {
  const view = async (user: UserRecord): Promise<z.infer<typeof meSchema>> => ({
    ...userView(user),
    theme: user.theme,
    picture: await pictureUrl(deps.store, deps.issuer, user.id),
    permissions: (await deps.store.permissions.listForUser(user.id)).map(permissionView),
  });

  return [
    defineRoute({
      method: 'get',
      path: '/api/me',
      summary: 'Your account, role and permissions',
      tag: 'Me',
      access: 'self',
      responses: { 200: { description: 'Your account', schema: meSchema } },
      handle: async ({ principal }) => ({ status: 200, body: await view(principal.user!) }),
    }),
    defineRoute({
      method: 'patch',
      path: '/api/me',
      summary: 'Change your name or theme',
      tag: 'Me',
      access: 'self',
      body: profileSchema.partial().strict(),
      responses: { 200: { description: 'Your account', schema: meSchema } },
      async handle({ principal, body }) {
        const result = await updateProfile(deps, principal.user!, body, true);
        if (!result.ok) throw new HttpError(400, 'invalid_request', Object.entries(result.errors).map(([field, message]) => `${field}: ${message}`).join(' '));
        return { status: 200, body: await view((await deps.store.users.findById(principal.user!.id))!) };
      },
    }),
    defineRoute({
      method: 'put',
      path: '/api/me/password',
      summary: 'Change your password (ends every session and token of the account)',
      tag: 'Me',
      access: 'self',
      body: z.object({ current_password: z.string().max(4096), new_password: z.string().max(4096) }).strict(),
      responses: { 204: { description: 'Changed' } },
      async handle({ principal, body }) {
        // No browser session to keep: every session and token of the account ends, this one included.
        const result = await changePassword(deps, principal.user!, undefined, body.current_password, body.new_password);
        if (!result.ok) {
          throw result.field === 'current'
            ? new HttpError(403, 'invalid_grant', result.message)
            : new HttpError(400, 'invalid_request', `new_password: ${result.message}`);
        }
        return { status: 204 };
      },
    }),
  ];
}
