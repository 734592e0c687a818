import assert from 'node:assert/strict';
import { base32, hotp, matchTotp, otpauthUri, totpStep } from '../../src/mfa/totp.js';

// RFC 6238 Appendix B, SHA-1 seed; 6-digit values are the last six of the 8-digit ones.
const RFC_SEED = Buffer.from('12345678901234567890');

describe('TOTP (RFC 6238)', () => {
  it('matches the RFC test vectors', () => {
    for (const [seconds, code] of [[59, '287082'], [1111111109, '081804'], [1111111111, '050471'], [1234567890, '005924'], [2000000000, '279037']] as const) {
      assert.equal(hotp(RFC_SEED, totpStep(seconds * 1000)), code, `t=${seconds}`);
    }
    assert.equal(hotp(RFC_SEED, totpStep(59_000), 8), '94287082');
  });

  it('accepts one step of drift either way, nothing further, and only six digits', () => {
    const now = 1111111109 * 1000;
    const step = totpStep(now);
    assert.equal(matchTotp(RFC_SEED, hotp(RFC_SEED, step), now), step);
    assert.equal(matchTotp(RFC_SEED, hotp(RFC_SEED, step - 1), now), step - 1);
    assert.equal(matchTotp(RFC_SEED, hotp(RFC_SEED, step + 1), now), step + 1);
    assert.equal(matchTotp(RFC_SEED, hotp(RFC_SEED, step - 2), now), undefined);
    assert.equal(matchTotp(RFC_SEED, hotp(RFC_SEED, step + 2), now), undefined);
    assert.equal(matchTotp(RFC_SEED, ' 12345', now), undefined);
  });

  it('encodes base32 per RFC 4648 and builds an otpauth URI', () => {
    assert.equal(base32(Buffer.from('foobar')), 'MZXW6YTBOI');
    assert.equal(base32(RFC_SEED), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    const uri = new URL(otpauthUri(RFC_SEED, 'ada@example.com', 'Gatehouse'));
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.host, 'totp');
    assert.equal(decodeURIComponent(uri.pathname), '/Gatehouse:ada@example.com');
    assert.equal(uri.searchParams.get('secret'), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    assert.equal(uri.searchParams.get('issuer'), 'Gatehouse');
  });
});
