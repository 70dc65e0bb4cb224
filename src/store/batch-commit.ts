// Batch commit, for the PostgreSQL store: group-commit.ts's idea for a database reached over the
// network. Items submitted while a commit is in flight wait for it and then go together in the
// next one, so under load each commit carries many requests; and while requests overlap, commits
// begin at most once every `intervalMs`, or sooner once as many submissions wait as the last commit
// carried, so a steady rate shares them too (commit-interval.ts).
// Each submitter gets the results of its own items.
import { commitWait, companyCame, type LastCommit } from './commit-interval.ts'

export interface BatchCommit<I, O> {
  submit(items: I[]): Promise<O[]>
  /** Resolves once everything submitted so far has been committed (or failed). */
  drain(): Promise<void>
}

export interface BatchCommitOptions<I, O> {
  commit: (items: I[]) => Promise<O[]>
  /** The shortest time between the starts of two commits. */
  intervalMs: number
  /**
   * Whether a failed batch should be split into one commit per submitter: true for an error that
   * one submitter's data may have caused, so it alone fails and the others go through.
   */
  isolate?: (error: unknown) => boolean
}

export function createBatchCommit<I, O>({
  commit,
  intervalMs,
  isolate,
}: BatchCommitOptions<I, O>): BatchCommit<I, O> {
  interface Entry {
    items: I[]
    resolve: (results: O[]) => void
    reject: (error: unknown) => void
  }
  let queue: Entry[] = []
  let flushing: Promise<void> | null = null
  /** The last commit: when it began and how many submissions it carried. */
  const last: LastCommit = { at: Number.NEGATIVE_INFINITY, size: 0 }
  /** Ends the wait for company, while one runs. */
  let endWait: (() => void) | null = null

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

  /**
   * Lets the requests of this turn of the event loop join, or while requests overlap (the last
   * batch had more than one), those of the rest of the interval.
   */
  async function gather(): Promise<void> {
    const wait = companyCame(last, queue.length) ? 0 : commitWait(last, intervalMs)
    if (wait < 1) {
      await new Promise((resolve) => setImmediate(resolve))
      return
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => endWait?.(), wait)
      endWait = () => {
        clearTimeout(timer)
        endWait = null
        resolve()
      }
    })
  }

  async function flushAll(): Promise<void> {
    await gather()
    while (queue.length > 0) {
      const batch = queue
      queue = []
      last.at = performance.now()
      last.size = batch.length
      await run(batch)
      if (queue.length > 0) await gather()
    }
    flushing = null
  }

  return {
    submit(items) {
      return new Promise<O[]>((resolve, reject) => {
        queue.push({ items, resolve, reject })
        flushing ??= flushAll()
        if (endWait && companyCame(last, queue.length)) endWait()
      })
    },
    async drain() {
      while (flushing) await flushing
    },
  }
}
