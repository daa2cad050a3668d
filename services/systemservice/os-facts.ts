// True facts about the machine, read from the OS (os-release, uname, hostname, machine-id, DMI or device tree), for the
// device-information services; a fact the OS does not give is absent (undefined), never made up. Parsing is pure.
import fs from 'node:fs';
import os from 'node:os';

export interface OsFacts {
  /** /etc/os-release (else /usr/lib/os-release) fields: NAME, VERSION_ID, PRETTY_NAME, BUILD_ID, IMAGE_ID, ... */
  osRelease: Record<string, string>;
  /** uname -r, uname -v, uname -m */
  kernelRelease: string;
  kernelVersion: string;
  machine: string;
  hostname: string;
  /** /etc/machine-id */
  machineId?: string;
  /** The hardware's model: DMI product name, else the device tree's model (ARM boards); absent in many VMs. */
  model?: string;
  /** The board: DMI board name, else the device tree's first "compatible" entry. */
  board?: string;
  /** The Node.js running these services (what runs JavaScript services here). */
  nodeVersion: string;
}

/** Parse os-release text (KEY=value lines, values optionally quoted with shell escapes), as os-release(5) defines it. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (!/^[A-Z0-9_]+$/.test(key)) continue;
    let value = line.slice(eq + 1);
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    out[key] = value;
  }
  return out;
}

function readText(file: string): string | undefined {
  try {
    const t = fs.readFileSync(file, 'utf8').replace(/\0+$/, '').trim();
    return t === '' ? undefined : t;
  } catch {
    return undefined;
  }
}

/** Read the facts now (cheap: a few small files). */
export function readOsFacts(): OsFacts {
  const release = readText('/etc/os-release') ?? readText('/usr/lib/os-release') ?? '';
  const compatible = readText('/proc/device-tree/compatible')?.split('\0')[0];
  return {
    osRelease: parseOsRelease(release),
    kernelRelease: os.release(),
    kernelVersion: os.version(),
    machine: os.machine(),
    hostname: os.hostname(),
    machineId: readText('/etc/machine-id'),
    model: readText('/sys/class/dmi/id/product_name') ?? readText('/proc/device-tree/model'),
    board: readText('/sys/class/dmi/id/board_name') ?? (compatible || undefined),
    nodeVersion: process.version,
  };
}
