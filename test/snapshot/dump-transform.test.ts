import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {DatainError} from '../../src/lib/errors.js'
import {DumpTransform} from '../../src/snapshot/dump-transform.js'

/** Feeds `chunks` through a fresh transform; the output and the transform (coordinates, counts). */
async function run(chunks: Array<Buffer | string>): Promise<{out: string; bytes: Buffer; t: DumpTransform}> {
  const t = new DumpTransform()
  const out: Buffer[] = []
  t.on('data', (c: Buffer) => out.push(c))
  const ended = new Promise((resolve, reject) => {
    t.on('end', resolve)
    t.on('error', reject)
  })
  for (const c of chunks) t.write(typeof c === 'string' ? Buffer.from(c, 'utf8') : c)
  t.end()
  await ended
  const bytes = Buffer.concat(out)
  return {out: bytes.toString('utf8'), bytes, t}
}

const whole = (text: string) => run([text])

// What mariadb-dump 10.11.19 writes with --single-transaction --master-data=2 --gtid --no-create-info
// --no-create-db --skip-routines --skip-events --skip-triggers --hex-blob --quick --comments
// --databases for a database and tables whose names hold newlines, `;` and backticks.
const DUMP = `/*M!999999\\- enable the sandbox mode */ 
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: localhost    Database: we;ird
-- db
-- ------------------------------------------------------
-- Server version	10.11.19-MariaDB-0+deb12u1-log

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
-- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;

-- A corresponding to the above master-data CHANGE-MASTER settings to the slave gtid state is printed later in the file.

--
-- Alternately, following is the position of the binary logging from SHOW MASTER STATUS at point of backup.
--

-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=1804592;

--
-- Current Database: \`we;ird
-- db\`
--

USE \`we;ird
db\`;

--
-- Dumping data for table \`b\`\`2\`
--

LOCK TABLES \`b\`\`2\` WRITE;
/*!40000 ALTER TABLE \`b\`\`2\` DISABLE KEYS */;
INSERT INTO \`b\`\`2\` VALUES
(1,0x00FF27),
(2,NULL);
/*!40000 ALTER TABLE \`b\`\`2\` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Dumping data for table \`ta\`\`b
-- le\`
--

LOCK TABLES \`ta\`\`b
le\` WRITE;
/*!40000 ALTER TABLE \`ta\`\`b
le\` DISABLE KEYS */;
INSERT INTO \`ta\`\`b
le\` VALUES
(1,'a;;b'),
(2,'x\\nSET GLOBAL y'),
(3,'山田 𠮷田 🎉 ),( \\'q\\' \\\\ DEFINER=\`a\`@\`b\` (x');
INSERT INTO \`ta\`\`b
le\` VALUES (4,'a),(b'),(5,'c;\\n-- ;;\\nDELIMITER ;;'),(6,'it\\'s (');
/*!40000 ALTER TABLE \`ta\`\`b
le\` ENABLE KEYS */;
UNLOCK TABLES;

-- The deferred gtid setting for slave corresponding to the master-data CHANGE-MASTER follows

-- Preferably use GTID to start replication from GTID position:

-- SET GLOBAL gtid_slave_pos='0-1-21,1-2-7';
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on 2026-11-30  9:58:43
`

/** A value as mariadb-dump writes it (mysql_real_escape_string). */
const ESCAPED: Record<string, string> = {'\0': '\\0', '\n': '\\n', '\r': '\\r', '\\': '\\\\', "'": "\\'", '"': '\\"', '\x1a': '\\Z'}
const literal = (value: string) => `'${[...value].map((c) => ESCAPED[c] ?? c).join('')}'`
const name = (n: string) => `\`${n.replaceAll('`', '``')}\``

describe('DumpTransform', () => {
  it('passes a data-only dump through byte for byte', async () => {
    const {bytes} = await whole(DUMP)
    expect(bytes.equals(Buffer.from(DUMP, 'utf8'))).toBe(true)
  })

  it('reads the coordinates of --master-data=2 --gtid from their comments', async () => {
    const {t} = await whole(DUMP)
    expect(t.coordinates).toEqual({binlogFile: 'binlog.000001', binlogPosition: 1804592, gtidPosition: '0-1-21,1-2-7'})
    expect(t.completed).toBe(true)
  })

  it('reads them in the form without --gtid too (GTID still commented at the end)', async () => {
    const text = ["-- CHANGE MASTER TO MASTER_LOG_FILE='mariadb-bin.000123', MASTER_LOG_POS=4;", '', 'UNLOCK TABLES;', "-- SET GLOBAL gtid_slave_pos='';", ''].join('\n')
    const {t} = await whole(text)
    expect(t.coordinates).toEqual({binlogFile: 'mariadb-bin.000123', binlogPosition: 4, gtidPosition: ''})
  })

  it('counts the rows of INSERTs, one per line or many per line, whatever their strings hold, and names the table they go into', async () => {
    const {t} = await whole(DUMP)
    expect(t.rows).toBe(8)
    expect(t.table).toBe('we;ird\ndb.ta`b\nle')
  })

  it('refuses, before the loader sees it, any statement a dump of rows does not hold', async () => {
    const hostile = [
      'CREATE DEFINER=`a`@`%` PROCEDURE `p`() SELECT 1;',
      'SET GLOBAL max_connections = 7;',
      '/*!40101 SET GLOBAL max_connections = 7 */;',
      "CHANGE MASTER TO MASTER_LOG_FILE='binlog.000002', MASTER_LOG_POS=77;",
      'DELIMITER ;;',
      '/*!50003 CREATE*/ /*!50017 DEFINER=`a`@`%`*/ /*!50003 TRIGGER `t` BEFORE INSERT ON t FOR EACH ROW SET @a = 1 */;;',
      "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t;",
      'CREATE TABLE `t` (id INT PRIMARY KEY);',
      'DROP DATABASE `mysql`;',
      'USE `a`; DROP DATABASE `b`;',
      'LOCK TABLES `a` WRITE, `mysql`.`user` WRITE;',
      'SELECT 1;',
      '\\! id',
      '--not-a-comment',
    ]
    for (const statement of hostile) {
      const t = new DumpTransform()
      const out: Buffer[] = []
      t.on('data', (c: Buffer) => out.push(c))
      const failed = new Promise<unknown>((resolve) => t.on('error', resolve))
      t.write(Buffer.from('-- x\nUSE `a database`;\n'))
      t.end(Buffer.from(`${statement}\nUNLOCK TABLES;\n-- Dump completed\n`))
      const error = await failed
      expect(error, statement).toBeInstanceOf(DatainError)
      expect(error).toMatchObject({code: 'E_SNAPSHOT_UNEXPECTED'})
      expect(Buffer.concat(out).toString(), statement).toBe('-- x\nUSE `a database`;\n')
    }
  })

  it('gives the same output and counts wherever the chunks break: inside a name, a UTF-8 character, a line, a row', async () => {
    const expected = await whole(DUMP)
    const input = Buffer.from(DUMP, 'utf8')
    const runs: Buffer[][] = []
    for (let at = 1; at < input.length; at++) runs.push([input.subarray(0, at), input.subarray(at)])
    for (const size of [1, 2, 3, 7, 13]) {
      const chunks: Buffer[] = []
      for (let at = 0; at < input.length; at += size) chunks.push(input.subarray(at, at + size))
      runs.push(chunks)
    }
    for (const chunks of runs) {
      const {bytes, t} = await run(chunks)
      if (!bytes.equals(input)) expect.fail(`output differs with chunks of ${chunks.map((c) => c.length).join('+').slice(0, 40)}`)
      expect(t.rows).toBe(expected.t.rows)
      expect(t.coordinates).toEqual(expected.t.coordinates)
      expect(t.table).toBe(expected.t.table)
    }
  })

  it('passes any rows, names and chunking through unchanged and counts every row (property)', async () => {
    const value = fc.array(fc.oneof(fc.constantFrom(';;', '\n', 'SET GLOBAL x;', "'", '"', '\\', '`', '),(', '\0', '\x1a', '\r\n', '-- ', 'ÿ', '😀', 'DELIMITER ;;'), fc.string({maxLength: 5})), {maxLength: 6}).map((p) => p.join(''))
    const tableName = fc.array(fc.constantFrom('t', '`', ';', '\n', ' ', 'ñ', '--', "'"), {minLength: 1, maxLength: 6}).map((p) => p.join(''))
    const table = fc.tuple(tableName, fc.array(fc.array(value, {minLength: 1, maxLength: 3}), {minLength: 1, maxLength: 5}), fc.boolean())
    await fc.assert(
      fc.asyncProperty(fc.array(table, {minLength: 1, maxLength: 3}), fc.integer({min: 1, max: 50}), async (tables, size) => {
        let text = "/*!40101 SET NAMES utf8mb4 */;\nUSE `d`;\n"
        let rows = 0
        for (const [n, values, perLine] of tables) {
          const tuples = values.map((row, i) => `(${i},${row.map(literal).join(',')})`)
          rows += tuples.length
          text += `\n--\n-- Dumping data for table ${name(n).replaceAll('\n', '\n-- ')}\n--\n\nLOCK TABLES ${name(n)} WRITE;\n/*!40000 ALTER TABLE ${name(n)} DISABLE KEYS */;\n`
          text += `INSERT INTO ${name(n)} VALUES${perLine ? '\n' : ' '}${tuples.join(perLine ? ',\n' : ',')};\n/*!40000 ALTER TABLE ${name(n)} ENABLE KEYS */;\nUNLOCK TABLES;\n`
        }
        text += '\n-- Dump completed on 2026-11-30\n'
        const input = Buffer.from(text, 'utf8')
        const chunks: Buffer[] = []
        for (let at = 0; at < input.length; at += size) chunks.push(input.subarray(at, at + size))
        const {bytes, t} = await run(chunks)
        expect(bytes.equals(input)).toBe(true)
        expect(t.rows).toBe(rows)
        expect(t.table).toBe(`d.${tables[tables.length - 1]![0]}`)
        expect(t.completed).toBe(true)
      }),
      {numRuns: 300},
    )
  })

  it('keeps every byte of rows, also bytes that are not UTF-8', async () => {
    const line = Buffer.concat([Buffer.from("INSERT INTO `t` VALUES (1,'"), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from("');\n")])
    const {bytes, t} = await run([line])
    expect(bytes).toEqual(line)
    expect(t.rows).toBe(1)
  })

  it('streams a long INSERT through as it comes instead of gathering it', async () => {
    const t = new DumpTransform()
    let received = 0
    t.on('data', (c: Buffer) => (received += c.length))
    const piece = Buffer.from(`(1,'${'x'.repeat(64 * 1024)}'),`)
    t.write(Buffer.from('INSERT INTO `big` VALUES '))
    for (let i = 0; i < 100; i++) t.write(piece)
    // 6.4 MB of one statement went in, no end yet: all of it is out already.
    await new Promise((r) => setImmediate(r))
    expect(received).toBeGreaterThanOrEqual(100 * piece.length)
    t.end(Buffer.from("(2,'y');\nUNLOCK TABLES;\n"))
    await new Promise((r) => t.on('end', r))
    expect(t.rows).toBe(101)
  })

  it('refuses a statement other than INSERT that grows past any a dump of rows holds, without gathering it all', async () => {
    const t = new DumpTransform()
    t.resume()
    const failed = new Promise<unknown>((resolve) => t.on('error', resolve))
    t.write(Buffer.from(`/*!40101 SET @a = '${'z'.repeat(2 * 1024 * 1024)}`))
    expect(await failed).toMatchObject({code: 'E_SNAPSHOT_UNEXPECTED'})
  })
})
