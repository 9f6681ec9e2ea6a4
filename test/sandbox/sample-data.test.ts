import {describe, expect, it} from 'vitest'

import {
  BATCH,
  SAMPLE_DEFINER,
  benchmarkStatements,
  sampleDataObjects,
  sampleDataRowCounts,
  sampleDataStatements,
} from '../../sandbox/sample-data.js'

/** The statement that creates object `name` of `kind` (VIEW, TRIGGER, …). */
function creating(statements: string[], kind: string, name: string): string {
  const found = statements.filter((s) => new RegExp(`^CREATE\\b[^(]*\\b${kind}\\s+(\\S+\\.)?\`?${name}\`?[\\s(]`).test(s))
  expect(found, `CREATE ${kind} ${name}`).toHaveLength(1)
  return found[0] as string
}

/** The rows an INSERT … SELECT over `seq_a_to_b` generates: b - a + 1 per batch statement. */
function seqRanges(statements: string[], table: string): Array<[number, number]> {
  return statements
    .filter((s) => s.includes(`INSERT INTO \`shop\`.${table} (`))
    .map((s) => {
      const match = /FROM `shop`\.`seq_(\d+)_to_(\d+)`/.exec(s)
      expect(match, s).not.toBeNull()
      return [Number(match?.[1]), Number(match?.[2])] as [number, number]
    })
}

describe('sampleDataStatements', () => {
  const statements = sampleDataStatements()
  const objects = sampleDataObjects()

  it('names the expected objects in the default database', () => {
    expect(objects).toEqual({
      database: 'shop',
      tables: ['customers', 'daily_sales', 'order_items', 'orders', 'products'],
      views: ['customer_order_summary'],
      triggers: ['order_items_after_insert'],
      procedures: ['place_order'],
      functions: ['customer_lifetime_value'],
      events: ['roll_up_daily_sales'],
    })
  })

  it('creates the definer account, the database and its grants before anything else', () => {
    expect(SAMPLE_DEFINER).toBe("'app'@'%'")
    expect(statements[0]).toMatch(/^CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY '[^']+'$/)
    expect(statements.slice(1, 4)).toEqual([
      'DROP DATABASE IF EXISTS `shop`',
      'CREATE DATABASE `shop` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci',
      "GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, SHOW VIEW, TRIGGER, EVENT ON `shop`.* TO 'app'@'%'",
    ])
  })

  it('creates every table as InnoDB utf8mb4 with a primary key', () => {
    for (const table of objects.tables) {
      const create = creating(statements, 'TABLE', table)
      expect(create).toContain('PRIMARY KEY (')
      expect(create).toMatch(/ENGINE=InnoDB DEFAULT CHARSET=utf8mb4/)
    }
  })

  it('has the column types and indexes a real application has', () => {
    const customers = creating(statements, 'TABLE', 'customers')
    expect(customers).toMatch(/preferences JSON NOT NULL/)
    expect(customers).toMatch(/location POINT NOT NULL/)
    expect(customers).toMatch(/SPATIAL KEY \w+ \(location\)/)
    expect(customers).toMatch(/DATETIME\(6\)/)
    const products = creating(statements, 'TABLE', 'products')
    expect(products).toMatch(/price DECIMAL\(10,2\)/)
    expect(products).toMatch(/thumbnail BLOB/)
    expect(products).toMatch(/FULLTEXT KEY \w+ \(name, description\)/)
    const orders = creating(statements, 'TABLE', 'orders')
    expect(orders).toMatch(/FOREIGN KEY \(customer_id\) REFERENCES customers \(id\)/)
    expect(orders).toContain('`delivery note`')
    const items = creating(statements, 'TABLE', 'order_items')
    expect(items).toMatch(/FOREIGN KEY \(order_id\) REFERENCES orders \(id\)/)
    expect(items).toMatch(/FOREIGN KEY \(product_id\) REFERENCES products \(id\)/)
    expect(items).toContain('PRIMARY KEY (order_id, `order`)')
  })

  it('writes emoji, 4-byte CJK and other scripts into real rows', () => {
    const inserts = statements.filter((s) => s.includes('INSERT INTO')).join('\n')
    expect(inserts).toMatch(/\p{Extended_Pictographic}/u)
    expect(inserts).toMatch(/\p{Script=Han}/u)
    expect(inserts).toContain('𠮷') // outside the BMP: needs utf8mb4, not utf8mb3
    expect(inserts).toMatch(/\p{Script=Hangul}/u)
  })

  it("creates the view, trigger, procedure, function and event with DEFINER='app'@'%'", () => {
    const programmable = [
      ...objects.views.map((name) => creating(statements, 'VIEW', name)),
      ...objects.triggers.map((name) => creating(statements, 'TRIGGER', name)),
      ...objects.procedures.map((name) => creating(statements, 'PROCEDURE', name)),
      ...objects.functions.map((name) => creating(statements, 'FUNCTION', name)),
      ...objects.events.map((name) => creating(statements, 'EVENT', name)),
    ]
    expect(programmable).toHaveLength(5)
    for (const create of programmable) expect(create.startsWith(`CREATE DEFINER=${SAMPLE_DEFINER} `)).toBe(true)
    expect(creating(statements, 'EVENT', 'roll_up_daily_sales')).toContain('ON SCHEDULE EVERY 1 DAY')
    expect(creating(statements, 'FUNCTION', 'customer_lifetime_value')).toMatch(/READS SQL DATA/)
    expect(creating(statements, 'TRIGGER', 'order_items_after_insert')).toMatch(/AFTER INSERT ON order_items FOR EACH ROW/)
  })

  it('creates the programmable objects unqualified, after USE, so that a dump restores into any database', () => {
    const use = statements.indexOf('USE `shop`')
    expect(use).toBeGreaterThan(0)
    const firstDefiner = statements.findIndex((s) => s.startsWith('CREATE DEFINER='))
    expect(firstDefiner).toBe(use + 1)
    for (const create of statements.slice(use + 1)) expect(create).not.toContain('`shop`')
  })

  it('sends single statements without delimiters', () => {
    for (const statement of statements) {
      expect(statement).not.toMatch(/^\s*DELIMITER/m)
      expect(statement.trimEnd()).not.toMatch(/;$/)
      expect(statement).toBe(statement.trim())
    }
  })

  it('generates rows on the server from seq_ tables, in batches', () => {
    const orders = sampleDataStatements({rows: 120_001})
    const ranges = seqRanges(orders, 'orders')
    expect(ranges).toEqual([[1, 50_000], [50_001, 100_000], [100_001, 120_001]])
    for (const [from, to] of [...ranges, ...seqRanges(orders, 'order_items')]) expect(to - from + 1).toBeLessThanOrEqual(BATCH)
    for (const insert of orders.filter((s) => s.includes('INSERT INTO `shop`.'))) expect(insert).not.toMatch(/\bVALUES\s*\(/)
  })

  it('scales the tables from rows and is deterministic', () => {
    expect(sampleDataStatements({rows: 1000})).toEqual(statements)
    expect(sampleDataStatements({rows: 1000})).toEqual(sampleDataStatements())

    const count = (rows: number, table: string) =>
      seqRanges(sampleDataStatements({rows}), table).reduce((n, [from, to]) => n + to - from + 1, 0)
    for (const rows of [1, 2, 1000, 1_000_000]) {
      const expected = sampleDataRowCounts({rows})
      expect(count(rows, 'orders')).toBe(rows)
      expect(count(rows, 'customers')).toBe(expected.customers)
      expect(count(rows, 'products')).toBe(expected.products)
      expect(expected.order_items).toBeLessThanOrEqual(rows)
    }
    expect(sampleDataRowCounts()).toEqual({customers: 100, products: 50, orders: 1000, order_items: 999, daily_sales: 1})
    expect(sampleDataRowCounts({rows: 1_000_000})).toEqual({
      customers: 100_000, products: 50_000, orders: 1_000_000, order_items: 999_999, daily_sales: 429,
    })
    expect(sampleDataStatements({rows: 1_000_000}).length).toBeGreaterThan(statements.length)
  })

  it('follows the database option everywhere', () => {
    const other = sampleDataStatements({database: 'shop_b'})
    expect(sampleDataObjects({database: 'shop_b'}).database).toBe('shop_b')
    expect(other.join('\n')).not.toContain('`shop`')
    expect(other).toContain('USE `shop_b`')
    // `_` is a wildcard in GRANT's database name.
    expect(other).toContain("GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, SHOW VIEW, TRIGGER, EVENT ON `shop\\_b`.* TO 'app'@'%'")
  })

  it('rejects bad options', () => {
    expect(() => sampleDataStatements({rows: 0})).toThrow(RangeError)
    expect(() => sampleDataStatements({rows: 1.5})).toThrow(RangeError)
    expect(() => sampleDataStatements({database: 'a`b'})).toThrow(RangeError)
    expect(() => sampleDataStatements({database: ''})).toThrow(RangeError)
  })
})

describe('benchmarkStatements', () => {
  it('creates sysbench-shaped tables sbtest1..N in bench, filled from seq_ tables', () => {
    const statements = benchmarkStatements({tables: 3, rows: 120_000})
    expect(statements.slice(0, 2)).toEqual([
      'DROP DATABASE IF EXISTS `bench`',
      'CREATE DATABASE `bench` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci',
    ])
    for (const t of [1, 2, 3]) {
      const create = creating(statements, 'TABLE', `sbtest${t}`)
      expect(create).toMatch(/id INT NOT NULL AUTO_INCREMENT/)
      expect(create).toMatch(/k INT NOT NULL/)
      expect(create).toMatch(/c CHAR\(120\)/)
      expect(create).toMatch(/pad CHAR\(60\)/)
      expect(create).toContain('PRIMARY KEY (id)')
      expect(create).toContain('ENGINE=InnoDB')
      expect(statements).toContain(`CREATE INDEX \`k_${t}\` ON \`bench\`.\`sbtest${t}\` (k)`)
      const ranges = statements
        .filter((s) => s.startsWith(`INSERT INTO \`bench\`.\`sbtest${t}\` `))
        .map((s) => /`seq_(\d+)_to_(\d+)`/.exec(s)?.slice(1).map(Number))
      expect(ranges).toEqual([[1, 50_000], [50_001, 100_000], [100_001, 120_000]])
    }
    expect(statements.some((s) => s.includes('sbtest4'))).toBe(false)
  })

  it('scales with tables and rows and honours the database', () => {
    expect(benchmarkStatements({tables: 1, rows: 10}).filter((s) => s.startsWith('INSERT'))).toHaveLength(1)
    expect(benchmarkStatements({tables: 4, rows: 200_000}).filter((s) => s.startsWith('INSERT'))).toHaveLength(16)
    expect(benchmarkStatements({tables: 2, rows: 0}).filter((s) => s.startsWith('INSERT'))).toHaveLength(0)
    const other = benchmarkStatements({tables: 1, rows: 10, database: 'perf'})
    expect(other.join('\n')).not.toContain('`bench`')
    expect(other).toContain('CREATE INDEX `k_1` ON `perf`.`sbtest1` (k)')
    expect(() => benchmarkStatements({tables: 0, rows: 10})).toThrow(RangeError)
    expect(() => benchmarkStatements({tables: 1, rows: -1})).toThrow(RangeError)
  })
})
