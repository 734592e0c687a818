/** What the orchestrator and the baseline servers agree on. */
export const BASELINE_CLIENT = { client_id: 'bench', client_secret: 'bench-secret-bench-secret-bench-secret-0123' };
export const BASELINE_REDIRECT = 'https://rp.bench.test/callback';

/**
 * Exit normally on SIGTERM (the orchestrator's stop) so that `--cpu-prof` writes its
 * profile: Node's default SIGTERM handling ends the process without it.
 */
export function exitCleanlyOnSigterm(): void {
  process.once('SIGTERM', () => process.exit(0));
}
