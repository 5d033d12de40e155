/** The worker-side workloads by name. */
import { assertNever } from '../../../src/common/assert.js';
import type { WorkloadName } from '../harness/options.js';
import type { Workload } from './context.js';
import { electionWorkload } from './election.js';
import { mutexWorkload } from './mutex.js';
import { sequencerWorkload } from './sequencer.js';
import { sessionsWorkload } from './sessions.js';

export type { Workload, WorkloadContext } from './context.js';
export { classifyError, describeError, type Classified } from './classify.js';

/** The loop a worker runs for `name`. */
export function workloadFor(name: WorkloadName): Workload {
  switch (name) {
    case 'mutex':
      return mutexWorkload;
    case 'sequencer':
      return sequencerWorkload;
    case 'election':
      return electionWorkload;
    case 'sessions':
      return sessionsWorkload;
    default:
      return assertNever(name, 'workload');
  }
}
