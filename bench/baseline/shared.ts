/** What the orchestrator and the baseline servers agree on. */
export const BASELINE_CLIENT = { client_id: 'bench', client_secret: 'bench-secret-bench-secret-bench-secret-0123' };
export const BASELINE_REDIRECT = 'https://rp.bench.test/callback';
