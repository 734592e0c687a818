import Router from '@koa/router';
import { z } from 'zod';
import { pictureUrl } from '../accounts/avatar.js';
import type { AccountDeps } from '../accounts/deps.js';
import { changePassword, updateProfile } from '../accounts/profile.js';
import { HttpError } from '../http/errors.js';
import { readJson } from '../http/json-body.js';
import type { LiveProvider } from '../oidc/live-provider.js';
import type { UserRecord } from '../store/port.js';
import { ACCOUNT_SCOPE, bearerUser } from './bearer.js';

const passwordChangeSchema = z.object({ current_password: z.string(), new_password: z.string() }).strict();

/**
 * The account pages as JSON, for CLIs and single-page apps: read with any access token
 * of the person (scope openid); change only with one they consented to for `account`.
 */
export function meRouter(deps: AccountDeps, live: LiveProvider): Router {
  const router = new Router({ prefix: '/api/me' });

  const view = async (user: UserRecord) => {
    const picture = await pictureUrl(deps.store, deps.issuer, user.id);
    return {
      id: user.id,
      email: user.email,
      email_verified: user.emailVerified,
      name: user.name,
      theme: user.theme,
      picture,
      created_at: new Date(user.createdAt).toISOString(),
      updated_at: new Date(user.updatedAt).toISOString(),
    };
  };

  router.get('/', async (ctx) => {
    const user = await bearerUser(ctx, live, deps.store, ['openid']);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await view(user);
  });

  router.patch('/', async (ctx) => {
    const user = await bearerUser(ctx, live, deps.store, [ACCOUNT_SCOPE]);
    const body = await readJson(ctx);
    const result = await updateProfile(deps, user, body, true);
    if (!result.ok) throw new HttpError(400, 'invalid_request', Object.entries(result.errors).map(([field, message]) => `${field}: ${message}`).join(' '));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await view((await deps.store.users.findById(user.id))!);
  });

  router.put('/password', async (ctx) => {
    const user = await bearerUser(ctx, live, deps.store, [ACCOUNT_SCOPE]);
    const parsed = passwordChangeSchema.safeParse(await readJson(ctx));
    if (!parsed.success) throw new HttpError(400, 'invalid_request', 'Send {"current_password": "…", "new_password": "…"}.');
    // No browser session to keep: every session and token of the account ends, this one included.
    const result = await changePassword(deps, user, undefined, parsed.data.current_password, parsed.data.new_password);
    if (!result.ok) {
      throw result.field === 'current'
        ? new HttpError(403, 'invalid_grant', result.message)
        : new HttpError(400, 'invalid_request', `new_password: ${result.message}`);
    }
    ctx.status = 204;
  });

  return router;
}
