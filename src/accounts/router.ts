import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Csrf } from '../security/csrf.js';
import type { RateBudget, RateLimiter } from '../security/rate-limit.js';
import { LINK_GONE } from './action-tokens.js';
import { inBackground, type AccountDeps } from './deps.js';
import { isVerificationTokenValid, sendVerificationMail, verifyEmail } from './email-verification.js';
import { isResetTokenValid, requestPasswordReset, resetPassword } from './password-reset.js';
import { register } from './registration.js';


/** Interaction uids as oidc-provider makes them; anything else is dropped, never echoed. */
const interactionUid = z.string().regex(/^[A-Za-z0-9_-]{10,64}$/);

/**
 * Our own "return to the sign-in" parameter: only a same-origin path to an interaction,
 * so it can never become an open redirect.
 */
function signInPath(value: unknown): string | null {
  const uid = interactionUid.safeParse(value);
  return uid.success ? `/interaction/${uid.data}` : null;
}

/**
 * Self-service pages reached from the sign-in page or from a mailed link: sign-up,
 * email verification, forgotten password. Every answer about an address is the same
 * whether or not it has an account; links are used only by POST, since mail scanners
 * open GET links.
 */
export function accountRouter(deps: AccountDeps, csrf: Csrf, limiter: RateLimiter): Router {
  const router = new Router({ prefix: '/account' });

  const page = (ctx: Context, name: string, title: string, locals: Record<string, unknown> = {}, status = 200) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.status = status;
    return ctx.render('layout.ejs', { page: name, title, csrf: csrf.token(ctx), ...locals });
  };
  const notice = (ctx: Context, title: string, message: string, status = 200, signIn: string | null = null) =>
    page(ctx, 'notice', title, { message, signIn }, status);
  const checkEmail = (ctx: Context, email: string, signIn: string | null, resend = true) =>
    page(ctx, 'check-email', 'Check your email', { email, signIn, resend });

  router.get('/register', (ctx) => page(ctx, 'register', 'Create your account', { values: {}, errors: {}, signIn: signInPath(ctx.query.interaction) }));
  // Forms that send mail spend two budgets: the sender's IP, and the address mailed (so
  // nobody can flood one inbox, from however many addresses).
  const mailing = (ctx: Context, email: string): RateBudget[] => [{ kind: 'ip', ip: ctx.ip }, { kind: 'mail', email }];

  router.post('/register', async (ctx) => {
    const form = await csrf.readForm(ctx);
    await limiter.spend('register', mailing(ctx, form.email ?? ''));
    const signIn = signInPath(form.interaction);
    const result = await register(deps, form);
    if (!result.ok) return page(ctx, 'register', 'Create your account', { values: { email: form.email, name: form.name }, errors: result.errors, signIn }, 400);
    return checkEmail(ctx, result.email, signIn);
  });

  router.post('/verify-email/resend', async (ctx) => {
    const form = await csrf.readForm(ctx);
    await limiter.spend('resend', mailing(ctx, form.email ?? ''));
    const email = z.email().safeParse((form.email ?? '').trim());
    if (email.success) {
      inBackground(deps, 'verification resend', async () => {
        const user = await deps.store.users.findByEmail(email.data);
        if (user && !user.emailVerified) await sendVerificationMail(deps, user);
      });
    }
    return checkEmail(ctx, form.email ?? '', signInPath(form.interaction));
  });

  router.get('/verify-email', async (ctx) => {
    const token = String(ctx.query.token ?? '');
    if (!(await isVerificationTokenValid(deps, token))) return notice(ctx, 'Link expired', LINK_GONE, 400);
    return page(ctx, 'verify-email', 'Confirm your email', { token });
  });
  router.post('/verify-email', async (ctx) => {
    const form = await csrf.readForm(ctx);
    if (!(await verifyEmail(deps, form.token ?? ''))) return notice(ctx, 'Link expired', LINK_GONE, 400);
    return notice(ctx, 'Email confirmed', 'Thanks — your email address is confirmed.');
  });

  router.get('/forgot-password', (ctx) => page(ctx, 'forgot-password', 'Reset your password', { signIn: signInPath(ctx.query.interaction) }));
  router.post('/forgot-password', async (ctx) => {
    const form = await csrf.readForm(ctx);
    const email = (form.email ?? '').trim();
    await limiter.spend('reset', mailing(ctx, email));
    if (z.email().safeParse(email).success) requestPasswordReset(deps, email);
    return checkEmail(ctx, email, signInPath(form.interaction), false);
  });

  router.get('/reset-password', async (ctx) => {
    const token = String(ctx.query.token ?? '');
    if (!(await isResetTokenValid(deps, token))) return notice(ctx, 'Link expired', LINK_GONE, 400);
    return page(ctx, 'reset-password', 'Choose a new password', { token, error: null });
  });
  router.post('/reset-password', async (ctx) => {
    const form = await csrf.readForm(ctx);
    const result = await resetPassword(deps, form.token ?? '', form.password ?? '');
    if (result.ok) return notice(ctx, 'Password changed', 'Your password is changed and you are signed out everywhere. Sign in with your new password.');
    if (result.reason === 'weak_password') return page(ctx, 'reset-password', 'Choose a new password', { token: form.token, error: result.message }, 400);
    return notice(ctx, 'Link expired', LINK_GONE, 400);
  });

  return router;
}
