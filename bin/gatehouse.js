#!/usr/bin/env node
// Entry point for the `gatehouse` command. In production it runs the compiled dist/
// (built by `npm ci` / `npm run build`); everywhere else, or when there is no build, the
// TypeScript sources run through tsx, so a fresh clone needs no build step and edits
// show on the next start.
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli.js', import.meta.url);
if (process.env.NODE_ENV === 'production' && existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
