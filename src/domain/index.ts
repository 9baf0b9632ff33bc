/** Pure domain code shared by client, workflows and activities: schemas, lifecycle, graph, costs. */
export * from './attempt.js';
export * from './backlog.js';
export * from './budget.js';
export * from './card-state.js';
export * from './cost.js';
export * from './dependency-order.js';
export * from './graph.js';
export * from './ids.js';
export * from './lifecycle.js';
export * from './pricing.js';
export * from './squad.js';
export * from './validate.js';
export * from './review.js';
export * from './notifications.js';
export * from './metrics.js';
export * from './pages.js';
export * from './repository.js';
