/**
 * `npm run chaos`: tries to break datain against the local sandbox and prints figures. Groups:
 * kills (SIGKILL at random moments under a write load), servers (ARM 429/500/no answer, a killed
 * replica connection, the source restarted mid-snapshot and mid-replication), bad input, secrets,
 * least privilege, a hostile source (objects whose bodies attack the copy). Each prints a summary
 * line; the run ends with `N passed, M failed` and exits 1 when M > 0.
 *
 *   npm run chaos -- [--seed N] [--kills N] [--rows N] [--objects N] [--only kills,servers,bad-input,secrets,privilege,hostile] [--target mariadb]
 *
 * `--target mariadb` runs the kills and the hostile source against a plain MariaDB replica; the
 * other groups are about Azure's gateway, ARM and procedures, and run with the default target.
 *
 * Every loop has a count and a time limit; a run takes several minutes.
 */
import {execa} from 'execa'
import {parseArgs} from 'node:util'
import {badInputGroup} from './chaos/bad-input.js'
import {hostileGroup} from './chaos/hostile.js'
import {killsGroup} from './chaos/kills.js'
import {type Group, root} from './chaos/lib.js'
import {secretsAndPrivilegeGroups} from './chaos/secrets.js'
import {serversGroup} from './chaos/servers.js'

const {values} = parseArgs({
  options: {
    seed: {type: 'string'},
    kills: {type: 'string', default: '24'},
    rows: {type: 'string', default: '20000'},
    objects: {type: 'string', default: '60'},
    only: {type: 'string'},
    target: {type: 'string', default: 'azure-mariadb'},
  },
})

const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
const only = values.only ? new Set(values.only.split(',')) : undefined
if (values.target !== 'azure-mariadb' && values.target !== 'mariadb') {
  console.error(`--target ${values.target}: chaos knows azure-mariadb (the default) and mariadb.`)
  process.exit(2)
}
const target = values.target
const AZURE_GROUPS = new Set(['servers', 'bad-input', 'secrets', 'privilege'])
const wanted = (name: string) => (!only || only.has(name)) && (target === 'azure-mariadb' || !AZURE_GROUPS.has(name))

console.log(`chaos: seed ${seed}, target ${target} (replay with: npm run chaos -- --seed ${seed}${target === 'mariadb' ? ' --target mariadb' : ''})`)
if (target === 'mariadb') console.log('chaos: --target mariadb runs the kills and the hostile source; servers, bad input, secrets and least privilege are about Azure and run without it')
// The groups run the CLI as users get it, bin/run.js over dist/: build it from the sources first.
const build = await execa('npx', ['tsc', '-p', 'tsconfig.json'], {cwd: root, stdio: 'inherit', reject: false})
if (build.exitCode !== 0) console.log('chaos: WARNING: the build failed; the groups run the dist/ built before')

const groups: Group[] = []
const started = Date.now()
if (wanted('kills')) {
  console.log('\n== kills')
  groups.push(await killsGroup({target, seed, kills: Number(values.kills), sampleRows: Number(values.rows), maxDelayMs: 3000, timeLimitMs: 25 * 60_000}))
}
if (wanted('servers')) {
  console.log('\n== servers')
  groups.push(await serversGroup())
}
if (wanted('bad-input')) {
  console.log('\n== bad input')
  groups.push(await badInputGroup({full: true}))
}
if (wanted('secrets') || wanted('privilege')) {
  console.log('\n== secrets, least privilege')
  const hostile = groups.find((g) => g.name === 'bad input')?.checks.filter((c) => c.name.startsWith('hostile names'))
  groups.push(...(await secretsAndPrivilegeGroups({full: true, hostileChecks: hostile})).filter((g) => wanted(g.name === 'least privilege' ? 'privilege' : 'secrets')))
}
if (wanted('hostile')) {
  console.log('\n== hostile source')
  groups.push(await hostileGroup({target, seed, objects: Number(values.objects)}))
}

console.log(`\n== summary (${Math.round((Date.now() - started) / 1000)} s, seed ${seed})`)
for (const g of groups) console.log(g.summary)
for (const g of groups) for (const c of g.checks.filter((c) => !c.ok)) console.log(`  failed: ${g.name}: ${c.name}`)
const passed = groups.reduce((n, g) => n + g.passed, 0)
const failed = groups.reduce((n, g) => n + g.failed, 0)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 ? 1 : 0)
