import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig } from '../src/config.js';
import { runCli } from './helpers/processes.js';
import { freePort } from './helpers/free-port.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
};

describe('configuration', () => {
  it('defaults to the embedded store on port 3000 with a localhost issuer', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
    assert.equal(config.issuer, 'http://localhost:3000');
    assert.equal(config.databaseUrl, 'sqlite:./data/gatehouse.db');
    assert.ok(Object.isFrozen(config));
  });

  it('reports every problem at once, one line each naming the variable and an example', () => {
    const problems = problemsOf({ PORT: 'eighty', DATABASE_URL: 'postgres://db', ISSUER: 'not a url', LOG_LEVEL: 'loud' });
    assert.equal(problems.length, 4);
    assert.ok(problems.some((p) => p.startsWith('PORT:') && /e\.g\. 3000/.test(p)));
    assert.ok(problems.some((p) => p.startsWith('DATABASE_URL:') && /sqlite:/.test(p)));
    assert.ok(problems.some((p) => p.startsWith('ISSUER:')));
    assert.ok(problems.some((p) => p.startsWith('LOG_LEVEL:')));
  });

  it('in production refuses an http issuer and a missing GATEHOUSE_SECRET', () => {
    const problems = problemsOf({ NODE_ENV: 'production', ISSUER: 'http://login.example.com' });
    assert.ok(problems.some((p) => p.startsWith('ISSUER:') && /https/.test(p)));
    assert.ok(problems.some((p) => p.startsWith('GATEHOUSE_SECRET:')));
  });

  it('in production accepts https, and http on localhost', () => {
    const secret = 'x'.repeat(40);
    assert.equal(loadConfig({ NODE_ENV: 'production', ISSUER: 'https://login.example.com', GATEHOUSE_SECRET: secret }).issuer, 'https://login.example.com');
    assert.equal(loadConfig({ NODE_ENV: 'production', ISSUER: 'http://localhost:3000', GATEHOUSE_SECRET: secret }).issuer, 'http://localhost:3000');
  });

  it('refuses a short secret, a half-set admin, and a non-URL resource', () => {
    const problems = problemsOf({ GATEHOUSE_SECRET: 'short', ADMIN_EMAIL: 'a@example.com', RESOURCES: 'https://ok.example, nope' });
    assert.ok(problems.some((p) => p.startsWith('GATEHOUSE_SECRET:')));
    assert.equal(problemsOf({ ADMIN_EMAIL: 'a@example.com', RESOURCES: 'https://ok.example, nope' }).length, 2);
  });

  it('refuses a key activation delay no longer than the key refresh interval', () => {
    assert.deepEqual(problemsOf({ SIGNING_KEY_ACTIVATION_DELAY: '60', SIGNING_KEY_REFRESH_INTERVAL: '60' }).map((p) => p.split(':')[0]), ['SIGNING_KEY_ACTIVATION_DELAY']);
    assert.equal(loadConfig({ SIGNING_KEY_ACTIVATION_DELAY: '61', SIGNING_KEY_REFRESH_INTERVAL: '60' }).signingKeys.activationDelay, 61);
  });

  it('takes WORKERS as a number of processes or auto', () => {
    assert.equal(loadConfig({ WORKERS: '3' }).workers, 3);
    assert.ok(loadConfig({ WORKERS: 'auto' }).workers >= 1);
    assert.deepEqual(problemsOf({ WORKERS: 'many' }).map((p) => p.split(':')[0]), ['WORKERS']);
  });

  it('takes PASSWORD_HASH_CONCURRENCY as a whole number, defaulting to the usable CPUs', () => {
    assert.equal(loadConfig({ PASSWORD_HASH_CONCURRENCY: '3' }).passwordHashConcurrency, 3);
    assert.equal(loadConfig({}).passwordHashConcurrency, availableParallelism());
    for (const bad of ['0', '1.5', 'two', '1000']) {
      assert.deepEqual(problemsOf({ PASSWORD_HASH_CONCURRENCY: bad }), ['PASSWORD_HASH_CONCURRENCY: must be a whole number from 1 to 256, e.g. 2'], bad);
    }
  });

  it('takes JWT_CACHE_SIZE as a whole number, 0 turning the cache off', () => {
    assert.equal(loadConfig({}).jwtCacheSize, 10_000);
    assert.equal(loadConfig({ JWT_CACHE_SIZE: '0' }).jwtCacheSize, 0);
    for (const bad of ['-1', '2.5', 'lots']) {
      assert.deepEqual(problemsOf({ JWT_CACHE_SIZE: bad }), ['JWT_CACHE_SIZE: must be a whole number, e.g. 10000, or 0 to turn it off'], bad);
    }
  });

  describe('at start', function () {
    this.timeout(30_000);
    it('an invalid DATABASE_URL stops the server with a clear line and no stack trace', async () => {
      const result = await runCli(['serve'], { DATABASE_URL: 'postgres://db', PORT: String(await freePort()) });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^config error: DATABASE_URL: must be sqlite:<path> or a mongodb:\/\/ URL/m);
      assert.doesNotMatch(result.stderr + result.stdout, /\n\s+at /);
    });

    it('an unreachable MongoDB stops the server with one clear error', async () => {
      const closed = await freePort();
      const result = await runCli(['serve'], { DATABASE_URL: `mongodb://127.0.0.1:${closed}/gh`, PORT: String(await freePort()), GATEHOUSE_SECRET: 'y'.repeat(40) });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^startup error: /m);
      assert.doesNotMatch(result.stderr + result.stdout, /\n\s+at /);
    });
  });
});
