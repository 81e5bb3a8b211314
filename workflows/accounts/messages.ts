export interface WelcomeInput {
  userId: string;
}

export interface AccountsReconcileInput {
  olderThanMinutes?: number;
  withinDays?: number;
  limit?: number;
}
