import type { Context } from 'koa';
import type { LiveProvider } from '../oidc/live-provider.js';
import type { Store, UserRecord } from '../store/port.js';

export interface SignedInAccount {
  user: UserRecord;
  /** The store id of this browser's oidc-provider session. */
  sessionId: string;
}

/** The person signed in in this browser (oidc-provider's session cookie), if any. */
export async function currentAccount(live: LiveProvider, store: Store, ctx: Context): Promise<SignedInAccount | undefined> {
  const session = await live.provider.Session.get(ctx as never);
  if (!session.accountId) return undefined;
  const user = await store.users.findById(session.accountId);
  return user ? { user, sessionId: session.jti } : undefined;
}
