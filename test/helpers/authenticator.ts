import { hotp, totpStep } from '../../src/mfa/totp.js';

/** Plays an authenticator app: takes the base32 key shown at enrolment and makes codes. */
export class Authenticator {
  readonly secret: Buffer;

  constructor(base32Key: string) {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = 0;
    let value = 0;
    const out: number[] = [];
    for (const char of base32Key.trim()) {
      value = (value << 5) | alphabet.indexOf(char);
      bits += 5;
      if (bits >= 8) {
        out.push((value >>> (bits - 8)) & 0xff);
        bits -= 8;
      }
    }
    this.secret = Buffer.from(out);
  }

  /** The code for the current time step, or a neighbouring one (`offset` steps away). */
  code(offset = 0): string {
    return hotp(this.secret, totpStep(Date.now()) + offset);
  }
}
