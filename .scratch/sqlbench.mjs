import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
const dir = mkdtempSync('/tmp/sqlb-');
const db = new Database(dir + '/x.db');
db.pragma('journal_mode = WAL'); db.pragma('synchronous = ' + (process.argv[2] || 'FULL'));
db.exec(`CREATE TABLE oidc (model TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL, grant_id TEXT, uid TEXT, user_code TEXT, expires_at INTEGER, consumed_at INTEGER, account_id TEXT, PRIMARY KEY (model, id));
CREATE INDEX g ON oidc (model, grant_id) WHERE grant_id IS NOT NULL; CREATE INDEX u ON oidc (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX e ON oidc (expires_at) WHERE expires_at IS NOT NULL; CREATE INDEX a ON oidc (account_id) WHERE account_id IS NOT NULL;`);
const up = db.prepare('INSERT INTO oidc (model,id,payload,grant_id,account_id,expires_at) VALUES (?,?,?,?,?,?) ON CONFLICT (model,id) DO UPDATE SET payload=excluded.payload');
const payload = JSON.stringify({ x: randomBytes(300).toString('base64') });
const one = () => up.run('RefreshToken', randomBytes(32).toString('base64url'), payload, randomBytes(16).toString('hex'), 'acc', Date.now() + 1e6);
for (let i = 0; i < 2000; i++) one();
const N = 6000;
for (const batch of [1, 2, 4, 8, 16]) {
  const tx = db.transaction(() => { for (let j = 0; j < batch; j++) one(); });
  const c0 = process.cpuUsage(); const t0 = process.hrtime.bigint();
  for (let i = 0; i < N / batch; i++) tx();
  const wall = Number(process.hrtime.bigint() - t0) / 1e3 / N; const cpu = process.cpuUsage(c0); 
  console.log(`batch ${batch}: wall ${wall.toFixed(1)} µs/write, cpu ${((cpu.user + cpu.system) / N).toFixed(1)} µs/write`);
}
