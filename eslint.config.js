import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import {layers} from './eslint/layers.js'

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
    plugins: {datain: layers},
    rules: {
      // Layers import only downward (eslint/layers.js); one screen of a file, one screen of a function.
      'datain/layers': 'error',
      'max-lines': ['error', {max: 300}],
      'max-lines-per-function': ['error', {max: 80}],
      // Library code reports through typed errors and the UI; it never ends the process itself.
      'no-restricted-properties': ['error', {object: 'process', property: 'exit', message: 'Throw a DatainError instead.'}],
    },
  },
)
