// What a server process holds open, read from the kernel (Linux /proc): the
// established TCP connections it accepted on its port. Behind a proxy that
// closes upstream connections after each request (startNginx does), the
// long-lived ones are its WebSockets.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const ESTABLISHED = '01';

/**
 * Established TCP connections that process `pid` holds on its local `port`
 * (IPv4 and IPv6), from `/proc/<pid>/fd` and `/proc/net/tcp{,6}`. Linux only;
 * throws elsewhere or when the process is gone.
 *
 * @example
 * await expect.poll(() => establishedConnections(node.pid!, node.port)).toBe(2);
 */
export function establishedConnections(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1] !== undefined) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (local === undefined || fields[3] !== ESTABLISHED) continue;
      const localPort = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (localPort === port && inodes.has(fields[9] ?? '')) count += 1;
    }
  }
  return count;
}
