import Router from '@koa/router';
import type { Context } from 'koa';
import { verifySecondFactor, type SecondFactorDeps } from '../mfa/second-factor.js';
import type { LiveProvider } from '../oidc/live-provider.js';
import type { Csrf } from '../security/csrf.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import { interactionSteps, secondFactorPendingHash, type FirstFactor } from './interaction-steps.js';

const INVALID_CODE = 'That code is not valid. Use the current code from your app, or an unused recovery code.';
const TOO_MANY = 'Too many failed sign-ins. Try again later, or reset your password.';

/**
 * The second step of a sign-in for people with 2FA: an authenticator code or a recovery
 * code. Failures count toward the same lock as passwords, so guessing codes is as slow
 * as guessing passwords, and a lock says nothing about which step failed.
 */
export function secondFactorRouter(live: LiveProvider, deps: SecondFactorDeps, csrf: Csrf, throttle: LoginThrottle): Router {
  const router = new Router({ prefix: '/interaction/:uid/second-factor' });
  const { load, finish } = interactionSteps(live, deps.store);

  const render = (ctx: Context, uid: string, error: string | null, status = 200) => {
    ctx.status = status;
    return ctx.render('layout', { page: 'second-factor', title: 'Two-factor authentication', uid, error, csrf: csrf.token(ctx) });
  };
  const pendingUser = async (uid: string) => {
    const pending = await deps.store.actionTokens.find(secondFactorPendingHash(uid), 'second-factor');
    const user = pending && (await deps.store.users.findById(pending.userId));
    return user && pending ? { user, method: pending.data.method as FirstFactor } : undefined;
  };

  router.get('/', async (ctx) => {
    const details = await load(ctx, 'login');
    if (!(await pendingUser(details.uid))) return ctx.redirect(`/interaction/${details.uid}`);
    await render(ctx, details.uid, null);
  });

  router.post('/', async (ctx) => {
    const details = await load(ctx, 'login');
    const form = await csrf.readForm(ctx);
    const pending = await pendingUser(details.uid);
    if (!pending) return ctx.redirect(`/interaction/${details.uid}`);
    const verdict = await throttle.check(pending.user.email, ctx.ip);
    if (!verdict.allowed) {
      ctx.set('Retry-After', String(verdict.retryAfterSeconds));
      return render(ctx, details.uid, TOO_MANY, 429);
    }
    if (!(await verifySecondFactor(deps, pending.user.id, form.code ?? ''))) {
      await throttle.recordFailure(pending.user.email, ctx.ip);
      return render(ctx, details.uid, INVALID_CODE, 401);
    }
    // Used once: a second tab cannot finish the same pending sign-in again.
    if (!(await deps.store.actionTokens.redeem(secondFactorPendingHash(details.uid), 'second-factor'))) return ctx.redirect(`/interaction/${details.uid}`);
    await throttle.recordSuccess(pending.user.email);
    const amr = [...new Set([pending.method, 'otp', 'mfa'])];
    await finish(ctx, { login: { accountId: pending.user.id, amr, acr: 'urn:gatehouse:mfa' } }, false);
  });

  return router;
}
