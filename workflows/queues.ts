/** Task queues, one per subsystem. Workflow-safe constants. */
export const TaskQueue = {
  accounts: 'accounts',
  analysis: 'analysis',
  billing: 'billing',
  reminders: 'reminders',
  marketplace: 'marketplace',
} as const;
export type TaskQueue = (typeof TaskQueue)[keyof typeof TaskQueue];
export const ALL_TASK_QUEUES: TaskQueue[] = Object.values(TaskQueue);
