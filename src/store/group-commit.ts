// Group commit, for the SQLite store: writes that arrive in the same turn of the event loop share
// one transaction, and the transactions committed while a sync runs share the next sync, so one
// fsync serves every request in flight instead of one fsync each. batch-commit.ts is the same idea
// for PostgreSQL.

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

export function createGroupCommit(transaction: Transaction, sync: Sync): GroupCommit {
  let queue: { work: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }[] =
    []
  let durable = false

  function flush(): void {
    const batch = queue
    const mustSync = durable
    queue = []
    durable = false
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
    sync().then(resolve, (error: unknown) => {
      for (const entry of batch) entry.reject(error)
    })
  }

  return {
    submit<T>(work: () => T, options = { durable: true }): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (queue.length === 0) setImmediate(flush)
        durable ||= options.durable
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject })
      })
    },
  }
}
