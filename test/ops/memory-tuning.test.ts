import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { IMAGE_TUNING } from '../../bench/lib/runtime-tuning.js';

const passwords = new URL('../../src/accounts/passwords.ts', import.meta.url).href;

/**
 * MB of anonymous memory a fresh process holds after 20 password verifies more than it
 * held after the first hash. Between verifies it keeps small buffers alive, as requests
 * do, so freed hash buffers cannot simply merge back into the top of glibc's heap.
 */
function memoryLeftByVerifies(env: Record<string, string>): number {
  const script = `
    import { readFileSync } from 'node:fs';
    const { hashPassword, verifyPassword } = await import(${JSON.stringify(passwords)});
    const anonymousMB = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    const hash = await hashPassword('a passphrase long enough');
    const requestData = [];
    const before = anonymousMB();
    for (let i = 0; i < 20; i++) {
      await verifyPassword(hash, 'a passphrase long enough');
      requestData.push(Buffer.alloc(64 * 1024, i));
    }
    process.stdout.write(String(anonymousMB() - before));`;
  const args = ['--import', 'tsx', '--input-type=module', '--eval', script];
  return Number(execFileSync(process.execPath, args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } }));
}

describe("the container image's memory tuning", function () {
  this.timeout(60_000);

  before(function () {
    // GLIBC_TUNABLES is glibc's, and /proc/self/status Linux's.
    const { header } = process.report.getReport() as { header: { glibcVersionRuntime?: string } };
    if (process.platform !== 'linux' || !header.glibcVersionRuntime) this.skip();
  });

  it("gives each password hash's 19 MiB back when the hash ends", () => {
    const left = memoryLeftByVerifies(IMAGE_TUNING);
    assert.ok(left < 8, `${left.toFixed(1)} MB left after 20 verifies`);
  });

  it('is needed: without GLIBC_TUNABLES glibc keeps a hash buffer or more', () => {
    // If this fails, glibc no longer keeps freed hash buffers, and the setting can go.
    const left = memoryLeftByVerifies({ ...IMAGE_TUNING, GLIBC_TUNABLES: '' });
    assert.ok(left > 19, `${left.toFixed(1)} MB left after 20 verifies`);
  });
});
