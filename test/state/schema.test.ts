import {describe, expect, test} from 'vitest'
import {z} from 'zod'
import {DatainError} from '../../src/lib/errors.js'
import {parseStateFile, SettingsSchema, type Migration} from '../../src/state/schema.js'

const context = {file: '/home/u/.local/share/datain/profiles/prod/settings.json', profile: 'prod'}

// A stand-in for a future v2 that renamed `gtid` to `mode`: the hook datain will use for real.
const V2 = z.strictObject({version: z.literal(2), mode: z.enum(['gtid', 'position'])})
const migrations: Record<number, Migration> = {
  1: ({gtid, ...rest}) => ({...rest, version: 2, mode: gtid ? 'gtid' : 'position'}),
}

function failure(run: () => unknown): DatainError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(DatainError)
    return error as DatainError
  }

  throw new Error('expected a DatainError')
}

describe('parseStateFile versions', () => {
  test('an older file goes through the migrations before validation', () => {
    const text = JSON.stringify({version: 1, gtid: false})
    expect(parseStateFile(V2, text, context, {migrations, current: 2})).toEqual({version: 2, mode: 'position'})
  })

  test('the current version is validated as is', () => {
    const text = JSON.stringify({version: 2, mode: 'gtid'})
    expect(parseStateFile(V2, text, context, {migrations, current: 2})).toEqual({version: 2, mode: 'gtid'})
  })

  test('a newer version is E_PROFILE_VERSION, whatever its shape', () => {
    const error = failure(() => parseStateFile(V2, JSON.stringify({version: 3, other: 1}), context, {migrations, current: 2}))
    expect(error.code).toBe('E_PROFILE_VERSION')
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain('written by a newer datain')
  })

  test('a version without a migration path is E_STATE_CORRUPT', () => {
    const error = failure(() => parseStateFile(V2, JSON.stringify({version: 0}), context, {migrations, current: 2}))
    expect(error.code).toBe('E_STATE_CORRUPT')
    expect(error.message).toContain(context.file)
  })

  test.each([
    ['{"version": 1, "mode": ', /not valid JSON, perhaps truncated/],
    ['[]', /expected object/],
    ['{"mode": "gtid"}', /version: /],
    ['{"version": "2", "mode": "gtid"}', /version: /],
  ])('%s is E_STATE_CORRUPT exit 1 with what is wrong', (text, problem) => {
    const error = failure(() => parseStateFile(V2, text, context, {migrations, current: 2}))
    expect(error.code).toBe('E_STATE_CORRUPT')
    expect(error.exitCode).toBe(1)
    expect(error.message).toContain(context.file)
    expect(error.message).toMatch(problem)
  })
})

describe('settings written by an older datain', () => {
  const old = {
    version: 1,
    createdAt: '2026-01-02T03:04:05.000Z',
    updatedAt: '2026-01-02T03:04:05.000Z',
    source: {host: 'db1', port: 3306, user: 'admin', publicHost: 'db1.example.com'},
    replica: {host: 'rep.mariadb.database.azure.com', port: 3306, user: 'admin@rep', tlsVerify: true},
    azure: {useArm: false, manageFirewall: false},
    databases: ['shop'],
    gtid: true,
    replicationUser: 'datain_repl',
    force: true,
  }

  test('load with `force: true` dropped unread: no dangerous choice survives in the settings', () => {
    const settings = parseStateFile(SettingsSchema, JSON.stringify(old), context)
    expect(settings).not.toHaveProperty('force')
    expect(JSON.stringify(settings)).not.toContain('force')
  })

  test('get TLS to the source (on) and no unfiltered subset by default', () => {
    const settings = parseStateFile(SettingsSchema, JSON.stringify(old), context)
    expect(settings.source.ssl).toBe('on')
    expect(settings.unfilteredSubset).toBe(false)
  })

  test('still refuse an unknown key, and a --source-ssl other than on or off', () => {
    expect(failure(() => parseStateFile(SettingsSchema, JSON.stringify({...old, forse: true}), context)).code).toBe('E_STATE_CORRUPT')
    const maybe = {...old, source: {...old.source, ssl: 'maybe'}}
    expect(failure(() => parseStateFile(SettingsSchema, JSON.stringify(maybe), context)).message).toContain('source.ssl')
  })
})
