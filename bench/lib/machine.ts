/** Facts about the machine a run happened on, recorded beside its figures. */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';

export interface MachineFacts {
  cpuModel: string;
  cores: number;
  ramGB: number;
  os: string;
  node: string;
  /** 1-, 5- and 15-minute load averages when the run started; above ~0.5 the machine was busy. */
  loadAvgAtStart: number[];
  versions: Record<string, string>;
  virtualised?: string;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown';
}

function hypervisor(): string | undefined {
  try {
    if (/^flags\s*:.*\bhypervisor\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'))) {
      const vendor = existsSync('/sys/class/dmi/id/sys_vendor') ? readFileSync('/sys/class/dmi/id/sys_vendor', 'utf8').trim() : '';
      return vendor ? `yes (${vendor})` : 'yes';
    }
  } catch {
    // unknown
  }
  return undefined;
}

const versionOf = (pkg: string) => {
  try {
    const file = new URL(`../../node_modules/${pkg}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
};

export function machineFacts(): MachineFacts {
  const virt = hypervisor();
  return {
    cpuModel: cpuModel(),
    cores: cpus().length,
    ramGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${type()} ${release()}`,
    node: process.version,
    loadAvgAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    versions: { 'oidc-provider': versionOf('oidc-provider'), jose: versionOf('jose'), autocannon: versionOf('autocannon'), argon2: versionOf('argon2') },
    ...(virt ? { virtualised: virt } : {}),
  };
}
