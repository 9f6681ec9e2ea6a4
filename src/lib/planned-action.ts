/** One thing a step would do, for `--dry-run`: the SQL, ARM call or process, secrets masked. */
export interface PlannedAction {
  on: 'source' | 'replica' | 'azure' | 'local'
  kind: 'sql' | 'arm' | 'process' | 'check' | 'note'
  /** The statement, the HTTP call, the command line, or what is checked; `***` for every secret. */
  text: string
}
