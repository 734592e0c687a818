import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { UserRecord } from '../../src/store/port.js';
import { backends } from '../helpers/backends.js';
import { TEST_PASSWORD } from '../helpers/gatehouse.js';
import { mailingFixture } from '../helpers/mailing-fixture.js';
import { login } from '../helpers/relying-party.js';
import { UserAgent, type Page } from '../helpers/user-agent.js';

const REDIRECT = 'https://app.example.test/callback';

for (const backend of backends) {
  describe(`avatars on ${backend.name}`, function () {
    this.timeout(60_000);
    const fx = mailingFixture(backend, REDIRECT);

    async function signedIn(): Promise<{ user: UserRecord; agent: UserAgent; page: Page }> {
      const user = await fx.server.createUser();
      const agent = new UserAgent();
      const loginPage = await agent.open(`${fx.server.issuer}/account`);
      const page = await agent.submit(loginPage, '/login', { email: user.email, password: TEST_PASSWORD });
      return { user, agent, page };
    }

    async function upload(agent: UserAgent, page: Page, bytes: Buffer, filename: string, csrf?: string): Promise<Response> {
      const form = new FormData();
      form.set('csrf', csrf ?? /name="csrf" value="([^"]+)"/.exec(page.html)![1]!);
      form.set('avatar', new Blob([new Uint8Array(bytes)]), filename);
      return agent.request(`${fx.server.issuer}/account/avatar`, { method: 'POST', body: form });
    }

    it('stores a 256×256 WebP re-encoding of the upload, serves it, and tools get it as `picture`', async () => {
      const { user, agent, page } = await signedIn();
      const photo = await sharp({ create: { width: 600, height: 400, channels: 3, background: '#3366cc' } })
        .withMetadata({ exif: { IFD0: { Copyright: 'secret-exif-marker' } } })
        .jpeg()
        .toBuffer();
      assert.ok(photo.includes('secret-exif-marker'), 'the upload carries EXIF metadata');
      const res = await upload(agent, page, photo, 'me.jpg');
      assert.equal(res.status, 303);

      const account = await agent.open(`${fx.server.issuer}/account`);
      const src = /<img src="([^"]+)" alt="Your picture"/.exec(account.html)![1]!;
      const served = await fetch(src);
      assert.equal(served.headers.get('content-type'), 'image/webp');
      const bytes = Buffer.from(await served.arrayBuffer());
      const meta = await sharp(bytes).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 256, 256]);
      assert.ok(!bytes.includes('secret-exif-marker'), 'no uploaded metadata is served back');

      const { tokens } = await login(fx.config, { redirectUri: REDIRECT, email: user.email, agent });
      assert.equal(tokens.claims()!.picture, src);
    });

    it('refuses files over 2 MB, non-images and unsupported formats, with a message on the field', async () => {
      const { agent, page } = await signedIn();
      const cases: Array<[Buffer, string, RegExp]> = [
        [Buffer.alloc(2 * 1024 * 1024 + 10, 1), 'big.png', /larger than 2 MB/],
        [Buffer.from('definitely not an image'), 'fake.png', /not a picture we can read/],
        [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'), 'x.svg', /Use a JPEG, PNG, WebP or GIF/],
      ];
      for (const [bytes, name, message] of cases) {
        const res = await upload(agent, page, bytes, name);
        assert.equal(res.status, 400, name);
        assert.match(await res.text(), message);
      }
    });

    it('refuses an upload without the CSRF token', async () => {
      const { agent, page } = await signedIn();
      const png = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#000' } }).png().toBuffer();
      assert.equal((await upload(agent, page, png, 'a.png', 'forged')).status, 403);
    });

    it('removes the picture: the address is gone and tools no longer get `picture`', async () => {
      const { user, agent, page } = await signedIn();
      const png = await sharp({ create: { width: 300, height: 300, channels: 4, background: '#ff000080' } }).png().toBuffer();
      await upload(agent, page, png, 'a.png');
      const withPicture = await agent.open(`${fx.server.issuer}/account`);
      const src = /<img src="([^"]+)"/.exec(withPicture.html)![1]!;
      await agent.submit(withPicture, '/account/avatar/remove');
      assert.equal((await fetch(src)).status, 404);
      const { tokens } = await login(fx.config, { redirectUri: REDIRECT, email: user.email, agent });
      assert.equal(tokens.claims()!.picture, undefined);
      assert.equal(await fx.server.store.avatars.get(user.id), undefined);
    });
  });
}
