import {scryptSync} from 'node:crypto'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {matchesFingerprint, passwordFingerprint} from '../../src/state/passwords.js'

const scrypt = (password: string, salt: string) => scryptSync(password, Buffer.from(salt, 'hex'), 32, {N: 16_384, r: 8, p: 1}).toString('hex')
const salt = fc.uint8Array({minLength: 16, maxLength: 16}).map((b) => Buffer.from(b).toString('hex'))

describe('password fingerprints, taken again from memory within a process', () => {
  it('are scrypt of the password with the salt, whatever was taken before', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({maxLength: 8}), salt), {minLength: 1, maxLength: 20}), (pairs) => {
        // Twice over: the second round answers from memory, and must answer the same.
        for (const [password, s] of [...pairs, ...pairs]) expect(passwordFingerprint(password, s).hash).toBe(scrypt(password, s))
      }),
      {numRuns: 5},
    )
  })

  it('match only the password they were taken of, after it was taken', () => {
    const f = passwordFingerprint('secret-1')
    expect(matchesFingerprint('secret-1', f)).toBe(true)
    expect(matchesFingerprint('secret-2', f)).toBe(false)
    expect(matchesFingerprint('secret-1', {...f, salt: '00'.repeat(16)})).toBe(false)
    expect(passwordFingerprint('secret-1').salt).not.toBe(f.salt)
  })
})
