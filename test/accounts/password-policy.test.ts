import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { checkPassword, type PasswordVerdict } from '../../src/accounts/password-policy.js';
import { MAX_PASSWORD_LENGTH } from '../../src/accounts/passwords.js';

const refusedWith = (verdict: PasswordVerdict, code: string) => {
  assert.equal(verdict.ok, false, 'expected a refusal');
  if (!verdict.ok) {
    assert.equal(verdict.code, code);
    assert.match(verdict.message, /^[A-Z].*\.$/, 'the message is a sentence to show under the field');
  }
};

describe('password policy', () => {
  describe('common passwords', () => {
    // Each of these is on the bundled list and long enough to pass the length rule.
    for (const password of ['password1234', '123456789012', 'qwertyuiop12', 'passwordpassword']) {
      it(`refuses "${password}" as common`, () => {
        refusedWith(checkPassword(password), 'common');
      });
    }

    it('matches the list case-insensitively', () => {
      refusedWith(checkPassword('PassWord1234'), 'common');
      refusedWith(checkPassword('QWERTYUIOP12'), 'common');
    });

    it('matches full-width look-alikes of a listed password (NFKC)', () => {
      refusedWith(checkPassword('ｐａｓｓｗｏｒｄ１２３４'), 'common');
    });

    it('matches entries from the part of the list with CRLF line ends', () => {
      // Only in that part of the file: a split on LF alone would keep "\r" on them.
      refusedWith(checkPassword('omnamahshivay'), 'common');
      refusedWith(checkPassword('cathrinabaradia'), 'common');
    });

    it('keeps the list in under 6 MB of heap once loaded', () => {
      // A fresh process, since this one may have loaded the list already. As a Set of
      // strings, with the text kept alive by a RegExp split, it held 20 MB.
      const policy = new URL('../../src/accounts/password-policy.ts', import.meta.url).href;
      const script = `
        const { checkPassword } = await import(${JSON.stringify(policy)});
        gc(); gc();
        const before = process.memoryUsage().heapUsed;
        checkPassword('long enough to reach the list');
        gc(); gc();
        process.stdout.write(String(process.memoryUsage().heapUsed - before));`;
      const args = ['--expose-gc', '--import', 'tsx', '--input-type=module', '--eval', script];
      const retained = Number(execFileSync(process.execPath, args, { encoding: 'utf8' }));
      assert.ok(retained > 1e6, `the list was loaded: ${retained} bytes`);
      assert.ok(retained < 6e6, `retained ${(retained / 1e6).toFixed(1)} MB`);
    });

    it('says so in a sentence for the form', () => {
      assert.deepEqual(checkPassword('password1234'), {
        ok: false,
        code: 'common',
        message: 'This password is too common; choose another.',
      });
    });
  });

  it('accepts a long random passphrase', () => {
    assert.deepEqual(checkPassword('lantern-quiet-ochre-marmot-41'), { ok: true });
  });

  it('has no composition rules: 20 lowercase letters that are not common are fine', () => {
    assert.deepEqual(checkPassword('mxqzbvtrplkwhdgfncsy'), { ok: true });
  });

  describe('length', () => {
    it('refuses 11 code points and accepts 12 by default', () => {
      assert.deepEqual(checkPassword('kq7vhz2mrx9'), {
        ok: false,
        code: 'too_short',
        message: 'Use at least 12 characters.',
      });
      assert.deepEqual(checkPassword('kq7vhz2mrx9w'), { ok: true });
    });

    it('counts code points, not UTF-16 units', () => {
      const twelveEmoji = '🦊🌵🎻🧭🍋🛶🪁🦉🌋🎲🧩🐙';
      assert.equal(twelveEmoji.length, 24);
      assert.deepEqual(checkPassword(twelveEmoji), { ok: true });
      const sixEmoji = '🦊🌵🎻🧭🍋🛶';
      assert.equal(sixEmoji.length, 12);
      refusedWith(checkPassword(sixEmoji), 'too_short');
    });

    it('lets a deployment raise the minimum but not go below 8', () => {
      refusedWith(checkPassword('kq7vhz2mrx9w', {}, { minLength: 16 }), 'too_short');
      assert.deepEqual(checkPassword('kq7vhz2mrx9wtb4n', {}, { minLength: 16 }), { ok: true });
      assert.deepEqual(checkPassword('kq7vhz2m', {}, { minLength: 8 }), { ok: true });
      const tooShort = checkPassword('kq7vhz2', {}, { minLength: 4 });
      refusedWith(tooShort, 'too_short');
      assert.equal(!tooShort.ok && tooShort.message, 'Use at least 8 characters.');
    });

    it(`accepts ${MAX_PASSWORD_LENGTH} characters and refuses one more`, () => {
      assert.deepEqual(checkPassword('kq7vhz2mrx9w'.repeat(100).slice(0, MAX_PASSWORD_LENGTH)), { ok: true });
      refusedWith(checkPassword('x'.repeat(MAX_PASSWORD_LENGTH + 1)), 'too_long');
    });

    it('refuses a 1 MB password as too long', () => {
      refusedWith(checkPassword('a'.repeat(1024 * 1024)), 'too_long');
    });
  });

  describe('identity', () => {
    const email = 'alice.smith@example.com';

    it("refuses a password containing the email's local part, in any case", () => {
      assert.deepEqual(checkPassword('alice.smith-rocks-2024', { email }), {
        ok: false,
        code: 'contains_identity',
        message: "Don't use your email address in your password.",
      });
      refusedWith(checkPassword('my-ALICE.SMITH-password', { email }), 'contains_identity');
    });

    it('refuses the email itself', () => {
      refusedWith(checkPassword(email, { email }), 'contains_identity');
      refusedWith(checkPassword('bo@example.com', { email: 'Bo@Example.com' }), 'contains_identity');
    });

    it('ignores a "+tag" sub-address when looking for the local part', () => {
      refusedWith(checkPassword('aliceinwonderland', { email: 'alice+gatehouse@example.com' }), 'contains_identity');
    });

    it('does not refuse a local part under 4 characters appearing by chance', () => {
      assert.deepEqual(checkPassword('bo-is-my-favourite-name', { email: 'bo@example.com' }), { ok: true });
    });

    it('refuses a password containing a word of the name', () => {
      refusedWith(checkPassword('okafor-family-2019', { name: 'Marguerite Okafor' }), 'contains_identity');
      assert.deepEqual(checkPassword('lantern-quiet-ochre-marmot-41', { email, name: 'Marguerite Okafor' }), {
        ok: true,
      });
    });
  });
});
