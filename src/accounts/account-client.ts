import { registerClient } from '../access/clients.js';
import type { Secrets } from '../security/secrets.js';
import type { Store } from '../store/port.js';

/**
 * The account pages sign people in through the same hosted login as every tool: they are
 * a first-party client of Gatehouse itself (as Keycloak's account console is), so there
 * is one login page, one session, one set of protections.
 */
export const ACCOUNT_CLIENT_ID = 'gatehouse-account';
export const ACCOUNT_CALLBACK_PATH = '/account/callback';

/** Registers (or refreshes) the account client; runs at every start so an issuer change is picked up. */
export async function ensureAccountClient(store: Store, secrets: Secrets, issuer: string): Promise<void> {
  await registerClient(store, secrets, {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'Your account',
    public: true,
    grant_types: ['authorization_code'],
    redirect_uris: [`${issuer}${ACCOUNT_CALLBACK_PATH}`],
  });
}
