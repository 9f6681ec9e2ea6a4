/**
 * What to do about the errors a replica's threads stop on (reference/azure.md §5). The replicate
 * step quotes them under the replica's own error text; `datain status` does the same.
 */

export interface HintContext {
  /** The replica's own controls, as its target words them; without them a hint names datain's commands. */
  controls?: HintControls
  /** The datain profile, for the commands a hint names. */
  profile?: string
}

/** What a hint quotes of the replica's controls. */
export interface HintControls {
  /** How to skip the one failed transaction by hand: `CALL mysql.az_replication_skip_counter`. */
  skip: string
  /** What stops replication: `mysql.az_replication_stop`, `STOP SLAVE`. */
  stop: string
}

/** The hint's words for a target's controls (targets/target.ts ReplicationTexts). */
export function hintControls(texts: {command(action: 'skip'): string; name(action: 'stop'): string}): HintControls {
  return {skip: texts.command('skip'), stop: texts.name('stop')}
}

/** Why a replica thread stopped, as SHOW SLAVE STATUS says it. */
export interface ThreadError {
  thread: 'io' | 'sql'
  errno: number
  message: string
}

/** What to do about an error: a paragraph for people, and the commands it names, for suggestions and --json. */
export interface ReplicationHint {
  text: string
  commands: string[]
}

/**
 * The hint for a replication error, or undefined when datain has nothing better to say than the
 * error itself. Some errnos share a meaning across the IO thread's client errors (2003, 2026…) and
 * the server's own (1236…); the message text decides between a TLS and a network failure.
 */
export function replicationHint(error: ThreadError, context: HintContext = {}): ReplicationHint | undefined {
  const text = hintText(error, context)
  if (text === undefined) return undefined
  return {text, commands: hintCommands(error.errno, context)}
}

function hintText(error: ThreadError, context: HintContext): string | undefined {
  const p = context.profile && context.profile !== 'default' ? ` --profile ${context.profile}` : ''
  const skip = skipCommand(context)
  const recopy =
    `copy the data again from a fresh snapshot: remove the link (datain stop${p} --remove), drop the copied databases on the replica, ` +
    `and start the profile over (datain init${p} --force, then datain start${p})`

  switch (error.errno) {
    case 1236:
      return (
        'The source no longer has the binary log the replica asks for: it was purged (binlog_expire_logs_seconds / expire_logs_days) ' +
        'before the replica read it, or the coordinates do not exist on the source. Keep binary logs for longer than a copy and its ' +
        `catch-up take, then ${recopy}.`
      )
    case 1045:
      return (
        "The source refused the replication user's login. Check that the user exists on the source for the replica's address " +
        "(host '%' or the replica's outbound IP) with REPLICATION SLAVE, and that its password is the one datain passed; " +
        `'datain start${p}' repairs a user datain created.`
      )
    case 2003:
    case 2005:
    case 2013:
      if (isTlsText(error.message)) return tlsHint()
      return (
        "The replica cannot reach the source. The source must accept connections on its port from the replica's outbound address " +
        "(on Azure, the IP of the host named by SELECT @@global.redirect_server_host), under a public name or address the replica " +
        'can resolve (--source-public-host); check the source firewall, bind-address and port.'
      )
    case 2026:
      return tlsHint()
    case 1062:
    case 1032:
      return (
        `The replica's data no longer matches the source's (error ${error.errno}: ${error.errno === 1062 ? 'a row the source inserts already exists on the replica' : 'a row the source changes is missing on the replica'}): ` +
        `something wrote to the replica, or the copy and its coordinates do not match. Nothing should write to the replica while it replicates. ` +
        `If you know the row is the only difference, skip the one transaction with ${skip} (once per failing transaction); otherwise ${recopy}.`
      )
    case 1146:
      return (
        'A table the source writes to does not exist on the replica: a database that was not copied is written on the source. ' +
        "With a subset of databases (--databases) the replica needs the filter replicate_wild_ignore_table that 'datain start' sets; " +
        `check it covers every database not copied, then run ${skip} once to skip the failed transaction, or copy that database too.`
      )
    case 1593:
      return (
        "The source and the replica have the same server_id, so the replica ignores the source's events. Give the source a server_id " +
        "that differs from the replica's (SELECT @@server_id on each) in its my.cnf, restart it, and run datain start again."
      )
    case 1955:
      return (
        "The source's binary log does not contain the GTID position the replica starts from (gtid_slave_pos): it was purged, or the " +
        `source's GTID history diverged from the one the copy was made at. ${capitalize(recopy)}.`
      )
    case 1950:
      return (
        'GTID strict mode refused an out-of-order GTID: some transaction was written on the replica, or the same GTID domain is written ' +
        `on two servers. Nothing should write to the replica; ${recopy}.`
      )
    case 1449:
      return (
        'A view, trigger, routine or event names a DEFINER that does not exist on the replica (accounts are not replicated). Create that ' +
        `account on the replica, then run datain start${p} again.`
      )
    default:
      if (isTlsText(error.message)) return tlsHint()
      return undefined
  }
}

/** The replica's skip as its target words it, else datain's own. */
function skipCommand(context: HintContext): string {
  return context.controls?.skip ?? `datain skip${context.profile && context.profile !== 'default' ? ` --profile ${context.profile}` : ''}`
}

function hintCommands(errno: number, context: HintContext): string[] {
  const p = context.profile && context.profile !== 'default' ? ` --profile ${context.profile}` : ''
  switch (errno) {
    case 1062:
    case 1032:
    case 1146:
      return [skipCommand(context), `datain start${p}`]
    case 1236:
    case 1955:
    case 1950:
      return [`datain stop${p} --remove`, `datain init${p} --force`, `datain start${p}`]
    default:
      return [`datain start${p}`]
  }
}

function tlsHint(): string {
  return (
    "The replica could not open a TLS connection to the source. The CA given with --source-ssl-ca must be the one that signed the source's " +
    'certificate, and the certificate must carry the name the replica connects to (--source-public-host); the replication user must not ' +
    "REQUIRE SSL when the source has no TLS."
  )
}

function isTlsText(message: string): boolean {
  return /\bSSL\b|\bTLS\b|certificate|x509|handshake/i.test(message)
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
