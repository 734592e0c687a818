import Router from '@koa/router';
import type { Context } from 'koa';
import { confirmEnrolment, hasSecondFactor, pendingEnrolment, startEnrolment, verifySecondFactor, type SecondFactorDeps } from '../mfa/second-factor.js';
import type { LiveProvider } from '../oidc/live-provider.js';
import { MFA_ACR } from '../oidc/interaction-policy.js';
import type { Csrf } from '../security/csrf.js';
import { LOCKED_OUT_MESSAGE, type LoginThrottle } from '../security/login-throttle.js';
import { interactionSteps, markSecondFactorPending, secondFactorPendingHash, type FirstFactor, type InteractionDetails } from './interaction-steps.js';

const INVALID_CODE = 'That code is not valid. Use the current code from your app, or an unused recovery code.';

/**
 * The second step of a sign-in for people with 2FA: an authenticator code or a recovery
 * code. Failures count toward the same lock as passwords, so guessing codes is as slow
 * as guessing passwords, and a lock says nothing about which step failed.
 */
export function secondFactorRouter(live: LiveProvider, deps: SecondFactorDeps, csrf: Csrf, throttle: LoginThrottle): Router {
  const router = new Router({ prefix: '/interaction/:uid/second-factor' });
  const steps = interactionSteps(live, deps);
  const { load } = steps;

  const render = (ctx: Context, uid: string, error: string | null, status = 200) => {
    ctx.status = status;
    return ctx.render('layout.ejs', { page: 'second-factor', title: 'Two-factor authentication', uid, error, csrf: csrf.token(ctx) });
  };
  const pendingUser = async (uid: string) => {
    const pending = await deps.store.actionTokens.find(secondFactorPendingHash(uid), 'second-factor');
    const user = pending && (await deps.store.users.findById(pending.userId));
    return user && pending ? { user, method: pending.data.method as FirstFactor, enrolled: pending.data.enrolled === 'yes' } : undefined;
  };
  const signIn = (ctx: Context, details: InteractionDetails, userId: string, method: FirstFactor) =>
    steps.signIn(ctx, details, userId, { amr: [...new Set([method, 'otp', 'mfa'])], acr: MFA_ACR });

  // Enrolment inside a sign-in, for a tool that requires a second factor this person lacks.
  router.get('/enrol', async (ctx) => {
    const details = await load(ctx, 'login');
    const pending = await pendingUser(details.uid);
    if (!pending) return ctx.redirect(`/interaction/${details.uid}`);
    if (await hasSecondFactor(deps.store, pending.user.id)) return ctx.redirect(`/interaction/${details.uid}/second-factor`);
    const enrolment = (await pendingEnrolment(deps, pending.user)) ?? (await startEnrolment(deps, pending.user));
    const client = await live.provider.Client.find(String(details.params.client_id));
    await ctx.render('layout.ejs', { page: 'second-factor-enrol', title: 'Set up two-factor authentication', uid: details.uid, enrolment, clientName: client?.clientName ?? 'This application', error: ctx.query.error ? 'That code is not valid. Enter the current code from your app.' : null, csrf: csrf.token(ctx) });
  });
  router.post('/enrol', async (ctx) => {
    const details = await load(ctx, 'login');
    const form = await csrf.readForm(ctx);
    const pending = await pendingUser(details.uid);
    if (!pending) return ctx.redirect(`/interaction/${details.uid}`);
    const recoveryCodes = await confirmEnrolment(deps, pending.user, undefined, form.code ?? '');
    if (!recoveryCodes) return ctx.redirect(`/interaction/${details.uid}/second-factor/enrol?error=1`);
    // The first code proved the second factor; the sign-in completes after the codes are seen.
    await markSecondFactorPending(deps.store, details.uid, pending.user.id, { method: pending.method, enrolled: 'yes' });
    ctx.set('Cache-Control', 'no-store');
    await ctx.render('layout.ejs', { page: 'second-factor-codes', title: 'Recovery codes', uid: details.uid, recoveryCodes, csrf: csrf.token(ctx) });
  });
  router.post('/continue', async (ctx) => {
    const details = await load(ctx, 'login');
    await csrf.readForm(ctx);
    const pending = await pendingUser(details.uid);
    if (!pending?.enrolled || !(await deps.store.actionTokens.redeem(secondFactorPendingHash(details.uid), 'second-factor'))) {
      return ctx.redirect(`/interaction/${details.uid}`);
    }
    await signIn(ctx, details, pending.user.id, pending.method);
  });

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
      return render(ctx, details.uid, LOCKED_OUT_MESSAGE, 429);
    }
    if (!(await verifySecondFactor(deps, pending.user.id, form.code ?? ''))) {
      await throttle.recordFailure(pending.user.email, ctx.ip);
      return render(ctx, details.uid, INVALID_CODE, 401);
    }
    // Used once: a second tab cannot finish the same pending sign-in again.
    if (!(await deps.store.actionTokens.redeem(secondFactorPendingHash(details.uid), 'second-factor'))) return ctx.redirect(`/interaction/${details.uid}`);
    await throttle.recordSuccess(pending.user.email);
    await signIn(ctx, details, pending.user.id, pending.method);
  });

  return router;
}
