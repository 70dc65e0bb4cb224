/**
 * The shortest time between two commits of a store (group-commit.ts, batch-commit.ts). A commit
 * costs more than its rows (on SQLite every page it touched goes to the WAL, a dozen index pages
 * for one event, and a durable one waits for an fsync; on PostgreSQL each is round trips and a WAL
 * flush), so at a steady rate events that wait a few milliseconds for company share it: at 1,000
 * events/s this cut the relay's CPU per event by a third (`npm run bench -- pipeline`, low rate).
 * An event's 200 waits at most this long more; below one write per interval nothing waits.
 */
export const COMMIT_INTERVAL_MS = 5
