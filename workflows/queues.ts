/** Task queues, one per feature (named as the feature). Workflow-safe constants. */
export const TaskQueue = {
  accounts: 'accounts',
  analysis: 'analysis',
  billing: 'billing',
  gestation: 'gestation',
  marketplace: 'marketplace',
  health: 'health',
} as const;
export type TaskQueue = (typeof TaskQueue)[keyof typeof TaskQueue];
export const ALL_TASK_QUEUES: TaskQueue[] = Object.values(TaskQueue);

/**
 * Renamed queues, old name → new name. Runs started on the old name stay bound to it
 * (a workflow's task queue is fixed at start, continue-as-new inherits it), so a worker
 * keeps polling the old name while WORKER_LEGACY_QUEUES lists it, with the same workflows
 * and activities as the new one, until `temporal workflow count --query
 * 'TaskQueue="reminders" AND ExecutionStatus="Running"'` says 0.
 */
export const LEGACY_TASK_QUEUES = {
  reminders: TaskQueue.gestation,
} as const satisfies Record<string, TaskQueue>;
export type LegacyTaskQueue = keyof typeof LEGACY_TASK_QUEUES;
export const isLegacyTaskQueue = (q: string): q is LegacyTaskQueue => Object.hasOwn(LEGACY_TASK_QUEUES, q);
