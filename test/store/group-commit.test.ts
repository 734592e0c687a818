import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../../adapters/sqlite/driver.js';
import { GroupCommit } from '../../adapters/sqlite/group-commit.js';
import { openSqliteStore } from '../../adapters/sqlite/index.js';

/** Frames in the write-ahead log: each commit appends the pages it changed. */
const walFrames = (db: Database) => (db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>)[0]!.log;

describe('SQLite group commit', () => {
  let file: string;
  let db: Database;
  let other: Database;
  let commits: GroupCommit;

  beforeEach(() => {
    file = join(mkdtempSync(join(tmpdir(), 'gatehouse-group-commit-')), 'store.db');
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    other = new Database(file);
    commits = new GroupCommit(db);
  });
  afterEach(() => {
    other.close();
    db.close();
  });

  const insert = (id: number, v = 'x') => () => db.prepare('INSERT INTO t (id, v) VALUES (?, ?)').run(id, v).changes;
  const rowsSeenElsewhere = () => (other.prepare('SELECT id FROM t ORDER BY id').all() as Array<{ id: number }>).map((r) => r.id);

  it('commits writes issued together once, and each is durable when its promise settles', async () => {
    db.pragma('wal_checkpoint(TRUNCATE)');
    for (let id = 1; id <= 10; id++) await commits.write(insert(id));
    const oneByOne = walFrames(db);

    db.pragma('wal_checkpoint(TRUNCATE)');
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => commits.write(insert(11 + i))));
    const together = walFrames(db);

    assert.deepEqual(results, Array(10).fill(1));
    assert.deepEqual(rowsSeenElsewhere(), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.ok(oneByOne >= 10, `ten separate commits: ${oneByOne} frames`);
    assert.ok(together <= 2, `one shared commit: ${together} frames`);
  });

  it('rejects a failing write alone and undoes all of it, keeping the others in its commit', async () => {
    await commits.write(insert(1));
    const failing = () => {
      insert(50)();
      return insert(1)(); // the primary key exists: the whole write must be undone
    };
    const [before, failed, after] = await Promise.allSettled([commits.write(insert(2)), commits.write(failing), commits.write(insert(3))]);
    assert.equal(before.status, 'fulfilled');
    assert.equal(after.status, 'fulfilled');
    assert.equal(failed.status, 'rejected');
    assert.match(String((failed as PromiseRejectedResult).reason), /UNIQUE constraint failed/);
    assert.deepEqual(rowsSeenElsewhere(), [1, 2, 3]);
  });

  it('makes a lone write atomic too: one that fails leaves nothing', async () => {
    await commits.write(insert(1));
    await assert.rejects(
      commits.write(() => {
        insert(2)();
        return insert(1)();
      }),
      /UNIQUE constraint failed/,
    );
    assert.deepEqual(rowsSeenElsewhere(), [1]);
  });

  it('rejects every write of a commit that cannot be made, and makes none of them', async () => {
    db.pragma('busy_timeout = 50');
    other.prepare('BEGIN IMMEDIATE').run(); // another process holds the write lock
    const outcomes = await Promise.allSettled([commits.write(insert(1)), commits.write(insert(2))]);
    other.prepare('ROLLBACK').run();
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
    assert.match(String((outcomes[0] as PromiseRejectedResult).reason), /database is locked/);
    assert.deepEqual(rowsSeenElsewhere(), []);
  });

  it('carries every kind of write the store makes: administrative ones share commits too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-group-commit-store-'));
    const path = join(dir, 'gatehouse.db');
    const store = await openSqliteStore(`sqlite:${path}`);
    const log = new Database(path);
    const framesFor = async (writes: () => Promise<unknown>) => {
      log.pragma('wal_checkpoint(TRUNCATE)');
      await writes();
      return walFrames(log);
    };
    const user = (n: number) => ({ id: `u${n}`, email: `person${n}@example.com`, emailVerified: false, name: 'Ada', passwordHash: null, role: 'viewer' as const });
    const many = <T>(make: (n: number) => Promise<T>) => Promise.all(Array.from({ length: 20 }, (_, n) => make(n)));
    try {
      const oneByOne = await framesFor(async () => {
        for (let n = 100; n < 120; n++) await store.users.create(user(n));
      });
      const together = {
        'users.create': await framesFor(() => many((n) => store.users.create(user(n)))),
        'users.setEmailVerified': await framesFor(() => many((n) => store.users.setEmailVerified(`u${n}`))),
        'clients.upsert': await framesFor(() => many((n) => store.clients.upsert({ clientId: `c${n}`, metadata: {}, secretCiphertext: null }))),
        'secondFactors.claimTotpStep': await framesFor(() => many((n) => store.secondFactors.claimTotpStep(`u${n}`, 1, Date.now() + 60_000))),
        'identities.link': await framesFor(() =>
          many((n) => store.identities.link({ userId: `u${n}`, provider: 'github', subject: `${n}`, email: null, name: null, picture: null, createdAt: n })),
        ),
      };
      assert.ok(oneByOne >= 20, `twenty separate commits: ${oneByOne} frames`);
      for (const [kind, frames] of Object.entries(together)) assert.ok(frames <= 4, `twenty ${kind} at once: ${frames} frames`);
      assert.equal(await store.users.count(), 40);
    } finally {
      log.close();
      await store.close();
    }
  });

  it('is flushed by the store when it closes: writes still queued are committed first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-group-commit-store-'));
    const url = `sqlite:${join(dir, 'gatehouse.db')}`;
    const store = await openSqliteStore(url);
    const queued = [store.oidc.upsert('Session', 's1', { accountId: 'u1' }, 3600), store.oidc.upsert('Session', 's2', { accountId: 'u1' }, 3600)];
    await store.close();
    await Promise.all(queued);
    const reopened = await openSqliteStore(url);
    try {
      assert.equal((await reopened.oidc.find('Session', 's1'))?.accountId, 'u1');
      assert.equal((await reopened.oidc.find('Session', 's2'))?.accountId, 'u1');
    } finally {
      await reopened.close();
    }
  });
});
