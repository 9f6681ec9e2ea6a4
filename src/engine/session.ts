import type {Connection} from 'mariadb'
import {serverAddresses, tlsWarnings} from './addresses.js'
import {connectTo, type ServerAddress} from '../lib/mariadb.js'
import {openTarget, type ReplicaTarget} from '../targets/index.js'
import {describeTakeOver, type Lock} from '../state/lock.js'
import {openProfile, type ProfileStore} from '../state/profile-store.js'
import type {Settings} from '../state/schema.js'

/** A profile opened for work: its settings, how to reach both servers and Azure, and its lock. */
export interface Session {
  profile: string
  store: ProfileStore
  settings: Settings
  sourceAddress: ServerAddress
  replicaAddress: ServerAddress
  /** Opens on first use, again after the server dropped it; a refusal is not cached. */
  source(): Promise<Connection>
  /** Throws GatewayRefusedError while the replica's firewall refuses this machine. */
  replica(): Promise<Connection>
  /** The replica side: its replication controls, server parameters and network path. */
  target: ReplicaTarget
  /** Closes the connections and releases the lock. */
  close(): Promise<void>
}

export interface SessionOptions {
  home: string
  profile: string
  /** Shown to whoever finds the profile locked; `undefined` takes no lock (read-only commands). */
  lockFor?: string
  /** Skip the source password (and connection) when a command can do without the source. */
  needsSource?: boolean
  note(message: string): void
}

/**
 * Opens a recorded profile: reads its settings, takes its lock when asked, and reads the passwords
 * (environment or prompt). Every command but `init` starts here.
 */
export async function openSession(options: SessionOptions): Promise<Session> {
  const store = openProfile(options.home, options.profile)
  const settings = await store.readSettings()
  for (const warning of tlsWarnings(settings)) options.note(warning)
  let lock: Lock | undefined
  if (options.lockFor) {
    lock = await store.lock(options.lockFor)
    if (lock.takenOver) options.note(`datain ${describeTakeOver(lock.takenOver)}.`)
  }
  const connections: Connection[] = []
  try {
    const session: Session = {
      profile: options.profile,
      store,
      settings,
      ...(await serverAddresses(settings, options.needsSource !== false)),
      source: reconnecting(() => connectTo('source', session.sourceAddress), connections),
      replica: reconnecting(() => connectTo('replica', session.replicaAddress), connections),
      target: await openTarget(settings, {replica: () => session.replica()}),
      async close() {
        await Promise.allSettled(connections.map((c) => c.end()))
        await lock?.release()
      },
    }
    return session
  } catch (error) {
    await lock?.release()
    throw error
  }
}

/** Opens on first use and again when the server dropped it (a restart, a killed session, a timeout). */
function reconnecting(open: () => Promise<Connection>, all: Connection[]): () => Promise<Connection> {
  let connection: Connection | undefined
  // Callers at the same time (preflight opens both servers at once) share one connection being opened.
  let opening: Promise<Connection> | undefined
  return async () => {
    if (connection?.isValid()) return connection
    opening ??= open()
      .then((opened) => {
        connection = opened
        all.push(opened)
        return opened
      })
      .finally(() => {
        opening = undefined
      })
    return opening
  }
}
