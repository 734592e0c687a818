import type * as oidc from 'openid-client';
import type { Backend } from './backends.js';
import { startTestServer, type TestServer } from './gatehouse.js';
import { discover } from './relying-party.js';
import { startSmtpServer, type TestSmtpServer } from './smtp-server.js';

export interface MailingFixture {
  readonly smtp: TestSmtpServer;
  readonly server: TestServer;
  /** openid-client configured for a confidential test client redirecting to `redirectUri`. */
  readonly config: oidc.Configuration;
}

/**
 * Registers mocha hooks for the account suites: a real SMTP server, Gatehouse on a fresh
 * database of `backend` sending its mail there, and one registered tool. Read the fields
 * inside tests (they are set in `before`).
 */
export function mailingFixture(backend: Backend, redirectUri: string, env: Record<string, string> = {}): MailingFixture {
  const fixture = {} as { smtp: TestSmtpServer; server: TestServer; config: oidc.Configuration };
  before(async () => {
    fixture.smtp = await startSmtpServer();
    fixture.server = await startTestServer(await backend.freshDatabaseUrl(), { SMTP_URL: fixture.smtp.url, ...env });
    fixture.config = await discover(fixture.server.issuer, await fixture.server.createClient({ redirect_uris: [redirectUri] }));
  });
  after(async () => {
    await fixture.server?.stop();
    await fixture.smtp?.stop();
  });
  return fixture;
}
