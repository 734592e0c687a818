import type { AvatarRecord, Store } from '../store/port.js';

export const AVATAR_MAX_BYTES = 2 * 1024 * 1024;
export const AVATAR_SIZE = 256;
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif']);

export class AvatarError extends Error {
  override name = 'AvatarError';
}

/**
 * Turns an upload into the stored picture: the format is read from the bytes (never the
 * declared type), and the image is decoded and re-encoded as a 256×256 WebP, so nothing
 * the person sent, metadata included, is ever served back. Decoding is capped in pixels
 * so a tiny file cannot expand into a huge bitmap.
 */
export async function processAvatar(upload: Buffer, now = Date.now()): Promise<AvatarRecord> {
  if (upload.length > AVATAR_MAX_BYTES) throw new AvatarError('The picture is larger than 2 MB.');
  // Loaded on the first upload, not at start: the image library is the heaviest import.
  const { default: sharp } = await import('sharp');
  let format: string | undefined;
  try {
    format = (await sharp(upload, { limitInputPixels: 50_000_000 }).metadata()).format;
  } catch {
    throw new AvatarError('That file is not a picture we can read.');
  }
  if (!format || !ACCEPTED_FORMATS.has(format)) throw new AvatarError('Use a JPEG, PNG, WebP or GIF picture.');
  try {
    const image = await sharp(upload, { limitInputPixels: 50_000_000, animated: false })
      .rotate() // honour EXIF orientation before the metadata is dropped
      .resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'cover' })
      .webp({ quality: 82 })
      .toBuffer();
    return { image, contentType: 'image/webp', updatedAt: now };
  } catch {
    throw new AvatarError('That picture could not be processed.');
  }
}

/** Where an uploaded avatar is served; the version busts caches when it changes. */
export const avatarUrl = (issuer: string, userId: string, updatedAt: number) => `${issuer}/account/avatar/${userId}?v=${updatedAt}`;

/**
 * The person's picture as tools see it: their uploaded avatar, else an upstream
 * account's picture, else none. Reads no image bytes.
 */
export async function pictureUrl(store: Store, issuer: string, userId: string): Promise<string | null> {
  const version = await store.avatars.version(userId);
  if (version !== undefined) return avatarUrl(issuer, userId, version);
  return (await store.identities.listForUser(userId)).find((i) => i.picture)?.picture ?? null;
}
