/**
 * One-line descriptions of Raft messages for simulator traces.
 */
import type { Message } from '../../src/raft/index.js';

/** A one-line description of a message for traces. */
export function describe(m: Message): string {
  const base = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case 'append':
      return `${base} prev ${m.prevIndex}/${m.prevTerm} n=${m.entries.length} commit ${m.commit}`;
    case 'append-resp':
      return `${base} ${m.reject ? 'REJECT' : 'ok'} ${m.index} hint ${m.hintIndex}/${m.hintTerm}`;
    case 'vote':
    case 'pre-vote':
      return `${base} last ${m.lastIndex}/${m.lastTerm}${m.transfer ? ' transfer' : ''}`;
    case 'vote-resp':
    case 'pre-vote-resp':
      return `${base} ${m.reject ? 'REJECT' : 'grant'}`;
    case 'heartbeat':
      return `${base} commit ${m.commit} ${m.context ?? ''}`;
    case 'snapshot':
      return `${base} at ${m.meta.index}/${m.meta.term}`;
    case 'read-index-resp':
      return `${base} ${m.context} ${m.reject ? 'REJECT' : m.index}`;
    default:
      return base;
  }
}
