#!/usr/bin/env node
// Entry point for the `gatehouse` command. Sources are TypeScript run through tsx,
// so a fresh clone needs no build step before `npm start`.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
