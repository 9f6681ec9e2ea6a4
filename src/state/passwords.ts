import {createHash, randomBytes, scryptSync, timingSafeEqual} from 'node:crypto'
import type {ProfileStore} from './profile-store.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {registerSecret} from '../lib/redact.js'

/** The environment variable that gives the replication user's password instead of a generated one. */
export const REPLICATION_PASSWORD_ENV = 'DATAIN_REPLICATION_PASSWORD'

/**
 * 32 characters: ~190 bits from a 66-character alphabet, and within the 32 characters that
 * CHANGE MASTER's MASTER_PASSWORD takes on MariaDB 10.2 and 10.3 (Azure's versions; later ones take 96).
 */
export const GENERATED_PASSWORD_LENGTH = 32

const LOWER = 'abcdefghijklmnopqrstuvwxyz'
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
const DIGITS = '0123456789'
/**
 * No quote, backslash, `#`, `;`, `=`, `$`, space or `%`: the password survives an option file
 * (`password=…` unquoted), a shell, SQL quoting and a URL untouched.
 */
const SYMBOLS = '-_.+'
const ALPHABET = LOWER + UPPER + DIGITS + SYMBOLS

/** Where the replication password came from. */
export type PasswordOrigin = 'environment' | 'profile' | 'generated'

/**
 * A random password of `length` characters (at least 16): letters, digits and the symbols `-_.+`,
 * starting with a letter, with at least one of each kind so that a password-validation plugin
 * (simple_password_check's defaults) accepts it. Uniform: bytes that would bias the choice are
 * drawn again.
 */
export function generatePassword(length = GENERATED_PASSWORD_LENGTH): string {
  if (!Number.isInteger(length) || length < 16) throw new Error(`bug: a generated password needs at least 16 characters, not ${length}`)
  for (;;) {
    const password = pick(LOWER + UPPER, 1) + pick(ALPHABET, length - 1)
    if ([LOWER, UPPER, DIGITS, SYMBOLS].every((kind) => [...password].some((c) => kind.includes(c)))) return password
  }
}

/** `count` characters of `alphabet`, each chosen uniformly from crypto.randomBytes. */
function pick(alphabet: string, count: number): string {
  // The largest multiple of the alphabet's size that fits in a byte: bytes above it would favour the first characters.
  const limit = 256 - (256 % alphabet.length)
  let out = ''
  while (out.length < count) {
    for (const byte of randomBytes(count * 2)) {
      if (byte < limit && out.length < count) out += alphabet[byte % alphabet.length]
    }
  }
  return out
}

/**
 * The replication user's password: DATAIN_REPLICATION_PASSWORD when set (never stored); otherwise
 * the one this profile generated earlier (its owner-only secrets file), so that a resumed run
 * uses the same; otherwise a new one, written to the secrets file before it is returned, so that
 * no account is ever created with a password datain has not kept. Registered for redaction.
 */
export async function replicationPassword(
  store: ProfileStore,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{password: string; origin: PasswordOrigin}> {
  const existing = await existingReplicationPassword(store, env)
  if (existing) return existing

  const password = generatePassword()
  registerSecret(password)
  await store.writeSecrets({replicationPassword: password})
  await store.journal('replication-password-generated')
  return {password, origin: 'generated'}
}

/**
 * The password {@link replicationPassword} would return without generating one (and so without
 * writing anything): for `--dry-run`. Undefined when a new one would be generated.
 */
export async function existingReplicationPassword(
  store: ProfileStore,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{password: string; origin: Exclude<PasswordOrigin, 'generated'>} | undefined> {
  const given = env[REPLICATION_PASSWORD_ENV]
  if (given !== undefined && given !== '') {
    registerSecret(given)
    // Shorter ones are guessable, and a one-character "secret" could not be masked in messages.
    if ([...given].length < 8) {
      throw new DatainError(`${REPLICATION_PASSWORD_ENV} holds a password of fewer than 8 characters; give a longer one, or unset it and let datain generate one.`, {
        code: 'E_REPLICATION_PASSWORD',
        exit: ExitCode.usage,
        suggestions: [`unset ${REPLICATION_PASSWORD_ENV}`],
      })
    }
    return {password: given, origin: 'environment'}
  }

  const stored = (await store.readSecrets())?.replicationPassword
  if (!stored) return undefined
  registerSecret(stored)
  return {password: stored, origin: 'profile'}
}

/**
 * What mysql_native_password stores for `password` (`*` and the upper-case hex of SHA1(SHA1(utf-8
 * bytes)))`, as SHOW CREATE USER shows it after `IDENTIFIED BY PASSWORD`. Creating the account from
 * this hash keeps the password itself out of the source's binary log, process list and general log.
 */
export function nativePasswordHash(password: string): string {
  const once = createHash('sha1').update(password, 'utf8').digest()
  return `*${createHash('sha1').update(once).digest('hex').toUpperCase()}`
}

/**
 * What the profile records of a password given to the replication user: never the password, and
 * not cheaply reversible (scrypt, with a salt of the profile's own, so that the record of one
 * profile says nothing about another's and a table of common passwords does not apply).
 */
export interface PasswordFingerprint {
  algorithm: 'scrypt-n16384-r8-p1'
  salt: string
  hash: string
}

/** The fingerprint of `password`; `salt` (hex) is the profile's, a new one when absent. */
export function passwordFingerprint(password: string, salt = randomBytes(16).toString('hex')): PasswordFingerprint {
  return {algorithm: 'scrypt-n16384-r8-p1', salt, hash: scryptHash(password, salt)}
}

/**
 * The fingerprints this process has taken, by salt and the password's SHA-256. A `start` takes the
 * same ones again (the password step, then the user step and the link step check them): each
 * scrypt costs 80 ms and a 16 MiB block that glibc keeps, 15 MB of peak RSS measured at the end
 * of a 2,000-table start. Holds nothing the process does not hold already (the password itself).
 */
const taken = new Map<string, string>()

function scryptHash(password: string, salt: string): string {
  const key = `${salt}:${createHash('sha256').update(password).digest('hex')}`
  let hash = taken.get(key)
  if (hash === undefined) {
    hash = scryptSync(password, Buffer.from(salt, 'hex'), 32, {N: 16_384, r: 8, p: 1}).toString('hex')
    if (taken.size >= 16) taken.clear()
    taken.set(key, hash)
  }
  return hash
}

/** Whether `password` is the one `fingerprint` was taken of; false for a record of another shape. */
export function matchesFingerprint(password: string, fingerprint: unknown): boolean {
  const f = fingerprint as Partial<PasswordFingerprint> | undefined
  if (f?.algorithm !== 'scrypt-n16384-r8-p1' || typeof f.salt !== 'string' || typeof f.hash !== 'string' || !/^[0-9a-f]{64}$/.test(f.hash)) return false
  return timingSafeEqual(Buffer.from(passwordFingerprint(password, f.salt).hash, 'hex'), Buffer.from(f.hash, 'hex'))
}
