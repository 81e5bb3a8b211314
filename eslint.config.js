import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

/** Node built-ins by name, for the workflow rule (import-x/no-nodejs-modules catches `node:*` too). */
const NODE_BUILTINS = ['fs', 'path', 'crypto', 'http', 'https', 'net', 'child_process', 'os', 'stream', 'url', 'util', 'events', 'timers', 'worker_threads', 'zlib', 'dns', 'tls', 'buffer', 'process'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', 'entities/migrations/**', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // No import loops in the app code. import-x sees value imports; loops through
    // `import type` only are not reported here (farm-studio look shows those). Tests and
    // benches may import freely.
    files: ['api/**/*.ts', 'activities/**/*.ts', 'adapters/**/*.ts', 'workflows/**/*.ts', 'workers/**/*.ts', 'entities/**/*.ts', 'domain/**/*.ts', 'config/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/extensions': ['.ts'], 'import-x/resolver': { node: { extensions: ['.ts', '.js'] } } },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    // Adapters are ports to the outside world: they never start or signal workflows
    // (that is each feature's workflows/<feature>/client.ts, called by api/ or activities/).
    files: ['adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/workflows/**'], message: 'Adapters never import workflows: start/signal through workflows/<feature>/client.ts from api/ or activities/.' },
            { group: ['**/api/**', '**/activities/**'], message: 'Adapters are the bottom layer: no api/ or activities/ imports.' },
          ],
        },
      ],
    },
  },
  {
    // The API runs no workflow or activity code: it reaches Temporal only through the
    // feature clients, and its shared workflow vocabulary (ids, queues, messages).
    files: ['api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/activities/**'], message: 'The API never imports activities: put shared rules in domain/ or entities/.' },
            {
              group: ['**/workflows/*/*', '!**/workflows/*/client', '!**/workflows/*/messages'],
              allowTypeImports: true,
              message: 'The API imports workflow functions only as types: start/signal/query through workflows/<feature>/client.ts.',
            },
          ],
        },
      ],
    },
  },
  {
    // Workflow code is replayed and must stay deterministic: no Node built-ins, no I/O
    // modules, no entities/adapters/activities at run time (types only), no floating promises.
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/*/client.ts'],
    plugins: { 'import-x': importX },
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      'import-x/no-nodejs-modules': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', ...NODE_BUILTINS], message: 'Workflows must not use Node built-ins.' },
            { group: ['**/entities/**', '**/adapters/**', '**/api/**', '**/config', '**/config/**', '@mikro-orm/*', 'stripe', 'openai', '@anthropic-ai/sdk', '@aws-sdk/*', 'resend', 'fluent-ffmpeg'], message: 'Workflows do no I/O: call an activity.' },
            { group: ['**/activities/**'], allowTypeImports: true, message: 'Import only types from activities.' },
            { group: ['@temporalio/client', './client', '../*/client'], message: 'Workflow code never loads the Temporal client: clients are for api/ and activities/.' },
          ],
        },
      ],
    },
  },
);
