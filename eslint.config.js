import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/', 'node_modules/', 'coverage/', '.scratch/', '.sandbox/']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      'no-console': 'off',
    },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: {globals: {process: 'readonly', URL: 'readonly'}},
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      // Library code reports through typed errors and the UI; it never ends the process itself.
      'no-restricted-properties': ['error', {object: 'process', property: 'exit', message: 'Throw a DatainError instead.'}],
    },
  },
)
