import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import * as oidc from 'openid-client';
import { registerClient, type RegisteredClient } from '../../src/access/clients.js';
import { Secrets } from '../../src/security/secrets.js';
import { openStore } from '../../src/store/open-store.js';
import { backends } from '../helpers/backends.js';
import { freePort } from '../helpers/free-port.js';
import { TEST_SECRET, testEnv } from '../helpers/gatehouse.js';
import { runCli, spawnServer, type ServerProcess } from '../helpers/processes.js';

/** Tokens from each instance before the first rotation, and again before stopping. */
const SETTLE_TOKENS = 40;
const WORKERS_PER_INSTANCE = 4;

/** openid-client talking to one instance of a deployment whose issuer is `issuer`. */
async function configFor(instance: ServerProcess, issuer: string, client: RegisteredClient): Promise<oidc.Configuration> {
  const meta = (await (await fetch(`${instance.url}/.well-known/openid-configuration`)).json()) as oidc.ServerMetadata;
  const rebased = Object.fromEntries(
    Object.entries(meta).map(([k, v]) => [k, k !== 'issuer' && typeof v === 'string' && v.startsWith(issuer) ? v.replace(issuer, instance.url) : v]),
  ) as oidc.ServerMetadata;
  const config = new oidc.Configuration(rebased, client.client_id, undefined, oidc.ClientSecretBasic(client.client_secret!));
  oidc.allowInsecureRequests(config);
  return config;
}

/**
 * A resource server's view of one instance's JWKS, as a real one keeps it: cached, and
 * fetched again (once, shared by concurrent callers) when a token names a kid it lacks.
 */
class ResourceServer {
  fetches = 0;
  #keys: Promise<JWTVerifyGetKey> | undefined;

  constructor(
    private readonly jwksUrl: string,
    private readonly issuer: string,
    private readonly audience: string,
  ) {}

  async verify(token: string): Promise<void> {
    const keys = await (this.#keys ??= this.#fetch());
    try {
      await jwtVerify(token, keys, { issuer: this.issuer, audience: this.audience });
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
      // Unknown kid: refetch, unless someone already did since we read the cache.
      if (this.#keys === undefined || (await this.#keys) === keys) this.#keys = this.#fetch();
      await jwtVerify(token, await this.#keys, { issuer: this.issuer, audience: this.audience });
    }
  }

  #fetch(): Promise<JWTVerifyGetKey> {
    this.fetches++;
    const fetched = fetch(this.jwksUrl).then(async (res) => {
      if (!res.ok) throw new Error(`JWKS ${res.status}`);
      return createLocalJWKSet((await res.json()) as JSONWebKeySet);
    });
    // A failed fetch is not cached: the next token tries again.
    fetched.catch(() => {
      if (this.#keys === fetched) this.#keys = undefined;
    });
    return fetched;
  }
}

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const backend of backends) {
  describe(`signing-key rotation under load, two instances on one ${backend.name} database`, function () {
    this.timeout(180_000);
    let a: ServerProcess | undefined;
    let b: ServerProcess | undefined;
    let env: Record<string, string>;
    let machine: RegisteredClient;

    before(async () => {
      env = await testEnv(await backend.freshDatabaseUrl(), {
        // A rotated-in key is published for 3s before it signs; each instance rereads the
        // key set every second, so the other instance publishes it before anyone signs.
        SIGNING_KEY_ACTIVATION_DELAY: '3',
        SIGNING_KEY_REFRESH_INTERVAL: '1',
        // The token endpoint's per-client budget is not under test here.
        RATE_LIMIT_TOKEN_PER_CLIENT: '1000000',
      });
      const store = await openStore(env.DATABASE_URL!);
      machine = await registerClient(store, new Secrets(TEST_SECRET), { client_name: 'Machine', grant_types: ['client_credentials'] });
      await store.close();
      a = await spawnServer(env);
      b = await spawnServer({ ...env, PORT: String(await freePort()) });
    });
    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
    });

    it('every token either instance signs verifies against the other one\'s JWKS through two rotations', async () => {
      const instances = [a!, b!] as const;
      const issuer = env.ISSUER!;
      const audience = `${issuer}/api`;
      const configs = await Promise.all(instances.map((i) => configFor(i, issuer, machine)));
      // Tokens from A are checked with B's keys and the other way round.
      const verifiers = instances.map((_, i) => new ResourceServer(`${instances[1 - i]!.url}/jwks`, issuer, audience));
      const issued = [0, 0];
      const kidsSeen = [new Set<string>(), new Set<string>()];
      const tokenErrors: string[] = [];
      const verifyErrors: string[] = [];
      let running = true;

      const worker = async (i: number) => {
        while (running) {
          let token: string;
          try {
            token = (await oidc.clientCredentialsGrant(configs[i]!)).access_token;
          } catch (err) {
            tokenErrors.push(`instance ${i}: ${(err as Error).message}`);
            continue;
          }
          const kid = decodeProtectedHeader(token).kid!;
          try {
            await verifiers[i]!.verify(token);
          } catch (err) {
            verifyErrors.push(`token from instance ${i} with kid ${kid}: ${(err as Error).message}`);
            continue;
          }
          issued[i]!++;
          kidsSeen[i]!.add(kid);
        }
      };
      const load = Promise.all(instances.flatMap((_, i) => Array.from({ length: WORKERS_PER_INSTANCE }, () => worker(i))));
      const failed = () => tokenErrors.length + verifyErrors.length > 0;

      try {
        await until('tokens from both instances', () => failed() || issued.every((n) => n >= SETTLE_TOKENS));
        const initialKids = kidsSeen.map((s) => [...s]);
        const rotatedKids: string[] = [];
        for (let round = 1; round <= 2 && !failed(); round++) {
          const rotated = await runCli(['signing-keys', 'rotate'], env);
          assert.equal(rotated.code, 0, rotated.stderr);
          const kid = (JSON.parse(rotated.stdout) as { kid: string; alg: string }[]).find((k) => k.alg === 'ES256')!.kid;
          rotatedKids.push(kid);
          // Until both instances sign with the new key (or something fails).
          await until(`both instances to sign with the key of rotation ${round}`, () => failed() || kidsSeen.every((s) => s.has(kid)));
        }
        const settled = [...issued];
        await until('more tokens after the last rotation', () => failed() || issued.every((n, i) => n >= settled[i]! + SETTLE_TOKENS));
        running = false;
        await load;

        assert.deepEqual(tokenErrors, [], 'every token request succeeded');
        assert.deepEqual(verifyErrors, [], 'every token verified against the other instance\'s JWKS');
        assert.equal(rotatedKids.length, 2);
        for (const [i, seen] of kidsSeen.entries()) {
          assert.equal(initialKids[i]!.length, 1, `instance ${i} signed with one key before rotating`);
          for (const kid of rotatedKids) assert.ok(seen.has(kid), `instance ${i} signed with rotated key ${kid}`);
        }
        // Each resource server met each new kid after its last fetch and went back for it.
        for (const v of verifiers) assert.ok(v.fetches >= 3, `the resource server refetched the JWKS for each new key (${v.fetches} fetches)`);
      } finally {
        running = false;
        await load;
      }
    });
  });
}
