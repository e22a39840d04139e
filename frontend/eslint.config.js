import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import reactRefresh from 'eslint-plugin-react-refresh';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Import boundaries. Data flows one way: api ← stream ← hooks, and components
 * render what they are given. api/ (protocol types, parsing, the view's data
 * shapes in api/view.ts) imports no other part of the app; stream/ (the
 * socket, the model, the hook) never reaches up into components or hooks;
 * components import no stream code, not even types (the shapes they need
 * live in api/view.ts), and from api/ only types; lib/ (pure helpers shared
 * by all) sees api/ types and nothing else. App.tsx and main.tsx wire it
 * together; tests and src/test may import anything.
 * Relative specifiers are matched (the app uses no path aliases).
 */
const layer = (dir) => `^\\.{1,2}/(?:.+/)?${dir}(?:/|$)`;
const forbid = (dirs, message, extra = {}) => ({ regex: layer(`(?:${dirs.join('|')})`), message, ...extra });
const boundary = (files, ...patterns) => ({
  files,
  ignores: ['src/**/*.test.{ts,tsx}', 'src/test/**'],
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

export default tseslint.config(
  { ignores: ['dist', 'node_modules', 'test-results', 'playwright-report', '.scratch', 'src/api/*.gen.ts', 'src/api/*.validate.gen.js'] },
  {
    files: ['**/*.{ts,tsx}'],
    extends: [js.configs.recommended, ...tseslint.configs.strict],
    languageOptions: {
      ecmaVersion: 2022,
      globals: { ...globals.browser },
    },
    plugins: {
      'react-hooks': reactHooks,
      'react-refresh': reactRefresh,
    },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'react-refresh/only-export-components': ['warn', { allowConstantExport: true }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
    },
  },
  {
    files: ['e2e/**/*.ts', 'vite.config.ts', 'scripts/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { ...globals.node } },
  },
  boundary(
    ['src/api/**/*.ts'],
    forbid(['stream', 'components', 'hooks', 'lib'], 'api/ is the bottom layer: it imports no other part of the app.'),
  ),
  boundary(
    ['src/stream/**/*.{ts,tsx}'],
    forbid(['components', 'hooks'], 'stream/ feeds the components; it never imports them.'),
  ),
  boundary(
    ['src/lib/**/*.ts'],
    forbid(['stream', 'components', 'hooks'], 'lib/ holds pure helpers over api/ types; it imports nothing else of the app.'),
    forbid(['api'], 'lib/ may import types from api/, not code.', { allowTypeImports: true }),
  ),
  boundary(
    ['src/components/**/*.tsx', 'src/components/**/*.ts'],
    forbid(
      ['stream'],
      'Components render from props: no stream code here, not even its types (the shapes a view needs are in api/view.ts).',
    ),
    forbid(['api'], 'Components may import types from api/, not code (parsing happens in the stream).', {
      allowTypeImports: true,
    }),
  ),
  boundary(['src/hooks/**/*.ts'], forbid(['components'], 'hooks/ serve the components; they never import them.')),
  {
    files: ['src/**/*.test.{ts,tsx}', 'src/test/**/*.{ts,tsx}'],
    rules: { 'react-refresh/only-export-components': 'off' },
  },
  {
    files: ['scripts/**/*.mjs', 'eslint.config.js'],
    extends: [js.configs.recommended],
  },
);
