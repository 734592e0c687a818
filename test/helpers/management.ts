import { createApiKey } from '../../src/access/api-keys.js';
import { createLogger } from '../../src/logger.js';
import { AuditLog } from '../../src/security/audit.js';
import type { UserRecord } from '../../src/store/port.js';
import type { TestServer } from './gatehouse.js';

export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
}

/** Calls the management API with a bearer credential, as a script would. */
export async function callApi(server: TestServer, credential: string | undefined, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const res = await fetch(`${server.issuer}${path}`, {
    method,
    headers: {
      ...(credential ? { authorization: `Bearer ${credential}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** An API key for the user, made the way `gatehouse api-keys create` makes one. */
export async function keyFor(server: TestServer, user: UserRecord, options: { tool?: string; read_only?: boolean; name?: string } = {}): Promise<string> {
  const deps = { store: server.store, secrets: server.secrets, audit: new AuditLog(server.store, createLogger('silent')), keysPerUser: 100 };
  const { key } = await createApiKey(deps, user, { name: options.name ?? 'test key', ...options }, { actor: { type: 'cli', id: null }, ip: null });
  return key;
}

/** An admin and their API key: the credential most management tests act with. */
export async function adminCredential(server: TestServer): Promise<{ admin: UserRecord; key: string }> {
  const user = await server.createUser(`admin-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`);
  await server.store.users.update(user.id, { role: 'admin' });
  const admin = (await server.store.users.findById(user.id))!;
  return { admin, key: await keyFor(server, admin, { name: 'admin key' }) };
}
