import assert from 'node:assert/strict';
import { Database } from '../../adapters/sqlite/driver.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../adapters/sqlite/index.js';
import { runStoreContract } from './contract.js';

const dirs: string[] = [];
const freshPath = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-'));
  dirs.push(dir);
  return join(dir, 'test.db');
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

runStoreContract('sqlite', async () => openSqliteStore(`sqlite:${freshPath()}`));

/**
 * Starts a process that loads the driver, says `ready`, and opens the store at `url` when
 * told `go` on stdin: the opening itself, migrations included, then starts on cue.
 */
async function processAboutToOpen(url: string) {
  const driver = new URL('../../adapters/sqlite/index.ts', import.meta.url).href;
  const script = `import { openSqliteStore } from ${JSON.stringify(driver)};
    process.stdin.once('data', async () => {
      try { await (await openSqliteStore(process.env.STORE_URL)).close(); process.exit(0); }
      catch (err) { console.error(err.message); process.exit(1); }
    });
    console.log('ready');`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, STORE_URL: url }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  await once(child.stdout, 'data');
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number, stderr }));
  return { go: () => child.stdin.end('go\n'), exited };
}

describe('sqlite migrations', () => {
  it('lets several processes open a fresh database at once: each migration runs once', async function () {
    this.timeout(60_000);
    for (let round = 0; round < 2; round++) {
      const url = `sqlite:${freshPath()}`;
      const processes = await Promise.all([1, 2, 3, 4].map(() => processAboutToOpen(url)));
      processes.forEach((p) => p.go());
      const results = await Promise.all(processes.map((p) => p.exited));
      assert.deepEqual(results, processes.map(() => ({ code: 0, stderr: '' })));
      const db = new Database(url.slice('sqlite:'.length), { readonly: true });
      const columns = db.pragma('table_info(attempts)') as { name: string }[];
      db.close();
      assert.equal(columns.filter((c) => c.name === 'weight').length, 1);
    }
  });

  it('upgrades a database made before versioned migrations, keeping its data', async () => {
    const path = freshPath();
    // The first release's schema, written without PRAGMA user_version.
    const old = new Database(path);
    old.exec(`CREATE TABLE oidc (model TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL, grant_id TEXT, uid TEXT,
      user_code TEXT, expires_at INTEGER, consumed_at INTEGER, PRIMARY KEY (model, id));
      CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, email_verified INTEGER NOT NULL DEFAULT 0, name TEXT,
      password_hash TEXT, is_admin INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
      INSERT INTO oidc (model, id, payload) VALUES ('Session', 's1', '{"accountId":"a1"}');
      INSERT INTO users VALUES ('a1', 'old@example.com', 0, NULL, NULL, 0, 1, 1);
      INSERT INTO users VALUES ('a2', 'boss@example.com', 1, NULL, NULL, 1, 1, 1);`);
    old.close();

    const store = await openSqliteStore(`sqlite:${path}`);
    try {
      assert.deepEqual(await store.oidc.find('Session', 's1'), { accountId: 'a1' });
      assert.equal((await store.users.findByEmail('old@example.com'))?.id, 'a1');
      const roles = (await store.users.list({ limit: 10 })).map((u) => [u.id, u.role, u.status]);
      assert.deepEqual(roles, [['a2', 'admin', 'active'], ['a1', 'viewer', 'active']], 'is_admin becomes a role');
      await store.oidc.upsert('Session', 's2', { accountId: 'a1' }, 60);
      await store.oidc.revokeByAccount('a1');
      assert.equal(await store.oidc.find('Session', 's2'), undefined);
      assert.equal(await store.oidc.find('Session', 's1'), undefined, 'rows from before the upgrade are found by account too');
    } finally {
      await store.close();
    }
    const reopened = await openSqliteStore(`sqlite:${path}`);
    await reopened.close();
  });
});
