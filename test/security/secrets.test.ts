import assert from 'node:assert/strict';
import { Secrets } from '../../src/security/secrets.js';

const ROOT = 'test-root-secret-0123456789abcdefghijklmnop';

describe('keys derived from the root secret', () => {
  const secrets = new Secrets(ROOT);

  // Stored API keys and recovery codes are recognised by these hashes, and signed
  // cookies by these keys: a change to how keys are derived or held would lock every
  // existing key and session out after an upgrade. The vectors were taken from the
  // release that first stored them.
  it('hashes, signs and derives exactly as before, so stored keys keep working', () => {
    assert.equal(secrets.keyedHash('api-key', 'gh_live_example'), 'lLDo8cXW5bpopx07t5AmXxKaej1RsG3Ikk7AkhVVEZM');
    assert.equal(secrets.keyedHash('recovery-code', 'abcd-efgh'), 'O6Q93QmkZvUqU_9-u5kKrW53t1wPVQ6E6glzF__yjnQ');
    assert.equal(secrets.csrfToken('csrf:interaction-1'), 'NX0Vd-EnGdZK3H1SYyHZCAEBw6fpl8u5U4p4D8kfPi8');
    assert.equal(secrets.cookieSigner.sign('gatehouse.session=abc123'), 'J60MkI144v_fctW5aLTKg7IGKV0');
  });

  it('gives another root secret, and another purpose, other hashes', () => {
    const other = new Secrets(`${ROOT}-rotated`);
    assert.notEqual(other.keyedHash('api-key', 'gh_live_example'), secrets.keyedHash('api-key', 'gh_live_example'));
    assert.notEqual(secrets.keyedHash('recovery-code', 'gh_live_example'), secrets.keyedHash('api-key', 'gh_live_example'));
  });

  it('accepts a CSRF token only for the binding it was made for', () => {
    const token = secrets.csrfToken('csrf:interaction-1');
    assert.equal(secrets.verifyCsrfToken('csrf:interaction-1', token), true);
    assert.equal(secrets.verifyCsrfToken('csrf:interaction-2', token), false);
    assert.equal(secrets.verifyCsrfToken('csrf:interaction-1', token.slice(0, -1)), false);
    assert.equal(secrets.verifyCsrfToken('csrf:interaction-1', undefined), false);
  });

  it('decrypts what it encrypted, only with the same context and root secret', () => {
    const envelope = secrets.encrypt('a client secret', 'client:web');
    assert.notEqual(envelope, secrets.encrypt('a client secret', 'client:web'), 'a fresh nonce each time');
    assert.equal(secrets.decrypt(envelope, 'client:web'), 'a client secret');
    assert.throws(() => secrets.decrypt(envelope, 'client:other'));
    assert.throws(() => new Secrets(`${ROOT}-rotated`).decrypt(envelope, 'client:web'));
    const [version, iv, body, tag] = envelope.split('.');
    const flipped = `${body!.startsWith('A') ? 'B' : 'A'}${body!.slice(1)}`;
    assert.throws(() => secrets.decrypt([version, iv, flipped, tag].join('.'), 'client:web'));
  });
});
