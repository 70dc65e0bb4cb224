// A newest-first page of rows keyed by a growing id, and its cursors: `older` to pass as `before`,
// `newer` as `after`. The store is asked for one row more than the page, so that a cursor is given
// only when a row lies beyond it. A page read from `after` comes oldest first from the store.

/** The rows to show (newest first) of those read for a page of `limit`, and the page's cursors. */
export function pageOf<Row>(
  read: readonly Row[],
  idOf: (row: Row) => number,
  {
    newestFirst,
    before,
    after,
    limit,
  }: { newestFirst: boolean; before?: number; after?: number; limit: number },
): { rows: Row[]; older: number | null; newer: number | null } {
  const more = read.length > limit
  const rows = read.slice(0, limit)
  const id = (row: Row | undefined) => (row === undefined ? null : idOf(row))
  if (newestFirst) {
    return { rows, older: more ? id(rows.at(-1)) : null, newer: before === undefined ? null : id(rows[0]) }
  }
  return {
    rows: rows.toReversed(),
    older: id(rows[0]) ?? (after ?? 0) + 1,
    newer: more ? id(rows.at(-1)) : null,
  }
}
