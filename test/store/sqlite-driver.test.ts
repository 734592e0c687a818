import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openConnection } from '../../adapters/sqlite/connection.js';
import { driverPackage } from '../../adapters/sqlite/driver.js';

describe('SQLite driver choice', () => {
  it('loads better-sqlite3 12 before Node 22 and the Node-API build (13) from Node 22 on', () => {
    assert.equal(driverPackage('20.19.0'), 'better-sqlite3');
    assert.equal(driverPackage('20.20.2'), 'better-sqlite3');
    assert.equal(driverPackage('22.0.0'), 'better-sqlite3-napi');
    assert.equal(driverPackage('24.21.0'), 'better-sqlite3-napi');
  });

  it(`survives statements collected while the process idles (Node ${process.versions.node})`, () => {
    // On Node 24.19+, better-sqlite3 12 aborts here within half a second: an idle-time GC
    // finalises the dropped statements outside any JS context (nodejs/node#65446).
    const driver = new URL('../../adapters/sqlite/driver.ts', import.meta.url).href;
    const script = `
      const { Database } = await import(${JSON.stringify(driver)});
      const db = new Database(':memory:');
      db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)');
      let garbage = [];
      for (let i = 0; i < 20000; i++) {
        db.prepare('INSERT OR REPLACE INTO t VALUES (?, ?)').run('k' + (i % 100), 'v');
        garbage.push(new Array(50).fill(i));
      }
      garbage = null;
      setTimeout(() => { db.close(); process.stdout.write('ok'); }, 1000);`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(child.signal, null, `killed by ${child.signal}: ${child.stderr.slice(0, 500)}`);
    assert.equal(child.status, 0, child.stderr.slice(0, 500));
    assert.equal(child.stdout, 'ok');
  });
});

describe('SQLite connection', () => {
  const FULL = 2;

  it('syncs every commit to disk (synchronous=FULL), on a new file and on one reopened', async () => {
    // better-sqlite3 lowers SQLite's WAL default to NORMAL, and applies it at the first
    // write: a power cut could then undo a consumed refresh token or a revoked key.
    const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-sync-')), 'store.db');
    for (const open of ['new', 'reopened']) {
      const db = await openConnection(file);
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal', open);
        db.exec('CREATE TABLE IF NOT EXISTS t (v TEXT)');
        db.prepare('INSERT INTO t VALUES (?)').run(open);
        assert.equal(db.pragma('synchronous', { simple: true }), FULL, `${open} file, after a write`);
      } finally {
        db.close();
      }
    }
  });
});
