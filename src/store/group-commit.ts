// Group commit, for the SQLite store: writes share transactions, which commit at most once every
// `intervalMs`, or sooner once as many durable writes wait as the last commit carried
// (commit-interval.ts says why), while durable writes come together. While a batch's
// sync runs, what arrives waits for it too and commits as the next batch: it could not be on disk
// before that sync ended anyway.
// batch-commit.ts is the same idea for PostgreSQL.
import { commitWait, companyCame, type LastCommit } from './commit-interval.ts'

export interface GroupCommit {
  /**
   * Runs `work` inside the next shared transaction; resolves with its result once committed and,
   * unless submitted with `durable: false`, on disk.
   */
  submit<T>(work: () => T, options?: { durable: boolean }): Promise<T>
}

/** Runs the batch in one transaction and commits it (without waiting for the disk). */
type Transaction = (run: () => void) => void

/** Resolves once every commit made before the call is on disk. */
type Sync = () => Promise<void>

export function createGroupCommit(transaction: Transaction, sync: Sync, intervalMs: number): GroupCommit {
  let queue: { work: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }[] =
    []
  /** Durable writes queued since the last flush. */
  let durables = 0
  /** The last flush: when it began and its durable writes, what the wait for company goes by. */
  const last: LastCommit = { at: Number.NEGATIVE_INFINITY, size: 0 }
  let scheduled = false
  /** The wait for company, while it runs. */
  let waiting: NodeJS.Timeout | null = null
  /** A batch's sync runs: new writes wait for it and form the next batch. */
  let syncing = false

  function schedule(): void {
    if (scheduled || syncing || queue.length === 0) return
    scheduled = true
    // last.size counts durable writes only, so neither a lone sender's next event (committed beside
    // an outcome) nor a draining backlog's claims and outcomes are held up.
    const wait = companyCame(last, durables) ? 0 : commitWait(last, intervalMs)
    if (wait >= 1) waiting = setTimeout(flush, wait)
    else setImmediate(flush)
  }

  function flush(): void {
    clearTimeout(waiting ?? undefined)
    waiting = null
    scheduled = false
    last.at = performance.now()
    const batch = queue
    const mustSync = durables > 0
    queue = []
    last.size = durables
    durables = 0
    const results: unknown[] = []
    try {
      transaction(() => {
        for (const entry of batch) results.push(entry.work())
      })
    } catch (error) {
      for (const entry of batch) entry.reject(error)
      return
    }
    const resolve = () =>
      batch.forEach((entry, i) => {
        entry.resolve(results[i])
      })
    if (!mustSync) {
      resolve()
      return
    }
    syncing = true
    const synced = sync().finally(() => {
      syncing = false
      schedule()
    })
    synced.then(resolve, (error: unknown) => {
      for (const entry of batch) entry.reject(error)
    })
  }

  return {
    submit<T>(work: () => T, options = { durable: true }): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (options.durable) durables++
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject })
        if (waiting && companyCame(last, durables)) {
          // Company came: the wait ends now.
          clearTimeout(waiting)
          waiting = null
          scheduled = false
        }
        schedule()
      })
    },
  }
}
