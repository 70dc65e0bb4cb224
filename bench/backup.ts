// Backup: how long `whatsgate-relay backup` takes on a big outbox, the size of the file it makes,
// and what it does to ingest meanwhile. Seeds BENCH_BACKUP_EVENTS events (1,000,000 by default)
// into a SQLite outbox, starts the relay on it, and sends new events at BENCH_LOW_RATE a second,
// evenly: after BENCH_WARMUP_SECONDS, BENCH_SECONDS without a backup (the baseline), then from the moment a backup
// starts (the CLI, a process of its own, as an operator runs it) until it has finished.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { type IdSource, undiciLoad } from './harness/load.ts'
import { seedSqliteOutbox } from './harness/outbox-seed.ts'
import { commonSettings, envNumber, makeTempDir, nowMs, projectRoot } from './harness/process.ts'
import { fmt, markdownTable } from './harness/report.ts'
import { startRelay } from './harness/servers.ts'

/** Runs the benchmark; gives its markdown. */
export async function backup(): Promise<string> {
  const count = envNumber('BENCH_BACKUP_EVENTS', 1_000_000)
  const rate = envNumber('BENCH_LOW_RATE', 1000)
  const { seconds, warmupSeconds } = commonSettings()
  const dataDir = makeTempDir('backup-data')
  const outbox = join(dataDir, 'relay.sqlite')
  process.stderr.write(`backup: seeding ${fmt.int(count)} events\n`)
  await seedSqliteOutbox(outbox, count, Date.now() - 60_000)
  const relay = await startRelay({ dataDir })
  // New ids above the seeded ones: every request is a new event.
  const ids: IdSource = { next: count * 10 }
  try {
    await undiciLoad({ url: relay.url, seconds: warmupSeconds, connections: 50, ids, rate })
    const baseline = await undiciLoad({ url: relay.url, seconds, connections: 50, ids, rate })

    const file = join(makeTempDir('backup-file'), 'relay-backup.sqlite')
    const started = nowMs()
    const child = spawn(process.execPath, [join(projectRoot, 'src/cli.ts'), 'backup', file], {
      env: { PATH: process.env.PATH, DATA_DIR: dataDir, ENV_FILE: '/dev/null' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const chunks: Buffer[] = []
    for (const stream of [child.stdout, child.stderr])
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    const exited = once(child, 'exit')
    // Load in one-second slices until the backup is done: ingest is measured while it runs.
    const during = { ok: 0, sent: 0, p50: [] as number[], p99: [] as number[], errors: 0, non2xx: 0 }
    let done = false
    void exited.then(() => {
      done = true
    })
    while (!done) {
      const slice = await undiciLoad({ url: relay.url, seconds: 1, connections: 50, ids, rate })
      during.ok += slice.ok
      during.sent += slice.sent
      during.errors += slice.errors
      during.non2xx += slice.non2xx
      during.p50.push(slice.latency.percentile(50))
      during.p99.push(slice.latency.percentile(99))
    }
    const [code] = (await exited) as [number | null]
    const took = (nowMs() - started) / 1000
    const output = Buffer.concat(chunks).toString()
    if (code !== 0) throw new Error(`backup failed (exit ${code}): ${output.trim()}`)
    const outboxBytes = statSync(outbox).size
    const backupBytes = statSync(file).size
    const rows = [
      [
        'no backup',
        fmt.int(baseline.ok / baseline.seconds),
        fmt.ms(baseline.latency.percentile(50)),
        fmt.ms(baseline.latency.percentile(99)),
        String(baseline.errors + baseline.non2xx),
      ],
      [
        'while the backup runs (worst 1 s slice)',
        fmt.int(during.ok / Math.max(1, during.p50.length)),
        fmt.ms(Math.max(...during.p50)),
        fmt.ms(Math.max(...during.p99)),
        String(during.errors + during.non2xx),
      ],
    ]
    return [
      `### Backup of a ${fmt.int(count)}-event outbox (\`whatsgate-relay backup\`, ingest paced at ${fmt.int(rate)}/s)`,
      '',
      `The backup took ${took.toFixed(1)} s; the outbox is ${fmt.int(outboxBytes / 2 ** 20)} MiB, the backup ` +
        `${fmt.int(backupBytes / 2 ** 20)} MiB (${output.trim()}).`,
      '',
      markdownTable(['ingest', 'acked/s', 'p50 ms', 'p99 ms', 'refused or failed'], rows),
    ].join('\n')
  } finally {
    await relay.child.stop()
  }
}
