// Closed-loop throughput rounds against one Redis (or every master of a
// Redis Cluster), with what Redis itself counted during each round: its CPU
// time and the commands it ran (also those run inside Lua scripts, which INFO
// commandstats counts as well), summed over the servers, and how busy the
// whole machine was (Linux /proc/stat), so that a run on a machine shared
// with other work says how much of it the others took.
import { readFileSync } from 'node:fs';

/** Sends one command to Redis and returns its reply as text (a node-redis `sendCommand`). */
export type RedisCommand = (args: string[]) => Promise<unknown>;

/**
 * The servers a figure covers: one Redis, or each master of a Redis Cluster
 * (one `RedisCommand` per master); figures are summed over them.
 */
export type RedisNodes = RedisCommand | readonly RedisCommand[];

/** Each server of `nodes`. */
export function eachNode(nodes: RedisNodes): readonly RedisCommand[] {
  return typeof nodes === 'function' ? [nodes] : nodes;
}

/** One path under test and its figures over the rounds. */
export interface Variant {
  readonly name: string;
  /** One unit of work (one request's store calls), given its index. */
  readonly operation: (i: number) => Promise<unknown>;
  /** ops/s of each round, in order. */
  readonly rounds: number[];
  ops: number;
  /** Wall time of the rounds, in µs. */
  wallUs: number;
  nodeCpuUs: number;
  /** CPU time of the Redis servers (all of them), in µs. */
  redisCpuUs: number;
  /** CPU time every process of the machine used during the rounds, in µs (NaN off Linux). */
  machineCpuUs: number;
  /** Commands Redis ran while this variant ran (name → calls, every server), INFO excluded. */
  readonly commands: Record<string, number>;
}

export function variant(name: string, operation: Variant['operation']): Variant {
  return {
    name,
    operation,
    rounds: [],
    ops: 0,
    wallUs: 0,
    nodeCpuUs: 0,
    redisCpuUs: 0,
    machineCpuUs: 0,
    commands: {},
  };
}

/** Runs `operation(i)` for i < `count` with at most `inFlight` pending; returns ops/s. */
export async function throughput(
  count: number,
  inFlight: number,
  operation: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next;
      next += 1;
      await operation(i);
    }
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

interface RedisStats {
  cpuUs: number;
  calls: Record<string, number>;
}

/** CPU time and command calls so far, summed over the servers. */
async function redisStats(nodes: RedisNodes): Promise<RedisStats> {
  const infos = await Promise.all(
    eachNode(nodes).map(async (send) => String(await send(['INFO', 'cpu', 'commandstats']))),
  );
  const total: RedisStats = { cpuUs: 0, calls: {} };
  for (const info of infos) {
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
    total.cpuUs += (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
    for (const [, name, count] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (name !== undefined && name !== 'info') {
        total.calls[name] = (total.calls[name] ?? 0) + Number(count);
      }
    }
  }
  return total;
}

/** Runs one round of `v` (`count` operations) and adds its figures (Redis's: over `nodes`). */
export async function measureRound(
  v: Variant,
  nodes: RedisNodes,
  count: number,
  inFlight: number,
): Promise<void> {
  const before = await redisStats(nodes);
  const machineBefore = machineCpuUs();
  const nodeBefore = process.cpuUsage();
  const opsPerSecond = await throughput(count, inFlight, v.operation);
  const node = process.cpuUsage(nodeBefore);
  const machine = machineCpuUs() - machineBefore;
  const after = await redisStats(nodes);
  v.rounds.push(opsPerSecond);
  v.ops += count;
  v.wallUs += (count / opsPerSecond) * 1e6;
  v.machineCpuUs += machine;
  v.nodeCpuUs += node.user + node.system;
  v.redisCpuUs += after.cpuUs - before.cpuUs;
  for (const [name, calls] of Object.entries(after.calls)) {
    const delta = calls - (before.calls[name] ?? 0);
    if (delta > 0) v.commands[name] = (v.commands[name] ?? 0) + delta;
  }
}

/** Busy CPU time of the whole machine so far (all cores, every process), in µs; NaN off Linux. */
function machineCpuUs(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const ticks = [user, nice, system, irq, softirq, steal].reduce<number>(
      (a, b) => a + (b ?? 0),
      0,
    );
    return (ticks / 100) * 1e6; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

/**
 * Cores' worth of CPU that processes other than this one and the measured
 * redis-server(s) used while `v` ran (0.5 = half a core), from /proc/stat;
 * NaN off Linux.
 */
export function othersCores(v: Variant): number {
  return Math.max(0, v.machineCpuUs - v.nodeCpuUs - v.redisCpuUs) / v.wallUs;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 === 1
    ? (sorted[Math.floor(mid)] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Commands per operation, most frequent first: `{ evalsha: 2, hset: 2, … }`. */
export function commandsPerOp(v: Variant): Record<string, number> {
  return Object.fromEntries(
    Object.entries(v.commands)
      .map(([name, calls]) => [name, Math.round((calls / v.ops) * 100) / 100] as const)
      .filter(([, perOp]) => perOp >= 0.01)
      .sort(([, a], [, b]) => b - a),
  );
}
