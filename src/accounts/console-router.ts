import Router from '@koa/router';
import type { Context } from 'koa';
import { randomBytes, createHash } from 'node:crypto';
import { apiKeyInputSchema, apiKeyView, createApiKey, revokeApiKey } from '../access/api-keys.js';
import { HttpError } from '../http/errors.js';
import { readMultipart } from '../http/multipart.js';
import type { LiveProvider } from '../oidc/live-provider.js';
import type { Csrf } from '../security/csrf.js';
import { ACCOUNT_CALLBACK_PATH, ACCOUNT_CLIENT_ID } from './account-client.js';
import { AVATAR_MAX_BYTES, AvatarError, avatarUrl, processAvatar } from './avatar.js';
import { currentAccount, type SignedInAccount } from './account-session.js';

import { sendVerificationMail } from './email-verification.js';
import { changePassword, deleteAccount, updateProfile } from './profile.js';
import { listSessions, signOutOtherSessions, signOutSession } from './sessions.js';
import {
  confirmEnrolment,
  disableSecondFactor,
  hasSecondFactor,
  pendingEnrolment,
  regenerateRecoveryCodes,
  startEnrolment,
  type SecondFactorDeps,
} from '../mfa/second-factor.js';

/**
 * The signed-in account pages: profile and theme, password, sessions, two-factor, API
 * keys, deletion. Sign-in
 * goes through the ordinary hosted login as the first-party account client; these pages
 * then read oidc-provider's session cookie, so signing out anywhere signs out here too.
 */
export function consoleRouter(deps: SecondFactorDeps, live: LiveProvider, csrf: Csrf, keysPerUser: number): Router {
  const router = new Router({ prefix: '/account' });

  const render = (ctx: Context, account: SignedInAccount, page: string, title: string, locals: Record<string, unknown> = {}, status = 200) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.status = status;
    return ctx.render('layout.ejs', { page, title, csrf: csrf.token(ctx), theme: account.user.theme, user: account.user, section: page, ...locals });
  };

  /** Pages send a signed-out visitor to sign in; form posts refuse. */
  async function requireAccount(ctx: Context): Promise<SignedInAccount | undefined> {
    const account = await currentAccount(live, deps.store, ctx);
    if (account) return account;
    if (ctx.method !== 'GET') throw new HttpError(401, 'login_required', 'Your session has ended. Sign in again.');
    ctx.redirect('/account/signin');
    return undefined;
  }

  router.get('/signin', (ctx) => {
    // The code this asks for is never redeemed: signing in establishes the provider
    // session, which is all these pages use. PKCE is still required by the provider.
    const url = new URL(`${deps.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: `${deps.issuer}${ACCOUNT_CALLBACK_PATH}`,
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    ctx.redirect(url.toString());
  });
  // Drops the code and state from the address bar and history.
  router.get('/callback', (ctx) => ctx.redirect('/account'));

  const profilePage = async (ctx: Context, account: SignedInAccount, errors: Record<string, string>, saved: boolean, status = 200) => {
    const version = await deps.store.avatars.version(account.user.id);
    const picture = version === undefined ? null : avatarUrl(deps.issuer, account.user.id, version);
    const identities = await deps.store.identities.listForUser(account.user.id);
    await render(ctx, account, 'account', 'Your account', { errors, saved, picture, identities }, status);
  };
  const savedProfile = (ctx: Context) => {
    ctx.status = 303;
    ctx.redirect('/account?saved=1');
  };

  router.get('/', async (ctx) => {
    const account = await requireAccount(ctx);
    if (account) await profilePage(ctx, account, {}, ctx.query.saved === '1');
  });
  router.post('/profile', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    const form = await csrf.readForm(ctx);
    const result = await updateProfile(deps, account.user, form);
    if (!result.ok) return profilePage(ctx, account, result.errors, false, 400);
    savedProfile(ctx);
  });

  router.post('/avatar', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    csrf.checkOrigin(ctx);
    const upload = await readMultipart(ctx, AVATAR_MAX_BYTES);
    csrf.checkToken(ctx, upload.fields.csrf);
    try {
      if (!upload.file || upload.file.data.length === 0) throw new AvatarError('Choose a picture to upload.');
      if (upload.file.truncated) throw new AvatarError('The picture is larger than 2 MB.');
      await deps.store.avatars.put(account.user.id, await processAvatar(upload.file.data));
    } catch (err) {
      if (err instanceof AvatarError) return profilePage(ctx, account, { avatar: err.message }, false, 400);
      throw err;
    }
    savedProfile(ctx);
  });
  // Unlinking must leave a way in: a password, or another linked identity.
  router.post('/identities/unlink', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    const form = await csrf.readForm(ctx);
    const identities = await deps.store.identities.listForUser(account.user.id);
    if (!account.user.passwordHash && identities.length <= 1) {
      return profilePage(ctx, account, { identities: 'This is your only way to sign in. Set a password (reset it by email) before unlinking.' }, false, 400);
    }
    if (!(await deps.store.identities.unlink(account.user.id, form.provider ?? '', form.subject ?? ''))) throw new HttpError(404, 'not_found', 'No such linked account.');
    savedProfile(ctx);
  });
  router.post('/avatar/remove', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    await csrf.readForm(ctx);
    await deps.store.avatars.delete(account.user.id);
    savedProfile(ctx);
  });
  // Public, like the picture URL handed to tools; ids are random UUIDs.
  router.get('/avatar/:userId', async (ctx) => {
    const avatar = await deps.store.avatars.get(ctx.params.userId!);
    if (!avatar) throw new HttpError(404, 'not_found', 'No such picture.');
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('ETag', `"${avatar.updatedAt}"`);
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.type = avatar.contentType;
    ctx.body = avatar.image;
  });
  router.post('/verify-email/send', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    await csrf.readForm(ctx);
    if (!account.user.emailVerified) await sendVerificationMail(deps, account.user);
    await render(ctx, account, 'check-email', 'Check your email', { email: account.user.email, signIn: null, resend: false });
  });

  router.get('/password', async (ctx) => {
    const account = await requireAccount(ctx);
    if (account) await render(ctx, account, 'account-password', 'Change password', { error: null });
  });
  router.post('/password', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    const form = await csrf.readForm(ctx);
    const result = await changePassword(deps, account.user, account.sessionId, form.current ?? '', form.password ?? '');
    if (!result.ok) return render(ctx, account, 'account-password', 'Change password', { error: result }, 400);
    await render(ctx, account, 'notice', 'Password changed', { message: 'Your password is changed. Every other session is signed out, and tools will ask you to sign in again.', signIn: null });
  });

  router.get('/sessions', async (ctx) => {
    const account = await requireAccount(ctx);
    if (account) await render(ctx, account, 'account-sessions', 'Sessions', { sessions: await listSessions(deps.store, account.user.id, account.sessionId) });
  });
  router.post('/sessions/sign-out-others', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    await csrf.readForm(ctx);
    await signOutOtherSessions(deps.store, account.user.id, account.sessionId);
    ctx.status = 303;
    ctx.redirect('/account/sessions');
  });
  router.post('/sessions/:id/sign-out', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    await csrf.readForm(ctx);
    if (!(await signOutSession(deps.store, account.user.id, ctx.params.id!))) throw new HttpError(404, 'not_found', 'No such session.');
    ctx.status = 303;
    ctx.redirect('/account/sessions');
  });

  // API keys: made here, shown once on the page that made them, listed by prefix only.
  const keysPage = async (ctx: Context, account: SignedInAccount, locals: { created?: string; error?: string } = {}, status = 200) => {
    const keys = (await deps.store.apiKeys.listForUser(account.user.id)).map(apiKeyView);
    await render(ctx, account, 'account-keys', 'API keys', { keys, created: locals.created ?? null, error: locals.error ?? null, limit: keysPerUser }, status);
  };
  router.get('/keys', async (ctx) => {
    const account = await requireAccount(ctx);
    if (account) await keysPage(ctx, account);
  });
  router.post('/keys', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    const form = await csrf.readForm(ctx);
    const input = { name: form.name ?? '', read_only: form.read_only === 'on', ...(form.expires_in_days ? { expires_in_days: Number(form.expires_in_days) } : {}) };
    const parsed = apiKeyInputSchema.safeParse(input);
    if (!parsed.success) return keysPage(ctx, account, { error: 'Give the key a name of 1 to 100 characters.' }, 400);
    try {
      const { key } = await createApiKey({ ...deps, keysPerUser }, account.user, parsed.data, { actor: { type: 'user', id: account.user.id }, ip: ctx.ip });
      await keysPage(ctx, account, { created: key }, 201);
    } catch (err) {
      if (err instanceof HttpError && err.status === 403) return keysPage(ctx, account, { error: err.description }, 403);
      throw err;
    }
  });
  router.post('/keys/:id/revoke', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    await csrf.readForm(ctx);
    const key = await deps.store.apiKeys.findById(ctx.params.id!);
    if (!key || key.userId !== account.user.id) throw new HttpError(404, 'not_found', 'No such API key.');
    await revokeApiKey(deps, key, { actor: { type: 'user', id: account.user.id }, ip: ctx.ip });
    ctx.status = 303;
    ctx.redirect('/account/keys');
  });

  const twoFactorPage = async (ctx: Context, account: SignedInAccount, locals: Record<string, unknown> = {}, status = 200) => {
    const enabled = await hasSecondFactor(deps.store, account.user.id);
    await render(ctx, account, 'account-2fa', 'Two-factor authentication', {
      enabled,
      enrolment: enabled ? undefined : await pendingEnrolment(deps, account.user),
      codesLeft: enabled ? await deps.store.secondFactors.countRecoveryCodes(account.user.id) : 0,
      recoveryCodes: null,
      error: null,
      ...locals,
    }, status);
  };

  router.get('/2fa', async (ctx) => {
    const account = await requireAccount(ctx);
    if (account) await twoFactorPage(ctx, account);
  });
  router.post('/2fa/start', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    await csrf.readForm(ctx);
    if (await hasSecondFactor(deps.store, account.user.id)) throw new HttpError(409, 'conflict', 'Two-factor authentication is already on.');
    await twoFactorPage(ctx, account, { enrolment: await startEnrolment(deps, account.user) });
  });
  router.post('/2fa/confirm', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    const form = await csrf.readForm(ctx);
    const codes = await confirmEnrolment(deps, account.user, account.sessionId, form.code ?? '');
    if (!codes) return twoFactorPage(ctx, account, { error: 'That code is not valid. Enter the current code from your app.' }, 400);
    await twoFactorPage(ctx, account, { recoveryCodes: codes });
  });
  router.post('/2fa/recovery-codes', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    const form = await csrf.readForm(ctx);
    const codes = await regenerateRecoveryCodes(deps, account.user, form.code ?? '');
    if (!codes) return twoFactorPage(ctx, account, { error: 'That code is not valid.' }, 400);
    await twoFactorPage(ctx, account, { recoveryCodes: codes });
  });
  router.post('/2fa/disable', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    const form = await csrf.readForm(ctx);
    const proof = form.code ? { code: form.code } : { password: form.password ?? '' };
    if (!(await disableSecondFactor(deps, account.user, account.sessionId, proof))) {
      return twoFactorPage(ctx, account, { error: 'Enter a current code or your password to turn two-factor authentication off.' }, 400);
    }
    await twoFactorPage(ctx, account);
  });

  router.get('/delete', async (ctx) => {
    const account = await requireAccount(ctx);
    if (account) await render(ctx, account, 'account-delete', 'Delete account', { error: null });
  });
  router.post('/delete', async (ctx) => {
    const account = (await requireAccount(ctx))!;
    const form = await csrf.readForm(ctx);
    if (!(await deleteAccount(deps, account.user, form.password ?? ''))) {
      return render(ctx, account, 'account-delete', 'Delete account', { error: 'That is not your password.' }, 400);
    }
    ctx.set('Cache-Control', 'no-store');
    await ctx.render('layout.ejs', { page: 'notice', title: 'Account deleted', message: 'Your account and everything in it are deleted.', signIn: null });
  });

  return router;
}
