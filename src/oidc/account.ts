import type { FindAccount } from 'oidc-provider';
import { pictureUrl } from '../accounts/avatar.js';
import type { Store } from '../store/port.js';

/** Claims a user releases, by scope; `sub` is the user's stable id, never the email. */
export const CLAIMS_BY_SCOPE = {
  // amr/acr say how the person authenticated (password, emailed link, …); the library
  // adds them to ID tokens only as claims of a granted scope.
  openid: ['sub', 'amr', 'acr'],
  email: ['email', 'email_verified'],
  profile: ['name', 'picture', 'updated_at'],
};

/** Looks up the person behind a session or token; a deleted user ends their tokens' use. */
export function createFindAccount(store: Store, issuer: string): FindAccount {
  return async (_ctx, sub) => {
    const user = await store.users.findById(sub);
    if (!user) return undefined;
    return {
      accountId: user.id,
      async claims() {
        const picture = await pictureUrl(store, issuer, user.id);
        return {
          ...(picture ? { picture } : {}),
          sub: user.id,
          email: user.email,
          email_verified: user.emailVerified,
          ...(user.name ? { name: user.name } : {}),
          updated_at: Math.floor(user.updatedAt / 1000),
        };
      },
    };
  };
}
