import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import type {Connection} from 'mariadb'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {MariaDbServer} from '../../sandbox/mariadb-server.js'
import {quoteIdentifier as q, quoteQualified} from '../../src/lib/sql.js'
import {tokenize} from '../../src/snapshot/objects/tokens.js'
import {itemText, parseCreateTable, withoutItems} from '../../src/snapshot/parallel/ddl-items.js'
import {addKeysStatement, deferKeys, foreignKeyTargets} from '../../src/snapshot/parallel/deferred-keys.js'

/**
 * Secondary keys after the rows (issue 17): the text module that takes a table's plain KEYs out of
 * its SHOW CREATE TABLE and the ALTER that adds them back. Unit cases, properties over hostile
 * generated texts, and on a real server: the table rebuilt as CREATE then ALTER has exactly the
 * source's SHOW CREATE TABLE.
 */

/** A CREATE TABLE laid out as SHOW CREATE TABLE writes it. */
const table = (items: string[], options = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci', name = 't') =>
  `CREATE TABLE ${q(name)} (\n  ${items.join(',\n  ')}\n) ${options}`

const SYSBENCH = [
  '`id` int(11) NOT NULL AUTO_INCREMENT',
  "`k` int(11) NOT NULL DEFAULT 0",
  "`c` char(120) NOT NULL DEFAULT ''",
  "`pad` char(60) NOT NULL DEFAULT ''",
  'PRIMARY KEY (`id`)',
  'KEY `k_1` (`k`)',
]

/**
 * A single statement: every token closed, no `;`, no comment that would swallow what follows, and
 * versioned comments that end at the same place whether the server runs or skips them.
 */
function isOneStatement(sql: string): boolean {
  let inCode = false
  for (const token of tokenize(`${sql}\n`)) {
    if (token.kind !== 'space' && token.end > sql.length) return false
    if (token.kind === 'symbol' && sql[token.start] === ';') return false
    if (token.kind === 'comment' && !sql.startsWith('/*', token.start)) return false
    if (token.kind === 'code-open' || token.kind === 'code-close') inCode = token.kind === 'code-open'
    else if (inCode && sql.slice(token.start, token.end).includes('*/')) return false
  }
  return !inCode
}

describe('deferKeys', () => {
  it('takes the plain keys out of a sysbench table, leaving the rest byte for byte', () => {
    const ddl = table(SYSBENCH, 'ENGINE=InnoDB AUTO_INCREMENT=10001 DEFAULT CHARSET=latin1')
    expect(deferKeys(ddl)).toEqual({create: table(SYSBENCH.slice(0, 5), 'ENGINE=InnoDB AUTO_INCREMENT=10001 DEFAULT CHARSET=latin1'), keys: [{name: 'k_1', clause: 'KEY `k_1` (`k`)'}]})
  })

  it('keeps each key clause as written: prefixes, DESC, comments with quotes and KEY, IGNORED, USING BTREE', () => {
    const keys = [
      'KEY `p` (`c`(10),`k` DESC)',
      "KEY `cm` (`k`) COMMENT 'it''s a KEY, (not) \\' ) , KEY `x` (`y`)'",
      'KEY `ig` (`pad`) IGNORED',
      'KEY `bt` (`k`,`c`) USING BTREE',
      'KEY `kb` (`k`) KEY_BLOCK_SIZE=8 COMMENT "a \\" b"',
    ]
    const ddl = table([...SYSBENCH.slice(0, 4), 'PRIMARY KEY (`id`)', 'UNIQUE KEY `u` (`c`)', ...keys, "CONSTRAINT `ch` CHECK (`k` >= 0 and `c` <> ',KEY')"])
    const deferred = deferKeys(ddl)!
    expect(deferred.keys.map((k) => k.clause)).toEqual(keys)
    expect(deferred.keys.map((k) => k.name)).toEqual(['p', 'cm', 'ig', 'bt', 'kb'])
    expect(deferred.create).toBe(table([...SYSBENCH.slice(0, 4), 'PRIMARY KEY (`id`)', 'UNIQUE KEY `u` (`c`)', "CONSTRAINT `ch` CHECK (`k` >= 0 and `c` <> ',KEY')"]))
  })

  it('reads names holding backticks, line breaks, commas, parentheses, quotes and keywords as names', () => {
    const col = 'a`b,\n(KEY `x` (`y`)),\'"FOREIGN KEY REFERENCES VIRTUAL PARTITION BY'
    const key = 'k`,\n)KEY FULLTEXT ('
    const ddl = table([`${q(col)} int(11) NOT NULL`, `${q('id')} int NOT NULL`, 'PRIMARY KEY (`id`)', `KEY ${q(key)} (${q(col)})`], "ENGINE=InnoDB COMMENT='PARTITION BY HASH (x) WITH SYSTEM VERSIONING'", 'T`\n(,')
    const deferred = deferKeys(ddl)!
    expect(deferred.keys).toEqual([{name: key, clause: `KEY ${q(key)} (${q(col)})`}])
    expect(deferred.create).toBe(table([`${q(col)} int(11) NOT NULL`, `${q('id')} int NOT NULL`, 'PRIMARY KEY (`id`)'], "ENGINE=InnoDB COMMENT='PARTITION BY HASH (x) WITH SYSTEM VERSIONING'", 'T`\n(,'))
  })

  it('defers a first item that is a key, keeping what follows', () => {
    const ddl = 'CREATE TABLE `t` (KEY `k` (`a`), `a` int NOT NULL, PRIMARY KEY (`a`)) ENGINE=InnoDB'
    expect(deferKeys(ddl)).toEqual({create: 'CREATE TABLE `t` (`a` int NOT NULL, PRIMARY KEY (`a`)) ENGINE=InnoDB', keys: [{name: 'k', clause: 'KEY `k` (`a`)'}]})
  })

  const base = ['`id` int NOT NULL', '`a` int DEFAULT NULL', 'PRIMARY KEY (`id`)', 'KEY `ka` (`a`)']
  const ineligible: Record<string, string> = {
    'no plain key': table(base.slice(0, 3)),
    'MyISAM': table(base, 'ENGINE=MyISAM'),
    'no engine': table(base, 'DEFAULT CHARSET=utf8mb4'),
    'two engines': table(base, 'ENGINE=InnoDB ENGINE=MyISAM'),
    'ENGINE=InnoDB only in a string': table(base, "ENGINE=Aria COMMENT='ENGINE=InnoDB'"),
    'partitioned (versioned comment)': table(base, 'ENGINE=InnoDB\n/*!50100 PARTITION BY HASH (`id`)\nPARTITIONS 4 */'),
    'partitioned (plain)': table(base, 'ENGINE=InnoDB partition by key (`id`) partitions 2'),
    'system versioned': table(base, 'ENGINE=InnoDB WITH SYSTEM VERSIONING'),
    'system versioned in a versioned comment (code, not a comment)': table(base, 'ENGINE=InnoDB /*!100301 WITH SYSTEM VERSIONING */'),
    'CREATE … SELECT': table(base, 'ENGINE=InnoDB SELECT 1 AS `a`'),
    'no primary key': table(['`id` int NOT NULL', '`a` int', 'UNIQUE KEY `u` (`id`)', 'KEY `ka` (`a`)']),
    'foreign key': table([...base, 'CONSTRAINT `f` FOREIGN KEY (`a`) REFERENCES `p` (`id`)']),
    'inline REFERENCES': table(['`id` int NOT NULL', '`a` int REFERENCES `p` (`id`)', 'PRIMARY KEY (`id`)', 'KEY `ka` (`a`)']),
    'fulltext': table(['`id` int NOT NULL', '`a` text', 'PRIMARY KEY (`id`)', 'KEY `k` (`id`)', 'FULLTEXT KEY `f` (`a`)']),
    'spatial': table(['`id` int NOT NULL', '`g` point NOT NULL', 'PRIMARY KEY (`id`)', 'KEY `k` (`id`)', 'SPATIAL KEY `s` (`g`)']),
    'virtual column': table([...base, '`v` int GENERATED ALWAYS AS (`a` + 1) VIRTUAL']),
    'stored column': table([...base, '`v` int GENERATED ALWAYS AS (`a` + 1) STORED']),
    'persistent column, AS only': table([...base, '`v` int AS (`a` + 1) PERSISTENT']),
    'AS ( without a kind': table([...base, '`v` int AS (`a` + 1)']),
    'period': table([...base, '`s` date NOT NULL', '`e` date NOT NULL', 'PERIOD FOR `p` (`s`, `e`)']),
    'long unique': table([...base, '`b` blob', 'UNIQUE KEY `u` (`b`) USING HASH']),
    'AUTO_INCREMENT led only by a plain key': table(['`a` int NOT NULL', '`id` int NOT NULL AUTO_INCREMENT', 'PRIMARY KEY (`a`,`id`)', 'KEY `kid` (`id`)']),
    'duplicate key names': table([...base, 'KEY `KA` (`id`,`a`)']),
    'INDEX item': table([...base, 'INDEX `i` (`a`)']),
    'unnamed key': table([...base, 'KEY (`a`)']),
  }
  for (const [why, ddl] of Object.entries(ineligible)) it(`is undefined for a table not eligible: ${why}`, () => expect(deferKeys(ddl)).toBeUndefined())

  const eligible: Record<string, string> = {
    'FOREIGN KEY … REFERENCES in a column name': table([...base, '`FOREIGN KEY (a) REFERENCES p (id)` int']),
    'PARTITION BY in a table comment': table(base, "ENGINE=InnoDB COMMENT='PARTITION BY HASH(id) WITH SYSTEM VERSIONING'"),
    'PARTITION BY in a plain comment': table(base, 'ENGINE=InnoDB /* PARTITION BY HASH (id) */'),
    'WITH SYSTEM VERSIONING in a plain comment': table(base, 'ENGINE=InnoDB /* WITH SYSTEM VERSIONING */'),
    'GENERATED ALWAYS AS (…) VIRTUAL in a default': table([...base, "`v` varchar(40) DEFAULT 'GENERATED ALWAYS AS (1) VIRTUAL'"]),
    'FULLTEXT, SPATIAL in key names': table([...base, 'KEY `FULLTEXT` (`a`)', 'KEY `SPATIAL KEY` (`id`)']),
    'USING HASH in a comment': table([...base, "UNIQUE KEY `u` (`a`) COMMENT 'USING HASH'"]),
    'PERIOD FOR in a check': table([...base, "CONSTRAINT `PERIOD FOR` CHECK (`a` <> 'PERIOD FOR x')"]),
    'AS in a default expression': table([...base, '`d` varchar(9) DEFAULT cast(`a` as char charset utf8mb4)']),
    'engine in lower case, spaced': table(base, 'engine = innodb'),
    'a /* mariadb-5.3 */ comment': table([...base, '`t` datetime /* mariadb-5.3 */ DEFAULT NULL']),
    'a compressed column (words in a versioned comment)': table([...base, '`b` blob /*M!100301 COMPRESSED*/ DEFAULT NULL']),
  }
  for (const [why, ddl] of Object.entries(eligible)) it(`is defined when keywords stand only in names, strings or comments: ${why}`, () => expect(deferKeys(ddl)?.keys.length).toBeGreaterThan(0))

  const sysbench = table(SYSBENCH)
  const malformed: Record<string, string> = {
    'empty': '',
    'a view': "CREATE VIEW `v` AS SELECT 1",
    'no body': 'CREATE TABLE `t` ENGINE=InnoDB',
    'a name without backticks': sysbench.replace('`t`', 't'),
    'a qualified name': sysbench.replace('`t`', '`d`.`t`'),
    'CREATE OR REPLACE': sysbench.replace('CREATE', 'CREATE OR REPLACE'),
    'unterminated string': sysbench.replace("DEFAULT ''", "DEFAULT '\\'"),
    'unterminated identifier': sysbench.replace('`pad`', '`pad'),
    'unterminated comment': `${sysbench} /* x`,
    'unbalanced (': sysbench.replace('(`id`)', '((`id`)'),
    'unbalanced )': sysbench.replace('(`k`)', '(`k`))'),
    'body not closed': sysbench.slice(0, sysbench.lastIndexOf(')')),
    'a second statement': `${sysbench}; DROP TABLE \`x\``,
    'a # comment': sysbench.replace('PRIMARY', '# x\n PRIMARY'),
    'a -- comment': sysbench.replace('PRIMARY', '-- x\n PRIMARY'),
    'an empty item': sysbench.replace(',\n  KEY', ',,\n  KEY'),
    'a trailing comma': sysbench.replace('(`k`)\n', '(`k`),\n'),
    'an item of only a comment': sysbench.replace(',\n  KEY', ', /* c */,\n  KEY'),
    'a versioned comment in the body': sysbench.replace('KEY `k_1`', '/*!99999 KEY `z` (`k`), */ KEY `k_1`'),
    'a versioned comment left open': `${sysbench} /*!50100 PARTITION BY HASH (id)`,
    'a comment inside a versioned one': `${sysbench} /*!50100 /* x */ COMMENT 'y' */`,
    // A server older than 9.99.99 skips to the first */, inside the string: then `; DROP …` is a second statement.
    'a string holding */ in a versioned comment': `${sysbench} /*!99999 COMMENT='*/; DROP TABLE x; -- ' */`,
    'a name holding */ in a versioned comment': `${sysbench} /*!99999 \`*/\` */`,
    'a comment inside a versioned one in the body': sysbench.replace('NOT NULL', 'NOT NULL /*!50100 /* x */ */'),
    'a versioned comment in the body left open': sysbench.replace('NOT NULL', 'NOT NULL /*!50100 COMPRESSED'),
    // The server takes 5 or 6 digits for a version and runs the others as code (a 7th, or all of 1 to 4): `1 COMMENT …`, a syntax error at best.
    'a versioned comment of 7 digits': `${sysbench} /*!1000001 COMMENT='x' */`,
    'a versioned comment of 4 digits in the body': sysbench.replace('`pad` char(60) NOT NULL', '`pad` char(60) /*!1003 COMPRESSED*/ NOT NULL'),
    'a MariaDB versioned comment of 7 digits in the body': sysbench.replace('NOT NULL DEFAULT 0', 'NOT NULL /*M!1003011 COMPRESSED*/ DEFAULT 0'),
    // The server reads a name \u00a0KEY there; the lexer's \s a space.
    'a no-break space before a word': sysbench.replace(',\n  KEY', ',\u00a0KEY'),
  }
  for (const [why, ddl] of Object.entries(malformed)) {
    it(`is undefined for a text that does not parse cleanly: ${why}`, () => {
      expect(deferKeys(ddl)).toBeUndefined()
      expect(foreignKeyTargets(ddl, 'd')).toBe('unknown')
    })
  }
})

describe('addKeysStatement', () => {
  it('adds the keys in one ALTER, names quoted', () => {
    expect(addKeysStatement('d`b', 't\n;', [{name: 'k', clause: 'KEY `k` (`a`)'}, {name: 'j', clause: "KEY `j` (`b`(3) DESC) COMMENT ';'"}])).toBe(
      "ALTER TABLE `d``b`.`t\n;` ADD KEY `k` (`a`), ADD KEY `j` (`b`(3) DESC) COMMENT ';', ALGORITHM=DEFAULT",
    )
  })

  const hostile = [
    'KEY `k` (`a`); DROP TABLE `x`',
    'KEY `k` (`a`)), ADD UNIQUE KEY `u` (`b`',
    'KEY `k` (`a`), DROP PRIMARY KEY',
    'KEY `k` (`a`) -- ',
    'KEY `k` (`a`) # x',
    "KEY `k` (`a`) COMMENT '",
    'KEY `k` (`a`) /*',
    'KEY `k` (`a`) /*!99999 , DROP COLUMN `a` */',
    'UNIQUE KEY `u` (`a`)',
    'PRIMARY KEY (`a`)',
    ' KEY `k` (`a`)',
    'FULLTEXT KEY `f` (`a`)',
    '',
  ]
  for (const clause of hostile) it(`refuses a clause that is not one plain KEY: ${JSON.stringify(clause)}`, () => expect(() => addKeysStatement('d', 't', [{name: 'k', clause}])).toThrow())
  it('refuses no keys', () => expect(() => addKeysStatement('d', 't', [])).toThrow())
})

describe('foreignKeyTargets', () => {
  const child = (fks: string[]) => table(['`id` int NOT NULL', '`a` int', '`b` int', 'PRIMARY KEY (`id`)', 'KEY `ka` (`a`)', ...fks])
  it('names the referenced tables, unqualified ones in the table\'s own database, each once', () => {
    const ddl = child([
      'CONSTRAINT `f1` FOREIGN KEY (`a`) REFERENCES `p` (`id`) ON DELETE CASCADE ON UPDATE SET NULL',
      'CONSTRAINT `f2` FOREIGN KEY (`a`, `b`) REFERENCES `o``d`.`p.q`\n(`x`, `y`) ON DELETE NO ACTION ON UPDATE RESTRICT MATCH FULL',
      'CONSTRAINT `f3` FOREIGN KEY `fk3` (`b`) REFERENCES `p` (`id`) ON DELETE SET DEFAULT',
      'FOREIGN KEY (`b`) REFERENCES `REFERENCES ``x`` (`.`.` (`id`)',
    ])
    expect(foreignKeyTargets(ddl, 'own')).toEqual([
      {database: 'own', name: 'p'},
      {database: 'o`d', name: 'p.q'},
      {database: 'REFERENCES `x` (', name: '.'},
    ])
  })

  it('is [] without foreign keys, whatever the names say', () => {
    expect(foreignKeyTargets(table(SYSBENCH), 'd')).toEqual([])
    expect(foreignKeyTargets(table(['`FOREIGN KEY (a) REFERENCES p (id)` int', "`c` int COMMENT 'REFERENCES `p`'", 'PRIMARY KEY (`c`)']), 'd')).toEqual([])
    expect(foreignKeyTargets(table(SYSBENCH, 'ENGINE=InnoDB /*!50100 PARTITION BY HASH (`id`) PARTITIONS 2 */'), 'd')).toEqual([])
  })

  const unknown: Record<string, string> = {
    'inline REFERENCES on a column': table(['`id` int NOT NULL REFERENCES `p` (`id`)', 'PRIMARY KEY (`id`)']),
    'no referenced columns': child(['CONSTRAINT `f` FOREIGN KEY (`a`) REFERENCES `p`']),
    'an unquoted table': child(['CONSTRAINT `f` FOREIGN KEY (`a`) REFERENCES p (`id`)']),
    'a dangling dot': child(['CONSTRAINT `f` FOREIGN KEY (`a`) REFERENCES `d`. (`id`)']),
    'words after that are not actions': child(['CONSTRAINT `f` FOREIGN KEY (`a`) REFERENCES `p` (`id`) ON DELETE CASCADE REFERENCES `q` (`id`)']),
    'a string after': child(["CONSTRAINT `f` FOREIGN KEY (`a`) REFERENCES `p` (`id`) 'x'"]),
    'FOREIGN without KEY': child(['CONSTRAINT `f` FOREIGN (`a`) REFERENCES `p` (`id`)']),
  }
  for (const [why, ddl] of Object.entries(unknown)) it(`is 'unknown' when a foreign key cannot be read: ${why}`, () => expect(foreignKeyTargets(ddl, 'd')).toBe('unknown'))
})

// Properties ---------------------------------------------------------------------------------

// Names from pieces that a lexer or a regex would take for structure.
const PIECES = ['`', '``', '\n', ',', '(', ')', "'", '"', '\\', ' ', '/*', '*/', '/*!50100', '#', '-- ', ';', '.', 'KEY', 'FOREIGN', 'REFERENCES', 'VIRTUAL', 'PARTITION BY', 'PRIMARY', 'a', 'Z', 'é', '\u00a0', '/*M!100301 COMPRESSED*/']
const hostileText = fc.array(fc.constantFrom(...PIECES), {maxLength: 5}).map((p) => p.join(''))
/** A name MariaDB accepts: ≤ 64 characters, not ending in a space; `tag` keeps it unique (case-insensitively). */
const hostileName = (tag: string) => hostileText.map((s) => `${tag}${s}`.slice(0, 60) + '_')
const stringLiteral = hostileText.map((s) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`)
const quotedLiteral = hostileText.map((s) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`)
const comment = fc.option(fc.oneof(stringLiteral, quotedLiteral).map((s) => ` COMMENT ${s}`), {nil: ''})

/** Items of a generated table: columns first, then PRIMARY, UNIQUE, KEY and CHECK items in any order. */
const generatedItems = fc
  .tuple(fc.array(fc.tuple(hostileName('c'), comment), {minLength: 1, maxLength: 4}), fc.array(fc.tuple(fc.constantFrom('KEY', 'UNIQUE KEY', 'CHECK'), hostileName('k'), comment, fc.boolean()), {maxLength: 6}))
  .map(([columns, keys]) => {
    const names = columns.map(([name], i) => `${i}${name}`)
    const items = names.map((name, i) => ({kind: 'column', text: `${q(name)} varchar(20) NOT NULL${columns[i]![1]}`}))
    items.push({kind: 'primary', text: `PRIMARY KEY (${q(names[0]!)})`})
    keys.forEach(([kind, name, note, desc], i) => {
      const column = q(names[i % names.length]!)
      const text = kind === 'CHECK' ? `CONSTRAINT ${q(`${i}${name}`)} CHECK (${column} <> ${JSON.stringify(name)})` : `${kind} ${q(`${i}${name}`)} (${column}(5)${desc ? ' DESC' : ''})${note}`
      items.splice(1 + Math.floor((i * 7) % items.length), 0, {kind, text})
    })
    return items
  })

describe('deferKeys and addKeysStatement, properties', () => {
  it('split a generated table into its KEY items and the rest, each exactly as written', () => {
    fc.assert(
      fc.property(generatedItems, hostileName('t'), stringLiteral, (items, name, note) => {
        const options = `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT=${note}`
        const ddl = table(items.map((i) => i.text), options, name)
        const keys = items.filter((i) => i.kind === 'KEY').map((i) => i.text)
        expect(parseCreateTable(ddl)?.items.map((item) => itemText(parseCreateTable(ddl)!, item))).toEqual(items.map((i) => i.text))
        const deferred = deferKeys(ddl)
        if (keys.length === 0) {
          expect(deferred).toBeUndefined()
          return
        }
        expect(deferred?.keys.map((k) => k.clause)).toEqual(keys)
        expect(deferred!.create).toBe(table(items.filter((i) => i.kind !== 'KEY').map((i) => i.text), options, name))
        const alter = addKeysStatement('d', name, deferred!.keys)
        expect(alter).toBe(`ALTER TABLE ${quoteQualified('d', name)} ${keys.map((k) => `ADD ${k}`).join(', ')}, ALGORITHM=DEFAULT`)
        expect(isOneStatement(alter)).toBe(true)
      }),
      {numRuns: 3000},
    )
  })

  it('never throw, and whatever they return is one statement, on texts cut, spliced or made of pieces', () => {
    const mutated = fc.tuple(generatedItems, fc.nat(), fc.nat(), fc.oneof(hostileText, fc.string({maxLength: 4}))).map(([items, at, to, insert]) => {
      const ddl = table(items.map((i) => i.text))
      return ddl.slice(0, at % (ddl.length + 1)) + insert + ddl.slice(to % (ddl.length + 1))
    })
    fc.assert(
      fc.property(fc.oneof(mutated, hostileText.map((s) => `CREATE TABLE \`t\` (${s}) ENGINE=InnoDB`), fc.string()), hostileName('d'), (ddl, db) => {
        expect(() => foreignKeyTargets(ddl, db)).not.toThrow()
        const deferred = deferKeys(ddl)
        if (deferred === undefined) return
        expect(isOneStatement(deferred.create)).toBe(true)
        expect(isOneStatement(addKeysStatement(db, db, deferred.keys))).toBe(true)
        for (const key of deferred.keys) expect(key.clause).toMatch(/^KEY\s*`/i)
      }),
      {numRuns: 10000},
    )
  })
})

// On a real server ------------------------------------------------------------------------------

// Names the server accepts (utf8mb3, ≤ 64 characters, no trailing space) from the same hostile pieces.
const serverName = (tag: string) => fc.array(fc.constantFrom(...PIECES), {maxLength: 4}).map((p) => `${tag}${p.join('')}`.slice(0, 50) + '_')
const COLUMN_TYPES = [
  'int(11) DEFAULT NULL',
  'int(11) NOT NULL',
  'varchar(30) NOT NULL',
  'varchar(30) DEFAULT NULL',
  'text DEFAULT NULL',
  'blob DEFAULT NULL',
  'uuid DEFAULT NULL',
  'datetime(6) DEFAULT NULL',
  'decimal(10,2) NOT NULL DEFAULT 0.00',
] as const
/** A value of the type for row n, distinct per n (unique keys). */
const VALUES: Record<string, (n: number) => string> = {
  int: (n) => String(n),
  uuid: (n) => `'00000000-0000-4000-8000-${String(n).padStart(12, '0')}'`,
  datetime: (n) => `'2026-01-0${n} 01:02:03.${n}00006'`,
  decimal: (n) => `${n}.25`,
}
const keyComment = fc.option(fc.oneof(stringLiteral, quotedLiteral).map((s) => ` COMMENT ${s}`), {nil: ''})
/** A key part on column i: text and blob need a prefix, varchar takes one or not, the other types none. */
const keyPart = fc.record({column: fc.nat(), prefix: fc.boolean(), desc: fc.boolean()})
const keyShape = fc.record({
  name: serverName('k'),
  parts: fc.array(keyPart, {minLength: 1, maxLength: 3}),
  comment: keyComment,
  ignored: fc.boolean(),
  btree: fc.boolean(),
  blockSize: fc.constantFrom(undefined, 2, 4, 8, 16),
})
const tableShape = fc.record({
  id: serverName('i'),
  autoIncrement: fc.boolean(),
  columns: fc.array(fc.record({name: serverName('c'), type: fc.constantFrom(...COLUMN_TYPES), comment: keyComment, invisible: fc.boolean()}), {minLength: 1, maxLength: 4}),
  compositePrimary: fc.boolean(),
  uniques: fc.array(keyShape, {maxLength: 2}),
  keys: fc.array(keyShape, {maxLength: 4}),
  check: fc.boolean(),
  comment: fc.option(stringLiteral, {nil: undefined}),
  rowFormat: fc.constantFrom(undefined, 'DYNAMIC', 'COMPACT', 'REDUNDANT', 'COMPRESSED'),
  /** The table's KEY_BLOCK_SIZE, which its keys without one inherit (only where the row format may be compressed). */
  blockSize: fc.constantFrom(undefined, 4, 8),
  order: fc.array(fc.nat(), {maxLength: 8}),
})
type TableShape = typeof tableShape extends fc.Arbitrary<infer T> ? T : never

/** The CREATE TABLE of a shape (keys in a shuffled order: the server sorts them), its columns by name (INVISIBLE ones too) and a row of it per n. */
function shapeSql(name: string, s: TableShape): {create: string; columns: string; row: (n: number) => string} {
  const columns = s.columns.map((c, i) => ({...c, name: `${i}${c.name}`}))
  const part = ({column, prefix, desc}: {column: number; prefix: boolean; desc: boolean}) => {
    const c = columns[column % columns.length]!
    const cut = /^(?:text|blob)/.test(c.type) || (prefix && c.type.startsWith('varchar')) ? '(7)' : ''
    return `${q(c.name)}${cut}${desc ? ' DESC' : ''}`
  }
  const key = (kind: string, k: TableShape['keys'][number], i: number) => {
    const parts = [...new Map(k.parts.map((p) => [p.column % columns.length, p])).values()].map(part)
    const block = k.blockSize ? ` KEY_BLOCK_SIZE=${k.blockSize}` : ''
    return `${kind} ${q(`${kind[0]}${i}${k.name}`)} (${parts.join(', ')})${k.btree ? ' USING BTREE' : ''}${block}${k.comment}${kind === 'KEY' && k.ignored ? ' IGNORED' : ''}`
  }
  const keys = [...s.uniques.map((k, i) => key('UNIQUE KEY', k, i)), ...s.keys.map((k, i) => key('KEY', k, i))]
  for (const [i, j] of s.order.entries()) if (keys.length > 1) [keys[i % keys.length], keys[j % keys.length]] = [keys[j % keys.length]!, keys[i % keys.length]!]
  const items = [
    `${q(s.id)} int(11) NOT NULL${s.autoIncrement ? ' AUTO_INCREMENT' : ''}`,
    // INVISIBLE needs a default (4108), so not on a NOT NULL column nor on column 0, which a composite primary key makes one; the id stays visible.
    ...columns.map((c, i) => `${q(c.name)} ${c.type}${c.invisible && i > 0 && c.type.includes('DEFAULT') ? ' INVISIBLE' : ''}${c.comment}`),
    `PRIMARY KEY (${q(s.id)}${s.compositePrimary ? `, ${part({column: 0, prefix: true, desc: false})}` : ''})`,
    ...keys,
    // Not on the AUTO_INCREMENT column: a CHECK may not read it (1901).
    ...(s.check ? [`CONSTRAINT ${q('ch`(,')} CHECK (${q(columns[0]!.name)} IS NULL OR ${q(columns[0]!.name)} <> 'KEY ,)')`] : []),
  ]
  const block = s.blockSize && (s.rowFormat === undefined || s.rowFormat === 'COMPRESSED') ? ` KEY_BLOCK_SIZE=${s.blockSize}` : ''
  const options = `ENGINE=InnoDB${s.rowFormat ? ` ROW_FORMAT=${s.rowFormat}` : ''}${block}${s.comment ? ` COMMENT=${s.comment}` : ''}`
  const value = (type: string, n: number) => VALUES[/^[a-z]+/.exec(type)![0]]?.(n) ?? `'v${n}'`
  const row = (n: number) => `(${[String(n), ...columns.map((c) => value(c.type, n))].join(', ')})`
  return {create: `CREATE TABLE ${q(name)} (${items.join(', ')}) ${options}`, columns: [s.id, ...columns.map((c) => c.name)].map(q).join(', '), row}
}

const withoutCounter = (ddl: string) => ddl.replace(/ AUTO_INCREMENT=\d+/, '')

describe('deferred keys on a real server', () => {
  let server: MariaDbServer
  let dir: string
  let conn: Connection
  const showCreate = async (database: string, name: string) =>
    ((await conn.query(`SHOW CREATE TABLE ${quoteQualified(database, name)}`)) as Array<{'Create Table': string}>)[0]!['Create Table']

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'datain-keys-'))
    server = await MariaDbServer.start({dir, serverId: 93, binlog: false})
    conn = await server.connectAsRoot()
    for (const db of ['a', 'b', 'c']) await conn.query(`CREATE DATABASE ${db}`)
    // The copy's session settings for reading definitions (prepareDdlSessions), and the replica's foreign key checks off.
    await conn.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', sql_quote_show_create = 1, foreign_key_checks = 0")
  }, 120_000)

  afterAll(async () => {
    await conn?.end()
    await server?.stop()
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  it('rebuilds every generated table as CREATE, rows, one ALTER with exactly the source\'s SHOW CREATE TABLE', async () => {
    let n = 0
    let deferred = 0
    await fc.assert(
      fc.asyncProperty(serverName('t'), tableShape, async (tag, shape) => {
        const name = `${n++}${tag}`
        const {create, columns, row} = shapeSql(name, shape)
        await conn.query('USE a')
        await conn.query(create)
        await conn.query(`INSERT INTO ${quoteQualified('a', name)} (${columns}) VALUES ${[1, 2, 3].map(row).join(', ')}`)
        const source = await showCreate('a', name)
        const split = deferKeys(source)
        expect(split === undefined, source).toBe(shape.keys.length === 0)
        if (split === undefined) return
        deferred++
        expect(split.keys).toHaveLength(shape.keys.length)
        await conn.query('USE b')
        await conn.query(split.create)
        await conn.query(`INSERT INTO ${quoteQualified('b', name)} (${columns}) SELECT ${columns} FROM ${quoteQualified('a', name)}`)
        await conn.query(addKeysStatement('b', name, split.keys))
        expect(withoutCounter(await showCreate('b', name))).toBe(withoutCounter(source))
        const checksum = async (db: string) => ((await conn.query(`CHECKSUM TABLE ${quoteQualified(db, name)}`)) as Array<{Checksum: unknown}>)[0]!.Checksum
        expect(await checksum('b')).toBe(await checksum('a'))
      }),
      {numRuns: 50},
    )
    expect(deferred).toBeGreaterThan(25)
  }, 300_000)

  it('names the parent a child\'s foreign key needs, whose key the child cannot be created without (errno 150)', async () => {
    await conn.query('USE a')
    await conn.query('CREATE TABLE `P``(,` (`id` int NOT NULL, `code` int NOT NULL, PRIMARY KEY (`id`), KEY `kc` (`code`)) ENGINE=InnoDB')
    await conn.query('CREATE TABLE `C` (`id` int NOT NULL, `pc` int, PRIMARY KEY (`id`), CONSTRAINT `REFERENCES `` x` FOREIGN KEY (`pc`) REFERENCES `P``(,` (`code`) ON DELETE CASCADE) ENGINE=InnoDB')
    await conn.query('USE c')
    await conn.query('CREATE TABLE `X` (`id` int NOT NULL, `pc` int, PRIMARY KEY (`id`), FOREIGN KEY (`pc`) REFERENCES `a`.`P``(,` (`code`)) ENGINE=InnoDB')
    const [parent, child, other] = [await showCreate('a', 'P`(,'), await showCreate('a', 'C'), await showCreate('c', 'X')]
    expect(foreignKeyTargets(child, 'a')).toEqual([{database: 'a', name: 'P`(,'}])
    expect(foreignKeyTargets(other, 'c')).toEqual([{database: 'a', name: 'P`(,'}])
    expect(foreignKeyTargets(parent, 'a')).toEqual([])
    expect(deferKeys(child)).toBeUndefined()
    const split = deferKeys(parent)!
    expect(split.keys).toEqual([{name: 'kc', clause: 'KEY `kc` (`code`)'}])
    await conn.query('USE b')
    await conn.query(split.create)
    // foreign_key_checks = 0 lets a child name a missing parent, not a parent without the index.
    await expect(conn.query(child)).rejects.toThrow(/errno: 150/)
    await conn.query(addKeysStatement('b', 'P`(,', split.keys))
    await conn.query(child)
    expect(await showCreate('b', 'C')).toBe(child)
  })

  it('rebuilds a table of column features around the keys exactly: INVISIBLE, JSON, expressions, ON UPDATE, ENUM, a column named KEY', async () => {
    await conn.query('USE a')
    await conn.query(`CREATE TABLE \`sink\` (
      \`id\` bigint unsigned NOT NULL AUTO_INCREMENT, \`KEY\` int NOT NULL, \`h\` int INVISIBLE, \`j\` json, \`d\` varchar(40) DEFAULT (concat('a,', 'KEY (x)')),
      \`t\` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(), \`e\` enum('a''b', 'c,)', 'KEY \\\\ x') DEFAULT 'c,)',
      \`u\` varchar(20) COLLATE utf8mb4_bin, UNIQUE KEY \`u\` (\`u\`), KEY \`k1\` (\`KEY\`, \`h\`), PRIMARY KEY (\`id\`), KEY \`k2\` (\`e\`, \`d\`(3)), KEY \`k3\` (\`t\` DESC)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 STATS_PERSISTENT=1 COMMENT='ENGINE=MyISAM, KEY'`)
    await conn.query("INSERT INTO `sink` (`KEY`, `h`, `j`, `e`, `u`) VALUES (1, 2, '[1, 2]', 'a''b', 'x'), (2, 3, NULL, DEFAULT, 'y')")
    const source = await showCreate('a', 'sink')
    const split = deferKeys(source)!
    expect(split.keys.map((k) => k.name)).toEqual(['k1', 'k2', 'k3'])
    await conn.query('USE b')
    await conn.query(split.create)
    await conn.query('INSERT INTO `b`.`sink` (`id`, `KEY`, `h`, `j`, `d`, `t`, `e`, `u`) SELECT `id`, `KEY`, `h`, `j`, `d`, `t`, `e`, `u` FROM `a`.`sink`')
    await conn.query(addKeysStatement('b', 'sink', split.keys))
    expect(withoutCounter(await showCreate('b', 'sink'))).toBe(withoutCounter(source))
  })

  it('rebuilds a table with a compressed column (a versioned comment in its body) exactly', async () => {
    await conn.query('USE a')
    await conn.query("CREATE TABLE `z` (`id` int NOT NULL, `b` blob COMPRESSED, `v` varchar(10) COMPRESSED DEFAULT 'x', `n` int, PRIMARY KEY (`id`), KEY `kn` (`n`)) ENGINE=InnoDB")
    const source = await showCreate('a', 'z')
    expect(source).toContain('/*M!100301 COMPRESSED*/')
    const split = deferKeys(source)!
    expect(split.keys).toEqual([{name: 'kn', clause: 'KEY `kn` (`n`)'}])
    await conn.query('USE b')
    await conn.query(split.create)
    await conn.query(addKeysStatement('b', 'z', split.keys))
    expect(await showCreate('b', 'z')).toBe(source)
  })

  it('keeps every key of a table whose AUTO_INCREMENT column only a plain key leads: the CREATE without it fails (1075)', async () => {
    await conn.query('USE a')
    await conn.query('CREATE TABLE `ai` (`a` int NOT NULL, `id` int NOT NULL AUTO_INCREMENT, PRIMARY KEY (`a`, `id`), KEY `kid` (`id`)) ENGINE=InnoDB')
    const source = await showCreate('a', 'ai')
    expect(deferKeys(source)).toBeUndefined()
    const parsed = parseCreateTable(source)!
    const key = parsed.items.findIndex((item) => itemText(parsed, item).startsWith('KEY'))
    await conn.query('USE b')
    await expect(conn.query(withoutItems(parsed, new Set([key])))).rejects.toMatchObject({errno: 1075})
  })
})
