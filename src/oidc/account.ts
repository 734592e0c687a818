import { errors, type FindAccount, type KoaContextWithOIDC } from 'oidc-provider';
import { pictureUrl } from '../accounts/avatar.js';
import { effectivePermission, PERMISSIONS_SCOPE } from '../access/permissions.js';
import { CLIENT_CREDENTIALS_GTY } from '../api/principal.js';
import type { Store, UserRecord } from '../store/port.js';

/** Claims a user releases, by scope; `sub` is the user's stable id, never the email. */
export const CLAIMS_BY_SCOPE = {
  // amr/acr say how the person authenticated (password, emailed link, …); the library
  // adds them to ID tokens only as claims of a granted scope.
  openid: ['sub', 'amr', 'acr'],
  email: ['email', 'email_verified'],
  profile: ['name', 'picture', 'updated_at'],
  // The person's Gatehouse role and their permission in the tool asking.
  [PERMISSIONS_SCOPE]: ['role', 'permission'],
};

const hasScope = (scope: string | undefined, wanted: string) => (scope ?? '').split(' ').includes(wanted);

/** `role` and `permission` (null: no access) of the user for one tool, read fresh for every token. */
async function accessClaims(store: Store, user: UserRecord, toolId: string | undefined) {
  return { role: user.role, permission: toolId ? await effectivePermission(store, user, toolId) : null };
}

/**
 * Looks up the person behind a session or token. A deleted or disabled user ends their
 * tokens' use: refresh and userinfo fail once findAccount finds nobody.
 */
export function createFindAccount(store: Store, issuer: string): FindAccount {
  return async (ctx, sub) => {
    const user = await store.users.findById(sub);
    if (!user || user.status !== 'active') return undefined;
    return {
      accountId: user.id,
      async claims(_use, scope) {
        // The picture costs two reads: only for a grant that can release it.
        const picture = hasScope(scope, 'profile') ? await pictureUrl(store, issuer, user.id) : null;
        return {
          ...(picture ? { picture } : {}),
          sub: user.id,
          email: user.email,
          email_verified: user.emailVerified,
          ...(user.name ? { name: user.name } : {}),
          updated_at: Math.floor(user.updatedAt / 1000),
          ...(hasScope(scope, PERMISSIONS_SCOPE) ? await accessClaims(store, user, (ctx as KoaContextWithOIDC).oidc?.client?.clientId) : {}),
        };
      },
    };
  };
}

/** What oidc-provider hands extraTokenClaims: the token being issued. */
interface IssuedToken {
  kind?: string;
  accountId?: string;
  clientId?: string;
  scope?: string;
}

/**
 * Claims added to a person's access tokens: role and permission under the permissions
 * scope (opaque ones show them at introspection). Looked up at issue, so a changed
 * permission shows in the next token, refreshes included; and a restricted tool gets no
 * new token for someone who lost access. Machines' tokens get none here (see
 * `markMachineTokens`).
 */
export function createExtraTokenClaims(store: Store) {
  return async (ctx: KoaContextWithOIDC, token: IssuedToken) => {
    if (!token.accountId || !token.clientId) return undefined;
    const wanted = hasScope(token.scope, PERMISSIONS_SCOPE);
    const restricted = ctx?.oidc?.client?.metadata().restricted === true;
    // Most tokens need neither: spare the store two reads.
    if (!wanted && !restricted) return undefined;
    const user = await store.users.findById(token.accountId);
    if (!user) return undefined;
    const claims = await accessClaims(store, user, token.clientId);
    if (claims.permission === null && restricted) throw new errors.InvalidGrant('you no longer have access to this application');
    return wanted ? claims : undefined;
  };
}

/**
 * Marks a machine's (client_credentials) JWT as one with `gty`, so its `sub` (the client
 * id) is never taken for a person. Added here rather than as an extra token claim: the
 * library spreads extra claims into the JWT payload's object literal ahead of its own ten
 * properties, and V8 (Node 20) builds such a literal through a slow path: ~6 µs a token
 * with one extra claim against ~0.1 µs with none, in a micro-benchmark. One property
 * added to the finished payload costs nothing measurable.
 */
export function markMachineTokens(_ctx: KoaContextWithOIDC, token: { kind: string }, jwt: { payload: Record<string, unknown> }): void {
  if (token.kind === 'ClientCredentials') jwt.payload.gty = CLIENT_CREDENTIALS_GTY;
}
