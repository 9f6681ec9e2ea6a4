import {describe, expect, it} from 'vitest'
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

// What mariadb-dump 10.11.19 writes with --single-transaction --master-data=2 --gtid --routines
// --events --triggers --hex-blob --quick --databases shop (abridged, same shapes; accounts varied).
const DUMP = `/*M!999999\\- enable the sandbox mode */ 
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: 127.0.0.1    Database: shop
-- ------------------------------------------------------
-- Server version	10.11.19-MariaDB-0+deb12u1-log

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
-- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;

-- A corresponding to the above master-data CHANGE-MASTER settings to the slave gtid state is printed later in the file.

--
-- Alternately, following is the position of the binary logging from SHOW MASTER STATUS at point of backup.
-- Use this when creating a slave of the master server where the backup was made.
-- The new server will be connecting to the master server where the backup was taken.
--

-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=1804592;

--
-- Current Database: \`shop\`
--

CREATE DATABASE /*!32312 IF NOT EXISTS*/ \`shop\` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci */;

USE \`shop\`;

--
-- Table structure for table \`customers\`
--

DROP TABLE IF EXISTS \`customers\`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE \`customers\` (
  \`id\` int(10) unsigned NOT NULL AUTO_INCREMENT,
  \`name\` varchar(100) NOT NULL COMMENT 'CREATE DEFINER=\`x\`@\`y\` FUNCTION',
  PRIMARY KEY (\`id\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table \`customers\`
--

LOCK TABLES \`customers\` WRITE;
/*!40000 ALTER TABLE \`customers\` DISABLE KEYS */;
INSERT INTO \`customers\` VALUES
(1,'山田 太郎 1',0x000000000101000000A4703D0AD73359C085EB51B81EA54C40),
(2,'Zoë DEFINER=\`a\`@\`b\` ),( \\'q\\' \\\\',0x00),
(3,'𠮷田 花子 🎉 (x',NULL);
/*!40000 ALTER TABLE \`customers\` ENABLE KEYS */;
UNLOCK TABLES;
INSERT INTO \`t2\` VALUES (1,'a),(b'),(2,'c'),(3,'it''s (');
/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;
/*!50003 SET sql_mode              = 'IGNORE_SPACE,STRICT_TRANS_TABLES' */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=\`o'b\`\`r"i@n\`@\`10.%\`*/ /*!50003 TRIGGER \`tr DEFINER=x\` BEFORE INSERT ON t FOR EACH ROW SET NEW.s = 'DEFINER=\`a\`@\`b\`' 
*/;;
DELIMITER ;
/*!50003 SET sql_mode              = @saved_sql_mode */ ;
/*!50106 SET @save_time_zone= @@TIME_ZONE */ ;
/*!50106 DROP EVENT IF EXISTS \`roll_up_daily_sales\` */;
DELIMITER ;;
/*!50003 SET time_zone             = 'SYSTEM' */ ;;
/*!50106 CREATE*/ /*!50117 DEFINER=\`app\`@\`%\`*/ /*!50106 EVENT \`roll_up_daily_sales\` ON SCHEDULE EVERY 1 DAY STARTS '2024-01-01 02:00:00' ON COMPLETION PRESERVE ENABLE COMMENT 'Summarises yesterday''s orders' DO INSERT INTO daily_sales (day, order_count, revenue)
  SELECT DATE(placed_at), COUNT(*), SUM(total) FROM orders
  GROUP BY DATE(placed_at) */ ;;
/*!50003 SET time_zone             = @saved_time_zone */ ;;
/*!50106 CREATE*/ /*!50117 DEFINER=\`o'b\`\`r"i\`@\`n@10.%\`*/ /*!50106 EVENT \`ev ON COMPLETION PRESERVE ENABLE\` ON SCHEDULE AT '2030-01-01 00:00:00' ON COMPLETION NOT PRESERVE DISABLE DO SELECT 1 */ ;;
/*!50106 CREATE*/ /*!50117 DEFINER=\`Zoë\`@\`%\`*/ /*!50106 EVENT \`e2\` ON SCHEDULE EVERY 1 HOUR STARTS '2026-11-30 09:59:10' ON COMPLETION NOT PRESERVE ENABLE DO SELECT 1 */ ;;
DELIMITER ;
/*!50106 SET TIME_ZONE= @save_time_zone */ ;
DELIMITER ;;
CREATE DEFINER=\`app\`@\`%\` FUNCTION \`customer_lifetime_value\`(p_customer_id INT UNSIGNED) RETURNS decimal(14,2)
    READS SQL DATA
RETURN (SELECT 1)
;;
DELIMITER ;
DELIMITER ;;
CREATE DEFINER=\`r\`\`ole\` PROCEDURE \`p\`()
BEGIN
SET GLOBAL innodb_stats_on_metadata = 0;
CREATE DEFINER=\`kept\`@\`%\` VIEW inner_text AS SELECT 1;
-- SET GLOBAL gtid_slave_pos='9-9-9';
INSERT INTO t VALUES (1);
END ;;
DELIMITER ;

--
-- Final view structure for view \`customer_order_summary\`
--

/*!50001 DROP VIEW IF EXISTS \`customer_order_summary\`*/;
/*!50001 CREATE ALGORITHM=UNDEFINED */
/*!50013 DEFINER=\`app\`@\`%\` SQL SECURITY DEFINER */
/*!50001 VIEW \`customer_order_summary\` AS select 1 AS \`x\` */;

-- The deferred gtid setting for slave corresponding to the master-data CHANGE-MASTER follows

-- Preferably use GTID to start replication from GTID position:

-- SET GLOBAL gtid_slave_pos='0-1-21,1-2-7';
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

-- Dump completed on 2026-11-30  9:58:43
`

describe('DumpTransform', () => {
  it('reads the coordinates of --master-data=2 --gtid from their comments and leaves the comments', async () => {
    const {out, t} = await whole(DUMP)
    expect(t.coordinates).toEqual({binlogFile: 'binlog.000001', binlogPosition: 1804592, gtidPosition: '0-1-21,1-2-7'})
    expect(out).toContain("-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=1804592;")
    expect(t.completed).toBe(true)
  })

  it('reads them in the form without --gtid too (GTID still commented at the end)', async () => {
    const text = [
      '-- CHANGE MASTER TO MASTER_LOG_FILE=\'mariadb-bin.000123\', MASTER_LOG_POS=4;',
      '',
      '-- A corresponding to the above master-data CHANGE-MASTER settings to the slave gtid state is printed as comments later in the file.',
      'SELECT 1;',
      "-- SET GLOBAL gtid_slave_pos='';",
      '',
    ].join('\n')
    const {t} = await whole(text)
    expect(t.coordinates).toEqual({binlogFile: 'mariadb-bin.000123', binlogPosition: 4, gtidPosition: ''})
  })

  it('drops the live statements of --master-data=1, reading their coordinates, and every other statement that needs SUPER', async () => {
    const text = [
      'CHANGE MASTER TO MASTER_USE_GTID=slave_pos;',
      "CHANGE MASTER TO MASTER_LOG_FILE='binlog.000002', MASTER_LOG_POS=77;",
      "SET GLOBAL gtid_slave_pos='0-11-7';",
      'SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN;',
      'SET @@SESSION.SQL_LOG_BIN= 0;',
      "SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,",
      "4e11fa47-71ca-11e1-9e33-c80aa9429562:1-9';",
      '/*!40000 STOP ALL SLAVES */;',
      'SET @@SESSION.SQL_LOG_BIN = @MYSQLDUMP_TEMP_LOG_BIN;',
      'CREATE TABLE t (id INT PRIMARY KEY);',
      '',
    ].join('\n')
    const {out, t} = await whole(text)
    expect(t.coordinates).toEqual({binlogFile: 'binlog.000002', binlogPosition: 77, gtidPosition: '0-11-7'})
    const live = out.split('\n').filter((l) => l && !l.startsWith('--'))
    expect(live).toEqual(['SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN;', 'CREATE TABLE t (id INT PRIMARY KEY);'])
    expect(t.rewrites.superStatements).toBe(7)
    expect(out.split('\n')).toHaveLength(text.split('\n').length)
  })

  it('removes DEFINER from routines, views, triggers and events, whatever the account looks like', async () => {
    const {out, t} = await whole(DUMP)
    expect(out).toContain('/*!50003 CREATE*/ /*!50003 TRIGGER `tr DEFINER=x` BEFORE INSERT ON t FOR EACH ROW SET NEW.s = \'DEFINER=`a`@`b`\' \n')
    expect(out).toContain('/*!50106 CREATE*/ /*!50106 EVENT `roll_up_daily_sales` ON SCHEDULE')
    expect(out).toContain('/*!50106 CREATE*/ /*!50106 EVENT `ev ON COMPLETION PRESERVE ENABLE`')
    expect(out).toContain('/*!50106 CREATE*/ /*!50106 EVENT `e2`')
    expect(out).toContain('CREATE FUNCTION `customer_lifetime_value`(p_customer_id INT UNSIGNED)')
    expect(out).toContain('CREATE PROCEDURE `p`()')
    expect(out).toContain('/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 SQL SECURITY DEFINER */\n/*!50001 VIEW')
    expect(t.rewrites.definers).toBe(7)
    // Only the DEFINERs of object headers go: text in data, comments and bodies stays.
    expect(out).toContain("COMMENT 'CREATE DEFINER=`x`@`y` FUNCTION'")
    expect(out).toContain("(2,'Zoë DEFINER=`a`@`b` ),( \\'q\\' \\\\',0x00),")
    expect(out).toContain('CREATE DEFINER=`kept`@`%` VIEW inner_text AS SELECT 1;')
  })

  it('handles every account form mariadb-dump and mysqldump write', async () => {
    const accounts = [
      '`app`@`%`',
      "`o'b``r\"i@n`@`10.%`",
      '`r``ole`',
      '`Zoë 山田`@`localhost`',
      "'app'@'%'",
      'root@localhost',
      'CURRENT_USER',
      'CURRENT_USER()',
    ]
    for (const account of accounts) {
      const {out} = await whole(`CREATE DEFINER=${account} PROCEDURE \`p\`() SELECT 1;\n/*!50013 DEFINER=${account} SQL SECURITY INVOKER */\n`)
      expect(out, account).toBe('CREATE PROCEDURE `p`() SELECT 1;\n/*!50013 SQL SECURITY INVOKER */\n')
    }
  })

  it('makes enabled events DISABLE ON SLAVE, and leaves disabled ones as they are', async () => {
    const {out, t} = await whole(DUMP)
    expect(out).toContain("ON COMPLETION PRESERVE DISABLE ON SLAVE COMMENT 'Summarises yesterday''s orders' DO INSERT")
    expect(out).toContain("EVENT `ev ON COMPLETION PRESERVE ENABLE` ON SCHEDULE AT '2030-01-01 00:00:00' ON COMPLETION NOT PRESERVE DISABLE DO")
    expect(out).toContain('ON COMPLETION NOT PRESERVE DISABLE ON SLAVE DO SELECT 1')
    expect(t.rewrites.eventsDisabledOnSlave).toBe(2)
  })

  it('leaves the bodies of routines alone, even lines that look like statements it rewrites', async () => {
    const {out, t} = await whole(DUMP)
    expect(out).toContain('BEGIN\nSET GLOBAL innodb_stats_on_metadata = 0;\n')
    expect(out).toContain("-- SET GLOBAL gtid_slave_pos='9-9-9';\nINSERT INTO t VALUES (1);\nEND ;;")
    expect(t.coordinates.gtidPosition).toBe('0-1-21,1-2-7')
  })

  it('counts the rows of INSERTs, one per line or many per line, whatever their strings hold', async () => {
    const {t} = await whole(DUMP)
    // 3 customers, 3 in t2; the INSERT inside the procedure body is not data.
    expect(t.rows).toBe(6)
    const {t: columns} = await whole('INSERT INTO `t` (`a`, `b(`) VALUES (1,2),(3,4);\nINSERT  IGNORE INTO `t` VALUES\n(1),\n(2);\n')
    expect(columns.rows).toBe(4)
    expect(columns.table).toBeUndefined()
  })

  it('gives the same output and counts wherever the chunks break: inside a DEFINER, a UTF-8 character, a line, a row', async () => {
    const expected = await whole(DUMP)
    const input = Buffer.from(DUMP, 'utf8')
    // Every single split point, then 1-, 2-, 3- and 7-byte chunks.
    const runs: Buffer[][] = []
    for (let at = 1; at < input.length; at++) runs.push([input.subarray(0, at), input.subarray(at)])
    for (const size of [1, 2, 3, 7]) {
      const chunks: Buffer[] = []
      for (let at = 0; at < input.length; at += size) chunks.push(input.subarray(at, at + size))
      runs.push(chunks)
    }
    // The split points the test is about are among them.
    const zoe = input.indexOf(Buffer.from('DEFINER=`Zoë`'))
    const insideE = input.indexOf(Buffer.from('ë'), zoe) + 1
    expect(input[insideE]! & 0xc0).toBe(0x80)
    const insideDefiner = input.indexOf(Buffer.from("DEFINER=`o'b``r")) + 10
    for (const at of [insideE, insideDefiner]) runs.push([input.subarray(0, at), input.subarray(at)])

    for (const chunks of runs) {
      const {bytes, t} = await run(chunks)
      if (!bytes.equals(expected.bytes)) {
        expect.fail(`output differs with chunks of ${chunks.map((c) => c.length).join('+').slice(0, 40)}`)
      }
      expect(t.rows).toBe(expected.t.rows)
      expect(t.coordinates).toEqual(expected.t.coordinates)
      expect(t.rewrites).toEqual(expected.t.rewrites)
    }
  })

  it('keeps every byte of lines it rewrites, also bytes that are not UTF-8', async () => {
    const line = Buffer.concat([Buffer.from("CREATE DEFINER=`a`@`%` PROCEDURE `p`() SELECT '"), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from("';\n")])
    const {bytes} = await run([line])
    expect(bytes).toEqual(Buffer.concat([Buffer.from("CREATE PROCEDURE `p`() SELECT '"), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from("';\n")]))
  })

  it('streams a long INSERT through as it comes instead of gathering the line', async () => {
    const t = new DumpTransform()
    let received = 0
    t.on('data', (c: Buffer) => (received += c.length))
    const piece = Buffer.from(`(1,'${'x'.repeat(64 * 1024)}'),`)
    t.write(Buffer.from('INSERT INTO `big` VALUES '))
    for (let i = 0; i < 100; i++) t.write(piece)
    // 6.4 MB of one line went in, no newline yet: all of it is out already.
    await new Promise((r) => setImmediate(r))
    expect(received).toBeGreaterThanOrEqual(100 * piece.length)
    t.end(Buffer.from("(2,'y');\nCREATE DEFINER=`a`@`%` PROCEDURE `p`() SELECT 1;\n"))
    await new Promise((r) => t.on('end', r))
    expect(t.rows).toBe(101)
    expect(t.rewrites.definers).toBe(1)
  })

  it('lets a huge line that is not data through unchanged', async () => {
    const long = `/* ${'z'.repeat(17 * 1024 * 1024)} */;\n`
    const {bytes, t} = await run([long.slice(0, 5_000_000), long.slice(5_000_000), 'CREATE DEFINER=`a`@`%` PROCEDURE `p`() SELECT 1;\n'])
    expect(bytes.length).toBe(long.length + 'CREATE PROCEDURE `p`() SELECT 1;\n'.length)
    expect(t.rewrites.definers).toBe(1)
  })

  it('names the table whose rows go by', async () => {
    const t = new DumpTransform()
    t.resume()
    t.write(Buffer.from('-- Current Database: `shop`\n--\n\n-- Dumping data for table `order``s`\n--\n'))
    await new Promise((r) => setImmediate(r))
    expect(t.table).toBe('shop.order`s')
  })
})
