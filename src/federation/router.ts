import Router from '@koa/router';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import { ACTION_TOKEN_TTL_SECONDS, hashActionToken } from '../accounts/action-tokens.js';
import type { AccountDeps } from '../accounts/deps.js';
import { HttpError } from '../http/errors.js';
import { interactionSteps } from '../interactions/interaction-steps.js';
import type { LiveProvider } from '../oidc/live-provider.js';
import type { Csrf } from '../security/csrf.js';
import { githubProfile } from './github-profile.js';
import { resolveUpstreamAccount, type UpstreamProfile } from './linking.js';
import type { UpstreamClients } from './upstream-clients.js';

const stateHash = (state: string) => hashActionToken(`upstream-state:${state}`);
const resultHash = (uid: string) => hashActionToken(`upstream-result:${uid}`);
/** What an OpenID provider's validated ID token says about the person. */
const profileFromIdToken = (claims: oidc.IDToken): UpstreamProfile => ({
  subject: claims.sub,
  email: typeof claims.email === 'string' ? claims.email : null,
  emailVerified: claims.email_verified === true,
  name: typeof claims.name === 'string' ? claims.name : null,
  picture: typeof claims.picture === 'string' ? claims.picture : null,
});
const UNREACHABLE = 'That sign-in provider cannot be reached right now. Sign in another way, or try again shortly.';

/**
 * Sign-in through an upstream OpenID provider (Google, or any configured issuer), with
 * state, nonce and PKCE, validated by openid-client. The upstream returns to one fixed
 * callback; the interaction's cookie only travels to /interaction/<uid>, so the callback
 * parks its result under the interaction and hands over to a step that can finish it
 * (second factor included).
 */
export function federationRouter(live: LiveProvider, deps: AccountDeps, csrf: Csrf, upstreams: UpstreamClients): Router {
  const router = new Router();
  const { load, afterFirstFactor } = interactionSteps(live, deps);
  const callbackUrl = (provider: string) => `${deps.issuer}/upstream/${provider}/callback`;
  const park = (tokenHash: string, data: Record<string, string>) => {
    const now = Date.now();
    // The "user" of a parked record is the interaction: one round trip per interaction.
    return deps.store.actionTokens.issue({ tokenHash, purpose: 'upstream-login', userId: `interaction:${data.uid}`, data, createdAt: now, expiresAt: now + ACTION_TOKEN_TTL_SECONDS['upstream-login'] * 1000 });
  };

  router.get('/interaction/:uid/upstream/:provider', async (ctx) => {
    const details = await load(ctx, 'login');
    const upstream = upstreams.find(ctx.params.provider!);
    if (!upstream) throw new HttpError(404, 'not_found', 'No such sign-in provider.');
    const config = await upstreams.configuration(upstream).catch(() => {
      throw new HttpError(502, 'temporarily_unavailable', UNREACHABLE);
    });
    const state = oidc.randomState();
    const verifier = oidc.randomPKCECodeVerifier();
    // GitHub is OAuth 2.0 only: no ID token, so no nonce; OpenID providers get one.
    const nonce = upstream.kind === 'oidc' ? oidc.randomNonce() : '';
    await park(stateHash(state), { uid: details.uid, provider: upstream.id, nonce, verifier });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: callbackUrl(upstream.id),
      scope: upstream.kind === 'oidc' ? 'openid email profile' : 'read:user user:email',
      state,
      ...(nonce ? { nonce } : {}),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    ctx.redirect(url.toString());
  });

  router.get('/upstream/:provider/callback', async (ctx) => {
    const state = String(ctx.query.state ?? '');
    const pending = state ? await deps.store.actionTokens.redeem(stateHash(state), 'upstream-login') : undefined;
    const upstream = upstreams.find(ctx.params.provider!);
    if (!pending || !upstream || pending.data.provider !== upstream.id) throw new HttpError(400, 'invalid_request', 'This sign-in has expired. Start again from the application.');
    const { uid } = pending.data as { uid: string; nonce: string; verifier: string };
    let profile: UpstreamProfile;
    try {
      const config = await upstreams.configuration(upstream);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(ctx.originalUrl, `${deps.issuer}/`), {
        pkceCodeVerifier: pending.data.verifier,
        expectedState: state,
        ...(upstream.kind === 'oidc' ? { expectedNonce: pending.data.nonce, idTokenExpected: true } : {}),
      });
      profile = upstream.kind === 'github' ? await githubProfile(config, upstream.apiUrl!, tokens.access_token) : profileFromIdToken(tokens.claims()!);
    } catch (err) {
      deps.logger.warn('upstream sign-in failed', { provider: upstream.id, error: (err as Error).message });
      throw new HttpError(502, 'invalid_request', `Signing in with ${upstream.label} did not work. Start again, or sign in another way.`);
    }
    const result = await resolveUpstreamAccount(deps.store, upstream.id, profile);
    if (!result.ok) throw new HttpError(409, 'account_conflict', result.message);
    await park(resultHash(uid), { uid, userId: result.userId, outcome: result.outcome, provider: upstream.label });
    ctx.redirect(`/interaction/${uid}/upstream-complete`);
  });

  const completed = async (ctx: Context, consume: boolean) => {
    const details = await load(ctx, 'login');
    const store = deps.store.actionTokens;
    const parked = consume ? await store.redeem(resultHash(details.uid), 'upstream-login') : await store.find(resultHash(details.uid), 'upstream-login');
    if (!parked) throw new HttpError(400, 'invalid_request', 'This sign-in has expired. Start again from the application.');
    return { details, parked: parked.data as { userId: string; outcome: string; provider: string } };
  };

  router.get('/interaction/:uid/upstream-complete', async (ctx) => {
    const { details, parked } = await completed(ctx, false);
    // Linking to an existing account is news the person must see before going on.
    if (parked.outcome === 'linked') {
      const user = await deps.store.users.findById(parked.userId);
      return ctx.render('layout.ejs', { page: 'upstream-linked', title: 'Account linked', uid: details.uid, provider: parked.provider, email: user?.email ?? '', csrf: csrf.token(ctx) });
    }
    await deps.store.actionTokens.redeem(resultHash(details.uid), 'upstream-login');
    await afterFirstFactor(ctx, details, parked.userId, 'fed');
  });
  router.post('/interaction/:uid/upstream-complete', async (ctx) => {
    await csrf.readForm(ctx);
    const { details, parked } = await completed(ctx, true);
    await afterFirstFactor(ctx, details, parked.userId, 'fed');
  });

  return router;
}
