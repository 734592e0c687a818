import { stopSharedMongo } from './backends.js';

/** Mocha root hooks: shared servers started lazily by suites are stopped once, at the end. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(20_000);
    await stopSharedMongo();
  },
};
