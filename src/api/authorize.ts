import type { Store } from '../store/port.js';
import type { Access } from './api-route.js';
import { ACCOUNT_SCOPE, ADMIN_SCOPE, forbidden, type Principal } from './principal.js';

const registeredScopes = async (store: Store, clientId: string | null) =>
  String((clientId && (await store.clients.find(clientId))?.metadata.scope) ?? '').split(' ');

/**
 * Whether the caller may administer Gatehouse:
 * - an admin's API key that is not narrowed to one tool;
 * - a machine client's token with the admin scope (only clients registered with it get it);
 * - an admin's token with the admin scope, from a client registered with that scope — so a
 *   tool an admin merely signs in to cannot act as them.
 */
export async function isAdministrator(store: Store, p: Principal): Promise<boolean> {
  if (p.apiKey) return p.user?.role === 'admin' && p.apiKey.toolId === null;
  if (!p.scopes?.has(ADMIN_SCOPE)) return false;
  if (!p.user) return true;
  return p.user.role === 'admin' && (await registeredScopes(store, p.clientId)).includes(ADMIN_SCOPE);
}

/**
 * The management API's rule, checked before any route runs: admin routes need an
 * administrator; self routes need a person — a token reads with `openid` and changes with
 * the `account` scope, a tool-narrowed key only reads. A read-only key never writes.
 */
export function createAuthorizer(store: Store) {
  return async (p: Principal, access: Exclude<Access, 'public'>, write: boolean): Promise<void> => {
    if (write && p.apiKey?.readOnly) throw forbidden('This API key is read-only.', 'insufficient_scope');
    if (access === 'admin') {
      if (!(await isAdministrator(store, p))) throw forbidden('This needs an administrator: an admin\'s API key, or a token with the admin scope.');
      return;
    }
    if (!p.user) throw forbidden('This is for people; a machine client has no account.');
    if (p.apiKey) {
      if (write && p.apiKey.toolId) throw forbidden('This API key is narrowed to one tool and cannot change the account.', 'insufficient_scope');
      return;
    }
    const needed = write ? ACCOUNT_SCOPE : 'openid';
    if (!p.scopes?.has(needed)) throw forbidden(`This needs the ${needed} scope.`, 'insufficient_scope');
  };
}
