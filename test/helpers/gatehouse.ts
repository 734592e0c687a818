import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerClient, type ClientInput, type RegisteredClient } from '../../src/access/clients.js';
import { createUser } from '../../src/accounts/users.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { Secrets } from '../../src/security/secrets.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { Store, UserRecord } from '../../src/store/port.js';
import { freePort } from './free-port.js';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-gatehouse-0123456789';
export const TEST_PASSWORD = 'correct horse battery staple';

/** The environment a test server starts with; tests override what they exercise. */
export async function testEnv(databaseUrl: string, overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-data-'));
  return {
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    GATEHOUSE_SECRET: TEST_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RESOURCES: 'https://api.example.test',
    // Every suite signs many people in from 127.0.0.1; the rate-limit suite sets its own.
    RATE_LIMIT_PER_IP: '100000',
    RATE_LIMIT_MAIL_PER_ADDRESS: '1000',
    // A stopping server waits for idle kept-alive connections to time out: keep stops short.
    KEEP_ALIVE_TIMEOUT: '1',
    ...overrides,
  };
}

export interface TestServer {
  readonly issuer: string;
  readonly config: Config;
  readonly store: Store;
  readonly secrets: Secrets;
  createUser(email?: string, password?: string): Promise<UserRecord>;
  createClient(input: Partial<ClientInput> & { client_name?: string }): Promise<RegisteredClient>;
  stop(): Promise<void>;
}

/** Starts Gatehouse in this process on the given store, as `npm start` would. */
export async function startTestServer(databaseUrl: string, overrides: Record<string, string> = {}): Promise<TestServer> {
  const env = await testEnv(databaseUrl, overrides);
  const config = loadConfig(env);
  const running: RunningServer = await startServer(config, createLogger(config.logLevel));
  const secrets = new Secrets(TEST_SECRET);
  let counter = 0;
  return {
    issuer: config.issuer,
    config,
    store: running.store,
    secrets,
    createUser: (email = `user${++counter}-${Date.now()}@example.com`, password = TEST_PASSWORD) =>
      createUser(running.store, { email, password, name: 'Test User' }),
    createClient: (input) => registerClient(running.store, secrets, { client_name: 'Test App', ...input }),
    async stop() {
      await running.stop();
      // Let clients' pooled keep-alive sockets see the close before a restart on this port.
      await new Promise((resolve) => setTimeout(resolve, 50));
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}
