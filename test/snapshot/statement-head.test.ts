import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import type {Connection} from 'mariadb'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {MariaDbServer} from '../../sandbox/mariadb-server.js'
import {DatainError} from '../../src/lib/errors.js'
import {type ExpectedObject, rewriteHead} from '../../src/snapshot/objects/statement-head.js'
import {lexOptions} from '../../src/snapshot/objects/tokens.js'

const proc = (name: string): ExpectedObject => ({kind: 'PROCEDURE', database: 'd', name})

/** Every way MariaDB and mysqldump write a definer. */
const DEFINERS = [
  'DEFINER=`app`@`%`',
  'DEFINER=`o``dd`@`local host`',
  "DEFINER='app'@'10.0.0.%'",
  "DEFINER = 'it''s'@'h'",
  'DEFINER=app@localhost',
  'DEFINER=app@127.0.0.1',
  'DEFINER=`role_only`',
  'DEFINER=role_only',
  'DEFINER=CURRENT_USER',
  'DEFINER=CURRENT_USER()',
  'DEFINER = CURRENT_USER ( )',
  'DEFINER=CURRENT_ROLE',
  'DEFINER=`名前`@`ホスト`',
]

// Pieces of a body: everything that broke the line-based transform, and more.
const nasty = fc.constantFrom(';;', '//', '$$', '\n', '\r\n', 'SET GLOBAL x=1;', 'DEFINER=`a`@`b`', '/*!50003 CREATE*/', '*/', '/*', '-- ', '#', '\\', "'", '"', '`', 'ENABLE', 'DO', 'ÿ', '😀', '名前', '\t', 'DELIMITER ;;')
const text = fc.array(fc.oneof(nasty, fc.string({maxLength: 6})), {maxLength: 6}).map((parts) => parts.join(''))
const sqlString = text.map((s) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`)
const dqString = text.map((s) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '""')}"`)
// Names are utf8mb3: no character beyond the BMP (1300).
const alias = text.filter((s) => s.length > 0 && !s.endsWith(' ') && !/[\u{10000}-\u{10ffff}]/u.test(s)).map((s) => `\`${s.replaceAll('`', '``')}\``)
const comment = fc.oneof(
  text.map((s) => `/* ${s.replaceAll('*/', '* /').replaceAll('/*!', '/* !').replaceAll('/*M!', '/*M !')} */`),
  text.map((s) => `-- ${s.replace(/[\r\n]/g, ' ')}\n`),
  text.map((s) => `# ${s.replace(/[\r\n]/g, ' ')}\n`),
)
/** A body of SELECTs of literals, comments between their tokens; "…" strings only where they are strings (not under ANSI_QUOTES). */
function bodyOf(doubleQuotes: boolean): fc.Arbitrary<string> {
  const expression = fc.tuple(doubleQuotes ? fc.oneof(sqlString, dqString) : sqlString, fc.option(alias, {nil: undefined})).map(([v, a]) => (a ? `${v} AS ${a}` : v))
  const select = fc
    .tuple(fc.array(fc.tuple(expression, fc.option(comment, {nil: undefined})), {minLength: 1, maxLength: 4}), fc.option(comment, {nil: undefined}))
    .map(([items, lead]) => `${lead ?? ''}SELECT ${items.map(([e, c]) => `${e}${c ? ` ${c}` : ''}`).join(', ')}`)
  return fc.array(select, {minLength: 1, maxLength: 3}).map((selects) => `BEGIN\n${selects.join(';\n')};\nEND`)
}
const body = bodyOf(true)

describe('the head of a SHOW CREATE statement', () => {
  it('loses its DEFINER in every form, and nothing else', () => {
    for (const definer of DEFINERS) {
      const tail = "PROCEDURE `p`() BEGIN SELECT 'DEFINER=`x`@`y`'; END"
      expect(rewriteHead(`CREATE ${definer} ${tail}`, proc('p')), definer).toEqual({sql: `CREATE ${tail}`, definerRemoved: true, eventDisabled: false})
    }
    const view = rewriteHead('CREATE ALGORITHM=UNDEFINED DEFINER=`a`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1 AS `1`', {kind: 'VIEW', database: 'd', name: 'v'})
    expect(view.sql).toBe('CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1 AS `1`')
    // mysqldump's versioned form: the comment's content is code.
    const trigger = rewriteHead('CREATE /*!50017 DEFINER=`a`@`%`*/ /*!50003 TRIGGER d.`t` BEFORE INSERT ON x FOR EACH ROW SET @a = 1 */', {kind: 'TRIGGER', database: 'd', name: 't'})
    expect(trigger.sql).toBe('CREATE /*!50017 */ /*!50003 TRIGGER d.`t` BEFORE INSERT ON x FOR EACH ROW SET @a = 1 */')
  })

  it('reads heads written in ANSI_QUOTES and ORACLE mode, packages and their bodies', () => {
    const lex = lexOptions('PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ORACLE')
    const body = 'AS\n  FUNCTION f RETURN INT AS BEGIN RETURN 1; END;\nEND'
    const pkg = (kind: 'PACKAGE' | 'PACKAGE BODY') => ({kind, database: 'd', name: 'p"k'})
    expect(rewriteHead(`CREATE DEFINER="root"@"localhost" PACKAGE BODY "p""k" ${body}`, pkg('PACKAGE BODY'), lex).sql).toBe(`CREATE PACKAGE BODY "p""k" ${body}`)
    expect(rewriteHead(`CREATE DEFINER="root"@"localhost" PACKAGE "p""k" ${body}`, pkg('PACKAGE'), lex).sql).toBe(`CREATE PACKAGE "p""k" ${body}`)
    expect(() => rewriteHead(`CREATE PACKAGE BODY "p""k" ${body}`, pkg('PACKAGE'), lex)).toThrow(/names "BODY" instead/)
  })

  it('makes an enabled event DISABLE ON SLAVE in its head only', () => {
    const event = (head: string) => rewriteHead(`CREATE DEFINER=\`a\`@\`%\` EVENT \`e\` ${head} DO BEGIN SELECT 'ENABLE'; ALTER EVENT e ENABLE; END`, {kind: 'EVENT', database: 'd', name: 'e'})
    expect(event("ON SCHEDULE EVERY 1 DAY STARTS '2024-01-01' ON COMPLETION PRESERVE ENABLE COMMENT 'ENABLE it'")).toEqual({
      sql: "CREATE EVENT `e` ON SCHEDULE EVERY 1 DAY STARTS '2024-01-01' ON COMPLETION PRESERVE DISABLE ON SLAVE COMMENT 'ENABLE it' DO BEGIN SELECT 'ENABLE'; ALTER EVENT e ENABLE; END",
      definerRemoved: true,
      eventDisabled: true,
    })
    expect(event('ON SCHEDULE EVERY 1 DAY ON COMPLETION NOT PRESERVE DISABLE').eventDisabled).toBe(false)
  })

  it('accepts the expected name qualified or not, in either case where the server ignores it', () => {
    expect(rewriteHead('CREATE PROCEDURE `d`.`P`() SELECT 1', proc('p')).sql).toBe('CREATE PROCEDURE `d`.`P`() SELECT 1')
    expect(rewriteHead('CREATE TABLE `t` (a int)', {kind: 'TABLE', database: 'd', name: 't'}).sql).toBe('CREATE TABLE `t` (a int)')
    expect(() => rewriteHead('CREATE TABLE `T` (a int)', {kind: 'TABLE', database: 'd', name: 't'})).toThrow(DatainError)
    expect(() => rewriteHead('CREATE PROCEDURE `e`.`p`() SELECT 1', proc('p'))).toThrow(/names "e"\."p" instead/)
  })

  it('refuses any answer that is not the CREATE of the object asked for, naming it', () => {
    const hostile: Array<[string, ExpectedObject]> = [
      ["LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t", proc('p')],
      ['DROP DATABASE `d`', {kind: 'DATABASE', database: 'd', name: 'd'}],
      ['CREATE DATABASE `d`; DROP DATABASE `mysql`', {kind: 'DATABASE', database: 'd', name: 'd'}],
      ['CREATE OR REPLACE DATABASE `d`', {kind: 'DATABASE', database: 'd', name: 'd'}],
      ['CREATE DATABASE `other`', {kind: 'DATABASE', database: 'd', name: 'd'}],
      ['CREATE TABLE `t` (a int) SELECT * FROM mysql.user', {kind: 'TABLE', database: 'd', name: 't'}],
      ['CREATE TABLE `t` (a int) AS (SELECT 1)', {kind: 'TABLE', database: 'd', name: 't'}],
      ['CREATE TABLE `t` LIKE mysql.user', {kind: 'TABLE', database: 'd', name: 't'}],
      ['CREATE TABLE `t` (a int); SET GLOBAL read_only = 1', {kind: 'TABLE', database: 'd', name: 't'}],
      ['CREATE FUNCTION `p`() RETURNS int RETURN 1', proc('p')],
      ['CREATE PROCEDURE `q`() SELECT 1', proc('p')],
      ['CREATE /* PROCEDURE `p` */ USER x', proc('p')],
      ["CREATE DEFINER='a'@'b' SQL SECURITY INVOKER VIEW `v2` AS SELECT 1", {kind: 'VIEW', database: 'd', name: 'v'}],
      ['/*!50003 CREATE*/ EVENT `e` ON SCHEDULE EVERY 1 DAY', {kind: 'EVENT', database: 'd', name: 'e'}],
      ['', proc('p')],
    ]
    for (const [sql, expected] of hostile) {
      expect(() => rewriteHead(sql, expected), sql).toThrow(DatainError)
      try {
        rewriteHead(sql, expected)
      } catch (error) {
        expect((error as DatainError).code).toBe('E_SNAPSHOT_DEFINITION')
        expect((error as Error).message).toContain(`${expected.database === expected.name && expected.kind === 'DATABASE' ? 'database' : expected.kind.toLowerCase()} ${expected.kind === 'DATABASE' ? '' : 'd.'}${expected.name}`)
        expect((error as Error).message).toContain('ran nothing')
      }
    }
  })

  it('leaves any body byte for byte as it was, whatever the head (property)', () => {
    const head = fc.tuple(
      fc.constantFrom('', 'OR REPLACE '),
      fc.constantFrom(...DEFINERS),
      fc.constantFrom(' ', '\n', ' /* c */ ', ' /*!50017 */ ', ' -- c\n', ' #c\n'),
    )
    fc.assert(
      fc.property(head, body, fc.constantFrom('`p`', 'p', '`d`.`p`', 'd.p', '`p``q`'), ([replace, definer, gap], b, name) => {
        const expectedName = name.includes('``') ? 'p`q' : 'p'
        const rest = `PROCEDURE ${name}()\n${b}`
        const sql = `CREATE ${replace}${definer}${gap}${rest}`
        const out = rewriteHead(sql, proc(expectedName))
        expect(out.sql).toBe(`CREATE ${replace}${gap.trimStart() === '' ? '' : gap.trimStart()}${rest}`)
        expect(out.definerRemoved).toBe(true)
      }),
      {numRuns: 500},
    )
  })
})

describe('statements rewritten by their head, on a real server', () => {
  let server: MariaDbServer
  let dir: string
  let conn: Connection

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'datain-head-'))
    server = await MariaDbServer.start({dir, serverId: 77})
    conn = await server.connectAsRoot()
    await conn.query('CREATE DATABASE src')
    await conn.query('CREATE DATABASE dst')
    await conn.query("CREATE USER 'someone'@'%'")
  })

  afterAll(async () => {
    await conn?.end()
    await server?.stop()
    await rm(dir, {recursive: true, force: true})
  })

  it('are accepted, and the replica reads back the very body the source has (property)', async () => {
    let n = 0
    const definers = fc.constantFrom('DEFINER=`someone`@`%`', "DEFINER='someone'@'%'", 'DEFINER=CURRENT_USER', 'DEFINER=someone@`%`', '')
    const modes = fc.constantFrom('', 'ANSI_QUOTES', 'NO_BACKSLASH_ESCAPES', 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION')
    const modeAndBody = modes.chain((mode) => fc.tuple(fc.constant(mode), bodyOf(mode !== 'ANSI_QUOTES')))
    await fc.assert(
      fc.asyncProperty(definers, modeAndBody, fc.boolean(), async (definer, [mode, written], asEvent) => {
        const name = `o${n++} ;; \`x\``
        const quoted = `\`${name.replaceAll('`', '``')}\``
        const kind = asEvent ? 'EVENT' : 'PROCEDURE'
        await conn.query('USE src')
        await conn.query('SET SESSION sql_mode = ?', [mode])
        await conn.query(
          asEvent
            ? `CREATE ${definer} EVENT ${quoted} ON SCHEDULE EVERY 1 DAY ON COMPLETION PRESERVE ENABLE COMMENT 'ENABLE ;;' DO ${written}`
            : `CREATE ${definer} PROCEDURE ${quoted}() ${written}`,
        )
        await conn.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
        const [shown] = (await conn.query(`SHOW CREATE ${kind} src.${quoted}`)) as Array<Record<string, string>>
        const statement = shown![asEvent ? 'Create Event' : 'Create Procedure']!
        const out = rewriteHead(statement, {kind, database: 'src', name}, lexOptions(shown!.sql_mode!))
        expect(out.definerRemoved).toBe(true)
        expect(out.eventDisabled).toBe(asEvent)
        await conn.query('USE dst')
        await conn.query('SET SESSION sql_mode = ?', [shown!.sql_mode])
        await conn.query(out.sql)
        await conn.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
        // information_schema shows a body re-written (a tab in a string as \t); mysql.proc and mysql.event keep its bytes.
        const bodies = (await conn.query(
          `SELECT db, HEX(body) AS body, ${asEvent ? 'status' : 'definer'} AS s FROM mysql.${asEvent ? 'event' : 'proc'} WHERE name = ? ORDER BY 1`,
          [name],
        )) as Array<{db: string; body: string; s: string}>
        expect(bodies.map((r) => r.db)).toEqual(['dst', 'src'])
        expect(bodies[0]!.body).toBe(bodies[1]!.body)
        expect(bodies[0]!.body).toBe(Buffer.from(written).toString('hex').toUpperCase())
        expect(bodies[0]!.s).toBe(asEvent ? 'SLAVESIDE_DISABLED' : 'root@localhost')
        const shownBody = (db: string) => conn.query(`SHOW CREATE ${kind} ${db}.${quoted}`).then((rows: Array<Record<string, string>>) => rows[0]![asEvent ? 'Create Event' : 'Create Procedure']!)
        const after = asEvent ? /\bDO\b/ : /\(\)/
        expect((await shownBody('dst')).split(after).slice(1).join('')).toBe((await shownBody('src')).split(after).slice(1).join(''))
      }),
      {numRuns: 120},
    )
  })
})
