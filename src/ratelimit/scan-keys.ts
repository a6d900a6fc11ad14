// Finds keys by pattern on a standalone Redis or on every master of a Cluster (a SCAN sees one node):
// the operator commands' (limits, budgets) one way to list what a subject or entity holds.

import { Cluster, type Redis } from 'ioredis';

export async function scanKeys(client: Redis | Cluster, patterns: readonly string[]): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const keys = new Set<string>();
  for (const node of nodes) {
    for (const pattern of patterns) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const key of batch) keys.add(key);
      } while (cursor !== '0');
    }
  }
  return [...keys].sort();
}
