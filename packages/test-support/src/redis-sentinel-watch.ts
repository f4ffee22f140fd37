// Asking the sentinels of `startRedisSentinel` what they know: whether they
// all watch the master with its replica and each other, and which node they
// name once a failover is over. Not exported from the package.
import { type ClusterNodeAddress, probeNode } from './redis-cluster-nodes.js';

/** What a sentinel logs once it monitors its master (it never logs "Ready to accept"). */
export const sentinelReady = /\+monitor master /;

const START_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 100;

/** `SENTINEL MASTER <name>` as fields, or why the sentinel did not answer. */
function masterState(
  sentinel: ClusterNodeAddress,
  name: string,
): Promise<Record<string, string> | string> {
  return probeNode(sentinel, async (client) => {
    const reply = (await client.call('SENTINEL', 'MASTER', name)) as string[];
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) fields[String(reply[i])] = String(reply[i + 1]);
    return fields;
  });
}

/**
 * Waits until every sentinel sees the master up, its replica and the two
 * other sentinels: only then can a failover reach quorum and elect a leader.
 */
export async function waitUntilSentinelsAgree(
  sentinels: readonly ClusterNodeAddress[],
  name: string,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const states = await Promise.all(sentinels.map((sentinel) => masterState(sentinel, name)));
    const ready = states.every(
      (state) =>
        typeof state !== 'string' &&
        state.flags === 'master' &&
        Number(state['num-slaves']) >= 1 &&
        Number(state['num-other-sentinels']) >= sentinels.length - 1,
    );
    if (ready) return;
    if (Date.now() > deadline) {
      throw new Error(
        `The sentinels did not agree within ${START_TIMEOUT_MS} ms: ${JSON.stringify(states)}`,
      );
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/**
 * Waits until every sentinel names one master other than `previous` and
 * that node says it is a master (`ROLE`).
 */
export async function waitForFailover(
  sentinels: readonly ClusterNodeAddress[],
  name: string,
  previous: ClusterNodeAddress,
  timeoutMs: number,
): Promise<ClusterNodeAddress> {
  const deadline = Date.now() + timeoutMs;
  const old = `${previous.host}:${previous.port}`;
  for (;;) {
    const named = await Promise.all(sentinels.map((sentinel) => namedMaster(sentinel, name)));
    const [first] = named;
    const match = /^(.+):(\d+)$/.exec(first ?? '');
    if (match?.[1] !== undefined && first !== old && named.every((answer) => answer === first)) {
      const address = { host: match[1], port: Number(match[2]) };
      if ((await role(address)) === 'master') return address;
    }
    if (Date.now() > deadline) {
      throw new Error(`No failover within ${timeoutMs} ms; the sentinels name ${named.join(', ')}`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/** `host:port` of the master the sentinel names, or why it did not answer. */
function namedMaster(sentinel: ClusterNodeAddress, name: string): Promise<string> {
  return probeNode(sentinel, async (client) => {
    const reply = (await client.call('SENTINEL', 'get-master-addr-by-name', name)) as
      | [string, string]
      | null;
    return reply === null ? 'no master' : `${reply[0]}:${reply[1]}`;
  });
}

/** The node's `ROLE` (`master`, `slave`), or why it did not answer. */
function role(node: ClusterNodeAddress): Promise<string> {
  return probeNode(node, async (client) => String(((await client.call('ROLE')) as unknown[])[0]));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
