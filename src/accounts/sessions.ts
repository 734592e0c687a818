import type { OidcPayload, Store } from '../store/port.js';

/** Every oidc-provider model whose records belong to a grant. */
const GRANT_BOUND_MODELS = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'] as const;

export interface SessionSummary {
  id: string;
  current: boolean;
  signedInAt: Date | null;
  /** Names of the tools this session signed in to. */
  tools: string[];
}

type SessionPayload = OidcPayload & { loginTs?: number; authorizations?: Record<string, { grantId?: string }> };

/** The account's sessions, newest first, naming the tools each one signed in to. */
export async function listSessions(store: Store, accountId: string, currentSessionId: string): Promise<SessionSummary[]> {
  const sessions = await store.oidc.listByAccount('Session', accountId);
  const summaries = await Promise.all(
    sessions.map(async ({ id, payload }) => {
      const { loginTs, authorizations = {} } = payload as SessionPayload;
      const tools = await Promise.all(
        Object.keys(authorizations).map(async (clientId) => String((await store.clients.find(clientId))?.metadata.client_name ?? clientId)),
      );
      return { id, current: id === currentSessionId, signedInAt: loginTs ? new Date(loginTs * 1000) : null, tools };
    }),
  );
  return summaries.sort((a, b) => (b.signedInAt?.getTime() ?? 0) - (a.signedInAt?.getTime() ?? 0));
}

/**
 * Ends one session of the account, and with it every grant it made: the tools it signed
 * in to lose their access and refresh tokens too. Returns false for a session that is not
 * the account's.
 */
export async function signOutSession(store: Store, accountId: string, sessionId: string): Promise<boolean> {
  const session = (await store.oidc.listByAccount('Session', accountId)).find((s) => s.id === sessionId);
  if (!session) return false;
  const { authorizations = {} } = session.payload as SessionPayload;
  for (const { grantId } of Object.values(authorizations)) {
    if (!grantId) continue;
    await Promise.all(GRANT_BOUND_MODELS.map((model) => store.oidc.revokeByGrantId(model, grantId)));
    await store.oidc.destroy('Grant', grantId);
  }
  await store.oidc.destroy('Session', sessionId);
  return true;
}

/** "Sign out everywhere else": every session of the account but this one. */
export async function signOutOtherSessions(store: Store, accountId: string, keepSessionId: string): Promise<number> {
  const others = (await store.oidc.listByAccount('Session', accountId)).filter((s) => s.id !== keepSessionId);
  for (const { id } of others) await signOutSession(store, accountId, id);
  return others.length;
}
