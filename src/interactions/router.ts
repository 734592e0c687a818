import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { LINK_GONE } from '../accounts/action-tokens.js';
import type { AccountDeps } from '../accounts/deps.js';
import { peekMagicLink, redeemMagicLink, requestMagicLink } from '../accounts/magic-link.js';
import { authenticate } from '../accounts/users.js';
import { HttpError } from '../http/errors.js';
import type { LiveProvider } from '../oidc/live-provider.js';
import { NO_TOOL_ACCESS } from '../oidc/interaction-policy.js';
import { ANONYMOUS } from '../security/audit.js';
import { interactionSteps, type InteractionDetails } from './interaction-steps.js';
import type { Csrf } from '../security/csrf.js';
import { LOCKED_OUT_MESSAGE, type LoginThrottle } from '../security/login-throttle.js';
import type { RateLimiter } from '../security/rate-limit.js';


/** What each scope lets a tool do, in words a person can judge on the consent page. */
const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are',
  email: 'See your email address',
  profile: 'See your name',
  offline_access: 'Keep access while you are not using it',
  account: 'Change your name, theme, password and API keys',
  permissions: 'See your role and your permission in it',
  admin: 'Manage Gatehouse as you: users, tools, permissions and keys',
};

const INVALID_LOGIN = 'Invalid email or password.';

/**
 * The hosted pages the authorization flow sends a person to: sign-in and consent. Every
 * form carries a CSRF token, and the interaction itself is bound to this browser by
 * oidc-provider's interaction cookie, so another browser's uid, or a forged cross-site
 * post, gets nowhere.
 */
export function interactionRouter(
  live: LiveProvider,
  deps: AccountDeps,
  csrf: Csrf,
  throttle: LoginThrottle,
  limiter: RateLimiter,
  upstreams: ReadonlyArray<{ id: string; label: string }>,
): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const { store } = deps;

  const { load, finish, afterFirstFactor } = interactionSteps(live, deps);

  async function renderLogin(ctx: Context, details: InteractionDetails, extra: { email?: string; error?: string } = {}) {
    const client = await live.provider.Client.find(String(details.params.client_id));
    await ctx.render('layout.ejs', {
      page: 'login',
      title: 'Sign in',
      uid: details.uid,
      csrf: csrf.token(ctx),
      clientName: client?.clientName ?? null,
      email: extra.email ?? (typeof details.params.login_hint === 'string' ? details.params.login_hint : ''),
      error: extra.error ?? null,
      upstreams,
    });
  }

  /** A page about the signed-in person and the tool asking: "no access" or consent. */
  async function renderAboutTool(ctx: Context, details: InteractionDetails, page: 'no-access' | 'consent', locals: Record<string, unknown> = {}) {
    const client = await live.provider.Client.find(String(details.params.client_id));
    const user = details.session?.accountId ? await store.users.findById(details.session.accountId) : undefined;
    return ctx.render('layout.ejs', {
      page,
      title: page === 'consent' ? 'Allow access' : 'No access',
      uid: details.uid,
      csrf: csrf.token(ctx),
      clientName: client?.clientName ?? String(details.params.client_id),
      email: user?.email ?? '',
      ...locals,
    });
  }

  router.get('/', async (ctx) => {
    const details = await load(ctx);
    if (details.prompt.name === 'login' && details.prompt.reasons.includes(NO_TOOL_ACCESS)) {
      ctx.status = 403;
      return renderAboutTool(ctx, details, 'no-access');
    }
    if (details.prompt.name === 'login') return renderLogin(ctx, details);
    if (details.prompt.name === 'consent') {
      const missing = details.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
      const requested = [
        ...(missing.missingOIDCScope ?? []).map((s) => SCOPE_DESCRIPTIONS[s] ?? s),
        ...Object.entries(missing.missingResourceScopes ?? {}).map(([resource, scopes]) => `Use ${resource} (${scopes.join(', ') || 'access'})`),
      ];
      return renderAboutTool(ctx, details, 'consent', { requested });
    }
    throw new HttpError(400, 'invalid_request', `Unsupported sign-in step: ${details.prompt.name}`);
  });

  router.post('/login', async (ctx) => {
    const details = await load(ctx, 'login');
    const form = await csrf.readForm(ctx);
    await limiter.spend('login', [{ kind: 'ip', ip: ctx.ip }]);
    const email = (form.email ?? '').trim();
    const verdict = await throttle.check(email, ctx.ip);
    if (!verdict.allowed) {
      ctx.status = 429;
      ctx.set('Retry-After', String(verdict.retryAfterSeconds));
      return renderLogin(ctx, details, { email, error: LOCKED_OUT_MESSAGE });
    }
    const user = email && form.password ? await authenticate(store, email, form.password) : undefined;
    if (!user) {
      await throttle.recordFailure(email, ctx.ip);
      await deps.audit.record('login.failed', { actor: ANONYMOUS, ip: ctx.ip, details: { email: email.slice(0, 254), tool: String(details.params.client_id) } });
      ctx.status = 401;
      return renderLogin(ctx, details, { email, error: INVALID_LOGIN });
    }
    // Failures clear only when the whole sign-in succeeds: a right password must not
    // reset the count while second-factor codes are being guessed.
    if ((await afterFirstFactor(ctx, details, user.id, 'pwd')) === 'signed-in') await throttle.recordSuccess(email);
  });

  // Sign-in by emailed link (15 minutes, single use, only in the browser that asked).
  router.get('/magic-link', async (ctx) => {
    const details = await load(ctx, 'login');
    await ctx.render('layout.ejs', { page: 'magic-link-request', title: 'Email me a sign-in link', uid: details.uid, csrf: csrf.token(ctx) });
  });
  router.post('/magic-link', async (ctx) => {
    const details = await load(ctx, 'login');
    const form = await csrf.readForm(ctx);
    const email = (form.email ?? '').trim();
    await limiter.spend('magic-link', [{ kind: 'ip', ip: ctx.ip }, { kind: 'mail', email }]);
    if (z.email().safeParse(email).success) requestMagicLink(deps, email, details.uid);
    await ctx.render('layout.ejs', { page: 'check-email', title: 'Check your email', email, signIn: `/interaction/${details.uid}`, resend: false, csrf: csrf.token(ctx) });
  });
  router.get('/magic', async (ctx) => {
    const details = await load(ctx, 'login');
    const token = String(ctx.query.token ?? '');
    const user = await peekMagicLink(deps, token, details.uid);
    if (!user) throw new HttpError(400, 'invalid_request', LINK_GONE);
    await ctx.render('layout.ejs', { page: 'magic-link-confirm', title: 'Continue signing in', uid: details.uid, email: user.email, token, csrf: csrf.token(ctx) });
  });
  router.post('/magic', async (ctx) => {
    const details = await load(ctx, 'login');
    const form = await csrf.readForm(ctx);
    const user = await redeemMagicLink(deps, form.token ?? '', details.uid);
    if (!user) throw new HttpError(400, 'invalid_request', LINK_GONE);
    // RFC 8176 has no "email link" method; a one-time secret delivered out of band is "otp".
    await afterFirstFactor(ctx, details, user.id, 'otp');
  });

  router.post('/confirm', async (ctx) => {
    const details = await load(ctx, 'consent');
    await csrf.readForm(ctx);
    const { provider } = live;
    const accountId = details.session?.accountId;
    if (!accountId) throw new HttpError(400, 'invalid_request', 'Sign in first.');
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    if (!grant) throw new HttpError(400, 'invalid_request', 'The authorization has expired. Start again from the application.');
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
    await finish(ctx, { consent: { grantId: await grant.save() } }, true);
  });

  router.post('/abort', async (ctx) => {
    const details = await load(ctx);
    await csrf.readForm(ctx);
    const description = details.prompt.reasons.includes(NO_TOOL_ACCESS) ? 'The user has no access to this application.' : 'The user cancelled the sign-in.';
    await finish(ctx, { error: 'access_denied', error_description: description }, false);
  });

  return router;
}
