/**
 * Custom search attributes ops filter by in the Temporal UI. The dev server registers
 * them at start (scripts/lib/temporal.ts), docker-compose through temporal-config/setup.sh,
 * and workflows/search-attributes.ts holds the typed keys workflows and clients use.
 */
export const CUSTOM_SEARCH_ATTRIBUTES = {
  UserId: 'Keyword',
  HorseId: 'Keyword',
  ListingId: 'Keyword',
  GestationId: 'Keyword',
  // Kept: runs from before the rename carry it; filters on it still work.
  PregnancyId: 'Keyword',
  AnalysisType: 'Keyword',
  Plan: 'Keyword',
} as const;

/** Dev-server flags that make SQLite fast enough (the TS SDK's stress CI runs it so). */
export const SQLITE_PRAGMAS = ['journal_mode=WAL', 'synchronous=NORMAL'];

export function devServerArgs(opts: { port: number; uiPort?: number; dbFile?: string; namespace: string; logLevel?: string }): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    ...(opts.uiPort ? ['--ui-port', String(opts.uiPort), '--ui-ip', '127.0.0.1'] : ['--headless']),
    ...(opts.dbFile ? ['--db-filename', opts.dbFile] : []),
    '--namespace',
    opts.namespace,
    ...SQLITE_PRAGMAS.flatMap((p) => ['--sqlite-pragma', p]),
    ...Object.entries(CUSTOM_SEARCH_ATTRIBUTES).flatMap(([k, t]) => ['--search-attribute', `${k}=${t}`]),
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    '--log-level',
    opts.logLevel ?? 'warn',
  ];
}
