/**
 * The shortest time between two commits of a store (group-commit.ts, batch-commit.ts). A commit
 * costs more than its rows (on SQLite every page it touched goes to the WAL, a dozen index pages
 * for one event, and a durable one waits for an fsync; on PostgreSQL each is round trips and a WAL
 * flush), so at a steady rate events that wait a few milliseconds for company share it: at 1,000
 * events/s, 5 ms cut the relay's CPU per event by a third against none (`npm run bench --
 * pipeline`, low rate), and 10 ms another tenth against 5 (599 against 666 µs per event, three
 * alternating rounds each); at max rate commits follow each other anyway. An event's 200 waits at
 * most this long more, which WhatsGate, waiting seconds, does not feel. Only while writes overlap
 * (the last commit carried more than one): a lone sender's events, one after the other, and a
 * backlog's claims and outcomes commit at once.
 */
export const COMMIT_INTERVAL_MS = 10

/**
 * How long the next commit waits for company, given the last commit: the rest of `intervalMs`
 * after it began, if it carried more than one write (writes overlap); else none.
 */
export function commitWait(last: { at: number; size: number }, intervalMs: number): number {
  return last.size > 1 ? last.at + intervalMs - performance.now() : 0
}
