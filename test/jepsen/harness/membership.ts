/**
 * Membership changes for the `membership` nemesis: the Admin calls it needs (`MembershipControl`,
 * implemented over gRPC by `AdminMembership`), and the two procedures built on them, with the
 * retries a change under faults needs:
 *
 * - `removeMember`: Admin.MemberRemove until the removal is known to be committed. A call that
 *   succeeds was applied on the leader, so committed. A call that ends without saying (a leader
 *   that removes itself steps down as the removal commits, so its own call ends in
 *   LEADERSHIP_LOST) is repeated: the leader refuses any change while a membership entry is
 *   uncommitted (CONF_CHANGE_IN_PROGRESS) or before it committed an entry of its term, so an
 *   answer "X is not a member" (INVALID_ARGUMENT) means X's removal is committed. MemberList is
 *   not enough: it shows the leader's latest configuration, committed or not.
 * - `restoreMembership`: until every node is a voter again, one server at a time: a node missing
 *   from the configuration (its removal confirmed committed as above: only then may its data be
 *   thrown away) is stopped, its data dir wiped, restarted with `--join CLUSTER_ID` and added as a
 *   learner; a learner is (re)started if needed and promoted, retrying while the leader says it
 *   has not caught up (PROPOSAL_DROPPED) or another change is pending.
 */
import { isLatchError, type ErrorCode } from '../../../src/common/errors.js';
import { AdminClient, type WireMemberList } from '../../../src/cli/members.js';
import type { Cluster } from './cluster.js';
import type { Network } from './network.js';

/** The configuration as the leader reports it. */
export interface MemberView {
  readonly clusterId: string;
  /** The leader's id, or '' when it named none. */
  readonly leader: string;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

/** The Admin calls the membership nemesis makes; each follows the leader and may throw a LatchError. */
export interface MembershipControl {
  /** The configuration, as the leader sees it. */
  list(timeoutMs: number): Promise<MemberView>;
  /** Admin.MemberAdd as a learner. */
  addLearner(id: string, address: { readonly peer: string; readonly client: string }, timeoutMs: number): Promise<void>;
  /** Admin.MemberPromote (PROPOSAL_DROPPED while the learner is behind). */
  promote(id: string, timeoutMs: number): Promise<void>;
  /** Admin.MemberRemove. */
  remove(id: string, timeoutMs: number): Promise<void>;
  /** Closes the channels. */
  close(): void;
}

/** The process control the procedures need (implemented by Cluster). */
export type MembershipCluster = Pick<Cluster, 'ids' | 'state' | 'kill' | 'terminate' | 'start' | 'wipe' | 'setJoin'>;

/** What the procedures work on. */
export interface MembershipDeps {
  readonly control: MembershipControl;
  readonly cluster: MembershipCluster;
  readonly network: Pick<Network, 'memberAddress'>;
  /** Harness time, ms. */
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: (line: string) => void;
}

/** The outcome of `restoreMembership`. */
export interface RestoreResult {
  /** True when every node is a voter. */
  readonly ok: boolean;
  /** What was done (or why it could not be), one line. */
  readonly description: string;
  /** The last configuration seen, if any. */
  readonly view: MemberView | undefined;
}

/** `voters n1,n2,n3` (and the learners, if any). */
export function describeView(v: MemberView): string {
  return `voters ${v.voters.join(',') || 'none'}${v.learners.length ? `, learners ${v.learners.join(',')}` : ''}`;
}

const WAIT_CODES: ReadonlySet<ErrorCode> = new Set(['NOT_LEADER', 'NO_QUORUM', 'LEADERSHIP_LOST', 'PROPOSAL_DROPPED', 'CONF_CHANGE_IN_PROGRESS', 'SHUTTING_DOWN']);

/** True for an answer worth retrying: no leader yet, the change is not possible yet, or a transport error. */
export function retryable(err: unknown): boolean {
  return !isLatchError(err) || WAIT_CODES.has(err.code);
}

function describeError(err: unknown): string {
  if (isLatchError(err)) return err.code;
  return err instanceof Error ? err.message : String(err);
}

async function tryList(d: MembershipDeps, timeoutMs: number): Promise<MemberView | undefined> {
  try {
    return await d.control.list(timeoutMs);
  } catch {
    return undefined;
  }
}

/** True for the leader's refusal to remove `id` because it is not in the (committed) configuration. */
export function isNotAMember(err: unknown, id: string): boolean {
  return isLatchError(err, 'INVALID_ARGUMENT') && err.message.includes(`${id} is not a member`);
}

/**
 * Removes `id` from the configuration and resolves once the removal is known to be committed (see
 * the file comment), retrying while the change is not possible yet, until `timeoutMs` passes.
 * Resolves with a note on how the outcome was learnt ('' for a plain success, or when `id` was
 * not a member to begin with); throws the last error when the outcome is still unknown at the end.
 */
export async function removeMember(d: MembershipDeps, id: string, timeoutMs: number): Promise<string> {
  const deadline = d.now() + timeoutMs;
  const answers: string[] = [];
  for (;;) {
    try {
      await d.control.remove(id, Math.max(1_000, deadline - d.now()));
      return answers.length === 0 ? '' : `the call answered ${answers.join(', ')}, then succeeded`;
    } catch (err) {
      if (isNotAMember(err, id)) return answers.length === 0 ? '' : `the call answered ${answers.join(', ')}, then "not a member": committed`;
      if (!retryable(err) || d.now() > deadline) throw err;
      answers.push(describeError(err));
      await d.sleep(250);
    }
  }
}

/**
 * Brings every node of the cluster back as a voter, one server at a time (see the file comment),
 * until `timeoutMs` passes. `onWiped` is told about every node whose data dir was wiped and that
 * from then on starts with `--join`. Never throws: the result says what happened.
 */
export async function restoreMembership(d: MembershipDeps, timeoutMs: number, onWiped: (id: string) => void = () => undefined): Promise<RestoreResult> {
  const deadline = d.now() + timeoutMs;
  const done: string[] = [];
  const started = new Map<string, number>();
  const wiped = new Set<string>();
  let view: MemberView | undefined;
  let lastError = '';
  while (d.now() <= deadline) {
    view = await tryList(d, Math.max(1_000, Math.min(10_000, deadline - d.now())));
    if (view === undefined) {
      lastError = 'no MemberList answer';
      await d.sleep(250);
      continue;
    }
    const v = view;
    const missing = d.cluster.ids.filter((id) => !v.voters.includes(id));
    if (missing.length === 0) {
      const what = done.length ? `${done.join('; ')}; ` : '';
      return { ok: true, description: `${what}${describeView(v)}`, view: v };
    }
    const id = missing[0]!;
    if (!started.has(id)) started.set(id, d.now());
    try {
      if (!v.learners.includes(id)) {
        // Not a member: it comes back as a new node, from an empty data dir (kept when this
        // restore already wiped it and only the MemberAdd is left to do). Its data is thrown away
        // only once its removal is known to be committed.
        if (!(wiped.has(id) && d.cluster.state(id) === 'running')) {
          await removeMember(d, id, Math.max(1_000, Math.min(15_000, deadline - d.now())));
          if (d.cluster.state(id) !== 'stopped') await d.cluster.kill(id, 'SIGKILL');
          d.cluster.wipe(id);
          d.cluster.setJoin(id, v.clusterId);
          wiped.add(id);
          onWiped(id);
          await d.cluster.start(id);
        }
        await d.control.addLearner(id, d.network.memberAddress(id), Math.max(1_000, deadline - d.now()));
        d.log(`membership: ${id} restarted empty with --join ${v.clusterId} and added as a learner`);
      } else {
        if (d.cluster.state(id) === 'stopped') await d.cluster.start(id);
        await d.control.promote(id, Math.max(1_000, deadline - d.now()));
        const took = d.now() - (started.get(id) ?? d.now());
        done.push(`rejoined ${id} (wiped, --join, learner, promoted after ${(took / 1000).toFixed(1)} s)`);
        d.log(`membership: ${id} promoted to voter`);
      }
    } catch (err) {
      lastError = `${id}: ${describeError(err)}`;
      if (!retryable(err) && !isLatchError(err, 'INVALID_ARGUMENT')) d.log(`membership: ${lastError}`);
      // INVALID_ARGUMENT (e.g. "already a member") and the rest: the next MemberList tells.
      await d.sleep(250);
    }
  }
  const what = done.length ? `${done.join('; ')}; ` : '';
  return { ok: false, description: `${what}not restored within ${Math.round(timeoutMs / 1000)} s (${lastError || 'no progress'})${view ? `; ${describeView(view)}` : ''}`, view };
}

/** MembershipControl over the Admin gRPC service (the client `latch members` uses). */
export class AdminMembership implements MembershipControl {
  private readonly admin: AdminClient;

  constructor(endpoints: readonly string[]) {
    this.admin = new AdminClient(endpoints);
  }

  async list(timeoutMs: number): Promise<MemberView> {
    return toView(await this.admin.call<WireMemberList>('memberList', {}, timeoutMs));
  }

  async addLearner(id: string, address: { readonly peer: string; readonly client: string }, timeoutMs: number): Promise<void> {
    await this.admin.call<WireMemberList>('memberAdd', { id, peerAddress: address.peer, clientAddress: address.client }, timeoutMs);
  }

  async promote(id: string, timeoutMs: number): Promise<void> {
    await this.admin.call<WireMemberList>('memberPromote', { id }, timeoutMs);
  }

  async remove(id: string, timeoutMs: number): Promise<void> {
    await this.admin.call<WireMemberList>('memberRemove', { id }, timeoutMs);
  }

  close(): void {
    this.admin.close();
  }
}

/** A MemberList answer as a MemberView. */
export function toView(list: WireMemberList): MemberView {
  return {
    clusterId: list.clusterId,
    leader: list.leader,
    voters: list.members.filter((m) => !m.learner).map((m) => m.id),
    learners: list.members.filter((m) => m.learner).map((m) => m.id),
  };
}
