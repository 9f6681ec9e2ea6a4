import {execa} from 'execa'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {isAlive, type SandboxRecord} from '../../sandbox/registry.js'

let home: string
const name = `cli${process.pid}`
const sandbox = (...args: string[]) =>
  execa('npx', ['tsx', 'sandbox/cli.ts', ...args, '--name', name], {env: {DATAIN_SANDBOX_HOME: home}, reject: false})

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'datain-sandbox-home-'))
})

afterAll(async () => {
  await sandbox('down')
  await rm(home, {recursive: true, force: true})
})

it('up prints how to reach each piece, env prints working exports, down leaves nothing behind', async () => {
  const up = await sandbox('up', '--rows', '10')
  expect(up.exitCode, up.stderr).toBe(0)
  expect(up.stdout).toMatch(/^mode\s+azure-mariadb/m)
  expect(up.stdout).toMatch(/source\s+MariaDB 127\.0\.0\.1:\d+/)
  expect(up.stdout).toMatch(/gateway 127\.0\.0\.1:\d+/)
  expect(up.stdout).toMatch(/ARM\s+https:\/\/127\.0\.0\.1:\d+/)

  const record = JSON.parse(await readFile(path.join(home, `${name}.json`), 'utf8')) as SandboxRecord
  expect(isAlive(record.pid)).toBe(true)
  expect(record.serverPids.every(isAlive)).toBe(true)

  // The exports, run through a real shell, give a client that logs in to the source.
  const env = await sandbox('env')
  expect(env.stdout).toContain('export DATAIN_ARM_TOKEN=')
  const login = await execa(
    'bash',
    ['-c', `${env.stdout}\nmariadb -h "$DATAIN_SOURCE_HOST" -P "$DATAIN_SOURCE_PORT" -u "$DATAIN_SOURCE_USER" -p"$DATAIN_SOURCE_PASSWORD" --ssl-ca="$DATAIN_SOURCE_SSL_CA" -N -e "SELECT COUNT(*) FROM shop.orders"`],
    {reject: false},
  )
  expect(login.stderr).toBe('')
  expect(login.stdout.trim()).toBe('10')

  // A second `up` finds the running one instead of starting another.
  const again = await sandbox('up')
  expect(again.stdout).toContain('already runs')

  const down = await sandbox('down')
  expect(down.exitCode).toBe(0)
  expect(isAlive(record.pid)).toBe(false)
  expect(record.serverPids.some(isAlive)).toBe(false)
  expect(existsSync(record.dir)).toBe(false)
  expect(existsSync(path.join(home, `${name}.json`))).toBe(false)

  const env2 = await sandbox('env')
  expect(env2.exitCode).toBe(2)
  expect(env2.stderr).toContain('is running')
})

it('up --target mariadb starts a plain replica: the env names the target and reaches the replica directly, nothing of Azure', async () => {
  const plain = `${name}m`
  const run = (...args: string[]) =>
    execa('npx', ['tsx', 'sandbox/cli.ts', ...args, '--name', plain], {env: {DATAIN_SANDBOX_HOME: home}, reject: false})
  try {
    const up = await run('up', '--target', 'mariadb', '--rows', '0')
    expect(up.exitCode, up.stderr).toBe(0)
    expect(up.stdout).toMatch(/^mode\s+mariadb/m)
    expect(up.stdout).not.toMatch(/^ARM/m)
    const env = await run('env')
    expect(env.stdout).toContain("export DATAIN_TARGET='mariadb'")
    expect(env.stdout).not.toMatch(/DATAIN_ARM|DATAIN_SUBSCRIPTION|NODE_EXTRA_CA_CERTS/)
    const login = await execa(
      'bash',
      ['-c', `${env.stdout}\nmariadb -h "$DATAIN_REPLICA_HOST" -P "$DATAIN_REPLICA_PORT" -u "$DATAIN_REPLICA_USER" -p"$DATAIN_REPLICA_PASSWORD" --ssl-ca="$DATAIN_REPLICA_SSL_CA" -N -e "SELECT CURRENT_USER()"`],
      {reject: false},
    )
    expect(login.stderr).toBe('')
    expect(login.stdout.trim()).toBe('datain_replica_admin@%')
    const wrong = await run('up', '--target', 'azure')
    expect(wrong.exitCode).toBe(2)
    expect(wrong.stderr).toContain('--target takes azure-mariadb or mariadb')
  } finally {
    expect((await run('down')).exitCode).toBe(0)
  }
})
