/**
 * The longest a commit waits for company (group-commit.ts, batch-commit.ts). A commit costs more
 * than its rows (on SQLite every page it touched goes to the WAL, a dozen index pages for one
 * event, and a durable one waits for an fsync; on PostgreSQL each is round trips and a WAL flush),
 * so at a steady rate events that wait a few milliseconds for company share it: at 1,000 events/s,
 * 5 ms cut the relay's CPU per event by a third against none (`npm run bench -- pipeline`, low
 * rate), and 10 ms another tenth against 5. Only while writes overlap (the last commit carried more
 * than one): a lone sender's events, one after the other, and a backlog's claims and outcomes
 * commit at once. And only until as many writes have come as the last commit carried: senders
 * that each wait for their answer (a closed loop) have then all sent again, and no one else is
 * coming, so waiting longer would only hold them (`npm run bench -- pipeline`, two alternating
 * pairs: 4,934 -> 6,637 events/s delivered at max rate, CPU per event at 1,000/s unchanged).
 */
export const COMMIT_INTERVAL_MS = 10

/** The last commit: when it began and how many writes it carried (durable ones, on SQLite). */
export interface LastCommit {
  at: number
  size: number
}

/**
 * How long the next commit may wait for company, given the last commit: the rest of `intervalMs`
 * after it began, if it carried more than one write (writes overlap); else none.
 */
export function commitWait(last: LastCommit, intervalMs: number): number {
  return last.size > 1 ? last.at + intervalMs - performance.now() : 0
}

/** Whether `waiting` writes are as many as the last commit carried: the wait for company ends. */
export function companyCame(last: LastCommit, waiting: number): boolean {
  return waiting >= last.size
}
