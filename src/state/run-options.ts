/**
 * Dangerous choices made for one `datain start` and never saved: the next run asks for them again,
 * so that a choice made once for one situation cannot act on a later, different one.
 */
export interface RunOptions {
  /** `--replace-databases`: drop and copy again the selected databases that already exist on the replica. */
  replaceDatabases: boolean
  /** `--take-over-replica`: replace the replica's replication link to another source. */
  takeOverReplica: boolean
}

export const NO_RUN_OPTIONS: RunOptions = {replaceDatabases: false, takeOverReplica: false}
