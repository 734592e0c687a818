import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_TUNING } from '../../bench/lib/runtime-tuning.js';
import { testEnv } from '../helpers/gatehouse.js';
import { spawnServer, type ServerProcess } from '../helpers/processes.js';

const root = new URL('../../', import.meta.url);

describe('the production build', function () {
  this.timeout(120_000);
  let server: ServerProcess;

  before(async () => {
    execFileSync(process.execPath, [new URL('bin/build.js', root).pathname], { stdio: 'pipe' });
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-build-'));
    server = await spawnServer(await testEnv(`sqlite:${join(dir, 'gatehouse.db')}`, { NODE_ENV: 'production' }));
  });
  after(() => server?.stop());

  it('runs the compiled dist/ and serves discovery, the API document and hosted pages', async () => {
    assert.match(server.output(), /"code":"compiled"/);
    const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as { issuer: string };
    assert.equal(discovery.issuer, server.url);
    const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
    const openapi = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as { info: { version: string } };
    assert.equal(openapi.info.version, version);
    const page = await fetch(`${server.url}/account/register`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form/);
  });

  it('is measured by the benchmarks with the memory tuning the container image sets', () => {
    // docs/benchmarks.md reports peak RSS as the image runs; a tuning changed in one place only would make that untrue.
    const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
    const assignments = dockerfile.matchAll(/^\s*(?:ENV\s+)?([A-Z_]+)=(?:"([^"]*)"|(\S+?))\s*\\?$/gm);
    const imageEnv = new Map([...assignments].map((m) => [m[1]!, m[2] ?? m[3]!]));
    for (const [name, value] of Object.entries(IMAGE_TUNING)) assert.equal(imageEnv.get(name), value, `Dockerfile ENV ${name}`);
  });
});
