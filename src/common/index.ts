export * from './assert.js';
export * from './ids.js';
export * from './clock.js';
export * from './rng.js';
export * from './errors.js';
export * from './timers.js';
