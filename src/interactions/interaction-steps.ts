import type { Context } from 'koa';
import type { InteractionResults } from 'oidc-provider';
import { ACTION_TOKEN_TTL_SECONDS, hashActionToken } from '../accounts/action-tokens.js';
import { HttpError } from '../http/errors.js';
import { hasSecondFactor } from '../mfa/second-factor.js';
import type { LiveProvider } from '../oidc/live-provider.js';
import { MFA_REQUIRED } from '../oidc/interaction-policy.js';
import type { Store } from '../store/port.js';
import type { AccountDeps } from '../accounts/deps.js';

export type InteractionDetails = Awaited<ReturnType<LiveProvider['provider']['interactionDetails']>>;

/** RFC 8176 method names for how a first factor was passed. */
export type FirstFactor = 'pwd' | 'otp' | 'fed';

/** Where "first factor passed, second pending" is kept for one interaction. */
export const secondFactorPendingHash = (uid: string) => hashActionToken(`second-factor:${uid}`);

/** Records (or replaces) the pending second-factor state of one interaction. */
export async function markSecondFactorPending(store: Store, uid: string, userId: string, data: Record<string, string>): Promise<void> {
  const now = Date.now();
  await store.actionTokens.issue({
    tokenHash: secondFactorPendingHash(uid),
    purpose: 'second-factor',
    userId,
    data,
    createdAt: now,
    expiresAt: now + ACTION_TOKEN_TTL_SECONDS['second-factor'] * 1000,
  });
}

/**
 * The two moves every hosted sign-in step makes: load this browser's interaction (bound
 * to it by oidc-provider's interaction cookie, so another browser's uid fails) and
 * finish it with a result, which sends the browser back into the authorization flow.
 */
export function interactionSteps(live: LiveProvider, { store, audit }: Pick<AccountDeps, 'store' | 'audit'>) {
  async function load(ctx: Context, expectedPrompt?: string): Promise<InteractionDetails> {
    let details: InteractionDetails;
    try {
      details = await live.provider.interactionDetails(ctx.req, ctx.res);
    } catch {
      throw new HttpError(400, 'invalid_request', 'This sign-in link has expired or was opened in another browser. Start again from the application.');
    }
    if (details.uid !== ctx.params.uid) throw new HttpError(400, 'invalid_request', 'This sign-in link belongs to another browser session.');
    if (expectedPrompt && details.prompt.name !== expectedPrompt) throw new HttpError(400, 'invalid_request', 'This step of the sign-in is not expected now.');
    ctx.set('Cache-Control', 'no-store');
    return details;
  }

  async function finish(ctx: Context, result: InteractionResults, merge: boolean): Promise<void> {
    const redirectTo = await live.provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  }

  /** Finishes the sign-in as the user, and records it. */
  async function signIn(ctx: Context, details: InteractionDetails, userId: string, login: { amr: string[]; acr?: string }): Promise<void> {
    await finish(ctx, { login: { accountId: userId, ...login } }, false);
    await audit.record('login.succeeded', {
      actor: { type: 'user', id: userId },
      target: { type: 'user', id: userId },
      ip: ctx.ip,
      details: { tool: String(details.params.client_id), amr: login.amr },
    });
  }

  /**
   * After a first factor: a person with 2FA goes to the second-factor step (the pending
   * state is bound to this interaction, itself bound to this browser); anyone else is
   * signed in.
   */
  async function afterFirstFactor(ctx: Context, details: InteractionDetails, userId: string, method: FirstFactor): Promise<'signed-in' | 'second-factor'> {
    // Only a person who proved who they are learns that their account is disabled.
    if ((await store.users.findById(userId))?.status !== 'active') throw new HttpError(403, 'access_denied', 'This account is disabled. Ask an administrator.');
    const enrolled = await hasSecondFactor(store, userId);
    if (!enrolled && !details.prompt.reasons.includes(MFA_REQUIRED)) {
      await signIn(ctx, details, userId, { amr: [method] });
      return 'signed-in';
    }
    await markSecondFactorPending(store, details.uid, userId, { method });
    ctx.status = 303;
    // The tool requires a second factor this person does not have yet: enrol first.
    ctx.redirect(`/interaction/${details.uid}/second-factor${enrolled ? '' : '/enrol'}`);
    return 'second-factor';
  }

  return { load, finish, signIn, afterFirstFactor };
}
