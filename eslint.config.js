import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    // Workflow code is replayed and must stay deterministic: no Node built-ins, no I/O
    // modules, no entities/adapters/activities at run time (types only), no floating promises.
    files: ['workflows/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'net', 'child_process', 'os'], message: 'Workflows must not use Node built-ins.' },
            { group: ['**/entities/**', '**/adapters/**', '**/api/**', '**/config', '**/config/**', '@mikro-orm/*', 'stripe', 'openai', '@anthropic-ai/sdk', '@aws-sdk/*', 'resend', 'fluent-ffmpeg'], message: 'Workflows do no I/O: call an activity.' },
            { group: ['**/activities/**'], allowTypeImports: true, message: 'Import only types from activities.' },
          ],
        },
      ],
    },
  },
);
