// node:sqlite against better-sqlite3 on the relay's write path: group commits of N events, each
// with its delivery row, in WAL with synchronous=FULL, on the real disk. better-sqlite3 is no
// project dependency: it is installed into a directory outside the project and loaded by path.
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { SQL } from '../src/store/sqlite-queries.ts'
import { SQLITE_MIGRATIONS } from '../src/store/sqlite-schema.ts'
import { BENCH_SESSION, benchChat, eventKey, messageEventBody } from './harness/event.ts'
import { median, sampleForeignCpu, waitForIdle } from './harness/measure.ts'
import { envNumber, makeTempDir, nowMs } from './harness/process.ts'
import { fmt, foreignLoadWarning, markdownTable } from './harness/report.ts'

const BATCH_SIZES = [1, 10, 50]
const ROUNDS = 2

/** What both drivers offer, and all the workload uses. */
interface Database {
  exec(sql: string): unknown
  prepare(sql: string): {
    run(...params: (string | number | null | Uint8Array)[]): unknown
    get(...params: (string | number | null | Uint8Array)[]): Record<string, unknown> | undefined
  }
  close(): unknown
}

interface Driver {
  name: string
  sqliteVersion: string
  open: (file: string) => Database
}

// The relay's own schema and insert statements (src/store): the figures then say what the relay's
// write path costs with each driver.
const EVENT_DATE = '2022-09-07 18:29:37'

function runWorkload(driver: Driver, dir: string, batch: number, seconds: number) {
  const db = driver.open(join(dir, `${driver.name.replace(/\W/g, '')}-${batch}-${Date.now()}.db`))
  try {
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON')
    for (const migration of SQLITE_MIGRATIONS) db.exec(migration)
    const insertEvent = db.prepare(SQL.insertEvents)
    const insertDelivery = db.prepare(SQL.insertDeliveries)
    let id = 0
    let commits = 0
    const foreign = sampleForeignCpu()
    const start = nowMs()
    const end = start + seconds * 1000
    while (nowMs() < end) {
      db.exec('BEGIN IMMEDIATE')
      for (let i = 0; i < batch; i++) {
        id++
        const now = Date.now()
        const body = Buffer.from(messageEventBody(id))
        const row = insertEvent.get(
          eventKey(id),
          BENCH_SESSION,
          String(id),
          'message',
          EVENT_DATE,
          benchChat(id),
          body,
          null,
          now,
        )
        insertDelivery.run(Number(row?.seq), 'default', null, now)
      }
      db.exec('COMMIT')
      commits++
    }
    const elapsed = (nowMs() - start) / 1000
    const [rowsPerSec, commitsPerSec, commitMs] = [
      id / elapsed,
      commits / elapsed,
      (elapsed * 1000) / commits,
    ]
    return { driver: driver.name, batch, rowsPerSec, commitsPerSec, commitMs, foreignCores: foreign.stop() }
  } finally {
    db.close()
  }
}

/** What the disk allows: a 4 KiB write in place (as in a reused WAL) and fsync, as SQLite does per commit. */
function fsyncRate(dir: string, seconds: number): number {
  const fd = openSync(join(dir, 'fsync-probe'), 'w')
  const page = Buffer.alloc(4096, 1)
  const slots = 1024
  for (let slot = 0; slot < slots; slot++) writeSync(fd, page, 0, page.length, slot * page.length)
  fsyncSync(fd)
  let syncs = 0
  const start = nowMs()
  try {
    while (nowMs() - start < seconds * 1000) {
      writeSync(fd, page, 0, page.length, (syncs % slots) * page.length)
      fsyncSync(fd)
      syncs++
    }
  } finally {
    closeSync(fd)
  }
  return syncs / ((nowMs() - start) / 1000)
}

function driver(name: string, open: (file: string) => Database): Driver {
  const probe = open(':memory:')
  const sqliteVersion = String(probe.prepare('select sqlite_version() as v').get()?.v)
  probe.close()
  return { name, sqliteVersion, open }
}

/** Finds or installs better-sqlite3 outside the project. Returns the driver, or why there is none. */
function betterSqlite3(): Driver | { failure: string } {
  const dir = process.env.BETTER_SQLITE3_DIR ?? join(tmpdir(), 'whatsgate-bench-better-sqlite3')
  const spec = process.env.BETTER_SQLITE3_SPEC ?? 'better-sqlite3@^13'
  const modulePath = join(dir, 'node_modules', 'better-sqlite3')
  if (!existsSync(join(modulePath, 'package.json'))) {
    process.stderr.write(`drivers: installing ${spec} into ${dir} (outside the project)\n`)
    mkdirSync(dir, { recursive: true })
    if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), '{"private":true}\n')
    const install = spawnSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', spec], {
      encoding: 'utf8',
      timeout: 20 * 60 * 1000,
    })
    if (install.status !== 0) {
      const output = `${install.stdout ?? ''}${install.stderr ?? ''}`.trim().split('\n').slice(-15)
      const exit = install.status ?? install.signal ?? install.error?.message
      return { failure: `npm install ${spec} failed (exit ${exit}):\n    ${output.join('\n    ')}` }
    }
  }
  try {
    const require = createRequire(import.meta.url)
    const Database = require(modulePath) as new (file: string) => Database
    const { version } = require(join(modulePath, 'package.json')) as { version: string }
    return driver(`better-sqlite3 ${version}`, (file) => new Database(file))
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return {
      failure: `loading ${modulePath} into Node ${process.version} (ABI ${process.versions.modules}) failed: ${message}`,
    }
  }
}

/** Runs the benchmark; gives its markdown. */
export async function sqliteDrivers(): Promise<string> {
  const seconds = envNumber('BENCH_DRIVER_SECONDS', 3)
  const dir = makeTempDir('drivers')
  const drivers = [driver('node:sqlite', (file) => new DatabaseSync(file))]
  const better = betterSqlite3()
  if ('failure' in better)
    process.stderr.write(`drivers: better-sqlite3 unavailable, node:sqlite only\n  ${better.failure}\n`)
  else drivers.push(better)
  await waitForIdle('the drivers benchmark')
  process.stderr.write(`drivers: fsync probe ${seconds} s\n`)
  const fsyncPerSec = fsyncRate(dir, seconds)
  const runs: ReturnType<typeof runWorkload>[] = []
  for (const batch of BATCH_SIZES) {
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which driver goes first, so neither always gets the cooler disk cache.
      for (const each of round % 2 === 0 ? drivers : [...drivers].reverse()) {
        process.stderr.write(`drivers: ${each.name}, batch ${batch}, ${seconds} s\n`)
        runs.push(runWorkload(each, dir, batch, seconds))
      }
    }
  }
  const rows = BATCH_SIZES.flatMap((batch) =>
    drivers.map(({ name }) => {
      const medianOf = (value: (r: (typeof runs)[number]) => number) =>
        median(runs.filter((r) => r.driver === name && r.batch === batch).map(value))
      const [events, commits] = [medianOf((r) => r.rowsPerSec), medianOf((r) => r.commitsPerSec)]
      return [name, String(batch), fmt.int(events), fmt.int(commits), fmt.ms(medianOf((r) => r.commitMs))]
    }),
  )
  return [
    ...foreignLoadWarning(runs.map((r) => r.foreignCores)),
    `### SQLite drivers (group commit of N events + N deliveries per transaction, the relay's schema, WAL, synchronous=FULL; median of ${ROUNDS} × ${seconds} s)`,
    '',
    markdownTable(['driver', 'batch', 'events/s', 'commits/s', 'ms/commit'], rows),
    '',
    `Disk floor: ${fmt.int(fsyncPerSec)} fsync/s of 4 KiB in-place writes on the same disk (a commit needs at least one).`,
    `SQLite: ${drivers.map((d) => `${d.name} bundles ${d.sqliteVersion}`).join('; ')}.`,
    ...('failure' in better ? [`better-sqlite3: NOT MEASURED. ${better.failure}`] : []),
  ].join('\n')
}
