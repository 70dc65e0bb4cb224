// Batch commit, for the PostgreSQL store: group-commit.ts's idea for a database reached over the
// network. Items submitted while a commit is in flight wait for it and then go together in the
// next one, so under load each commit carries many requests. Each submitter gets the results of
// its own items.

export interface BatchCommit<I, O> {
  submit(items: I[]): Promise<O[]>
  /** Resolves once everything submitted so far has been committed (or failed). */
  drain(): Promise<void>
}

export interface BatchCommitOptions<I, O> {
  commit: (items: I[]) => Promise<O[]>
  /**
   * Whether a failed batch should be split into one commit per submitter: true for an error that
   * one submitter's data may have caused, so it alone fails and the others go through.
   */
  isolate?: (error: unknown) => boolean
}

export function createBatchCommit<I, O>({ commit, isolate }: BatchCommitOptions<I, O>): BatchCommit<I, O> {
  interface Entry {
    items: I[]
    resolve: (results: O[]) => void
    reject: (error: unknown) => void
  }
  let queue: Entry[] = []
  let flushing: Promise<void> | null = null

  async function run(batch: Entry[]): Promise<void> {
    try {
      const results = await commit(batch.flatMap((entry) => entry.items))
      let at = 0
      for (const entry of batch) {
        entry.resolve(results.slice(at, at + entry.items.length))
        at += entry.items.length
      }
    } catch (error) {
      if (batch.length > 1 && isolate?.(error)) {
        for (const entry of batch) await run([entry])
      } else {
        for (const entry of batch) entry.reject(error)
      }
    }
  }

  async function flushAll(): Promise<void> {
    // Let requests of this turn of the event loop join the first batch.
    await new Promise((resolve) => setImmediate(resolve))
    while (queue.length > 0) {
      const batch = queue
      queue = []
      await run(batch)
    }
    flushing = null
  }

  return {
    submit(items) {
      return new Promise<O[]>((resolve, reject) => {
        queue.push({ items, resolve, reject })
        flushing ??= flushAll()
      })
    },
    async drain() {
      while (flushing) await flushing
    },
  }
}
