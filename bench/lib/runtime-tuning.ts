/**
 * The process tuning the container image sets (Dockerfile `ENV`; docs/deployment.md says
 * why). Every server the suite starts gets it, Gatehouse and the baselines alike, so the
 * ratios compare like with like. The same variable in the suite's own environment wins,
 * and an empty one leaves it out:
 * `GLIBC_TUNABLES= MALLOC_ARENA_MAX= NODE_OPTIONS= npm run bench` measures bare Node.
 */
export const IMAGE_TUNING = {
  GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=16777216',
  MALLOC_ARENA_MAX: '2',
  NODE_OPTIONS: '--max-old-space-size=1024 --max-semi-space-size=16',
};

export function runtimeTuning(): Record<string, string> {
  const tuning: Record<string, string> = {};
  for (const [name, value] of Object.entries(IMAGE_TUNING)) {
    const chosen = process.env[name] ?? value;
    if (chosen) tuning[name] = chosen;
  }
  return tuning;
}
