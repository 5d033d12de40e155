/**
 * Golden transcript (after etcd's data-driven interaction tests): every Ready of a small scenario
 * — bootstrap, election, a proposal, a follower read, a crash and a leadership transfer — rendered
 * as text and compared with test/raft/golden/. A behaviour change shows up as a readable diff;
 * after checking it, update with `npx vitest run test/raft/transcript.test.ts -u`.
 */
import { expect, it } from 'vitest';
import type { Message, Ready } from '../../src/raft/index.js';
import { describe as describeMessage } from '../sim/describe-message.js';
import { Net, data, text } from './harness.js';

function render(id: string, rd: Ready): string[] {
  const out: string[] = [];
  if (rd.softState) out.push(`  soft ${rd.softState.role} leader=${String(rd.softState.leader)}`);
  if (rd.hardState) out.push(`  hard term=${rd.hardState.term} vote=${String(rd.hardState.vote)} commit=${rd.hardState.commit}${rd.mustSync ? ' sync' : ''}`);
  if (rd.entries.length > 0) out.push(`  entries ${rd.entries.map((e) => `${e.index}/${e.term}:${text(e)}`).join(' ')}`);
  const msgs = (label: string, ms: readonly Message[]) => ms.forEach((m) => out.push(`  ${label} ${describeMessage(m)}`));
  msgs('send', rd.messages);
  msgs('send-after-persist', rd.persistedMessages);
  if (rd.committedEntries.length > 0) out.push(`  apply ${rd.committedEntries.map((e) => `${e.index}:${text(e)}`).join(' ')}`);
  for (const r of rd.readStates) out.push(`  read ${r.context} at ${r.index}`);
  for (const c of rd.failedReads) out.push(`  read-failed ${c}`);
  return out.length > 0 ? [`${id} ready`, ...out] : [];
}

it('matches the golden transcript', async () => {
  const net = new Net(['n1', 'n2', 'n3']);
  const lines: string[] = [];
  const step = (title: string, fn: () => void) => {
    lines.push(`> ${title}`);
    const marks = new Map([...net.nodes.values()].map((n) => [n, n.readies.length]));
    fn();
    // Per node, in the order its Readies were taken (a restarted node is a new incarnation).
    for (const [id, n] of net.nodes) for (const rd of n.readies.slice(marks.get(n) ?? 0)) lines.push(...render(id, rd));
  };
  step('bootstrap', () => net.processAll());
  step('n1 campaigns', () => net.elect('n1'));
  step('n1 proposes "x"', () => {
    net.core('n1').propose(data('x'));
    net.stabilize();
  });
  step('n2 reads', () => {
    net.core('n2').readIndex('read-a');
    net.stabilize();
  });
  step('n3 crashes and restarts', () => {
    net.restart('n3');
    net.stabilize();
  });
  step('n1 transfers leadership to n2', () => {
    net.core('n1').transferLeadership('n2');
    net.stabilize();
  });
  await expect(lines.join('\n') + '\n').toMatchFileSnapshot('./golden/transcript.txt');
});
