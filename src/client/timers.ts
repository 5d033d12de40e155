/** The SDK's only access to timers (the common module's), injectable so tests can drive time with a manual clock. */
export { sleep, systemTimers, type TimerHandle, type Timers } from '../common/timers.js';
