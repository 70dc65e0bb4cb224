// Received-time filters of the admin lists, in both stores. The lists page in seq (id) order, and
// no index gives "received in this range, in seq order": read in seq order from `after`, a range
// costs every row before it; through the received_at index, the whole range, sorted. What helps
// is that seqs grow with received times (a seq is drawn as an event is received): the exact
// lowest and highest seq of a range, read from events_received alone, bound it in seq order, and
// with those bounds every list reads the range's own rows, through whichever index its other
// filters pick, and stops after a page. The bounds cost a pass over the range's index entries,
// so they are read only when a cheap probe (where the range's ends fall in seq order) says that
// reads fewer rows than starting at `after`. A clock stepped back or a replica's late commit can
// make that estimate wrong, never the answer: the bounds are exact, the probe only decides.
import type { DeliveryQuery, EventQuery } from './types.ts'

/** The seqs of the first events received at or after each end of a range, and the highest seq. */
export interface TimeRangeProbe {
  start: number | null
  stop: number | null
  last: number | null
}

export interface TimeRangeRead {
  receivedFrom: number | undefined
  receivedBefore: number | undefined
  /** The seq a page starts after (for deliveries, that of the delivery's event). */
  afterSeq: number
  limit: number
  /** Newest first: the page reads backwards from below this seq (Infinity: from the newest). */
  beforeSeq?: number
  /**
   * What reading the bounds costs per event of the range, against a row read in seq order: an
   * index entry of events_received (events), and those of deliveries_event too (deliveries).
   * Each store states its own, as measured on a million events.
   */
  boundCost: number
}

/** Whether to read a range's seq bounds first, rather than read in seq order from `after`. */
export function worthBounding(probe: TimeRangeProbe, read: TimeRangeRead): boolean {
  const { receivedFrom, receivedBefore, afterSeq, limit, boundCost } = read
  if (probe.last === null) return false
  const end = probe.last + 1
  const start = receivedFrom === undefined ? 0 : (probe.start ?? end)
  const stop = receivedBefore === undefined ? end : (probe.stop ?? end)
  const bounded = Math.max(0, stop - start) * boundCost + limit
  if (read.beforeSeq !== undefined) {
    // Backwards: down to the range, then a page of it, or on to the start when it holds no page.
    const top = Math.min(read.beforeSeq, end)
    const below = Math.min(top, stop)
    return bounded < Math.max(0, top - stop) + (below - start >= limit ? limit : below)
  }
  const first = Math.max(start, afterSeq)
  // In seq order: up to the range, then a page of it, or on to the end when it holds no page.
  const bySeq = Math.max(0, start - afterSeq) + (stop - first >= limit ? limit : end - first)
  return bounded < bySeq
}

/** Both ends of a range, an open side as the widest, for the statements that read the bounds. */
function timeBounds(receivedFrom: number | undefined, receivedBefore: number | undefined) {
  return { from: receivedFrom ?? 0, to: receivedBefore ?? Number.MAX_SAFE_INTEGER }
}

/** Lowest and highest seq (events) or id (deliveries) a range's rows can have. */
export interface Bounds {
  low: number
  high: number
}

/** A timeRange row: the probe, and the seq of the event of the delivery a page starts after. */
export type ProbeRow = TimeRangeProbe & { after_seq: number | null }

/** A seqBounds or idBounds row: nulls when the range holds nothing. */
export interface BoundsRow {
  low: number | null
  high: number | null
}

/** The three reads of a store that bounding takes (its timeRange, seqBounds and idBounds). */
export interface BoundReads {
  /** boundCost (see TimeRangeRead) of a list of events and of one of deliveries, in this store. */
  costs: { events: number; deliveries: number }
  probe(from: number | null, to: number | null, delivery: number | null): Promise<ProbeRow>
  seqs(from: number, to: number): Promise<BoundsRow>
  ids(low: number, high: number): Promise<BoundsRow>
}

/**
 * The bounds of a list's received-time range when reading them is worth it, `empty` when nothing
 * was received in it, null to read in seq order. `after` is the page's seq, or for deliveries its id.
 */
export async function boundsOf(
  query: EventQuery | DeliveryQuery,
  list: { deliveries: boolean; after: number; limit: number; before?: number },
  reads: BoundReads,
): Promise<Bounds | 'empty' | null> {
  const { receivedFrom, receivedBefore } = query
  if (receivedFrom === undefined && receivedBefore === undefined) return null
  const { deliveries, after, limit, before } = list
  // A newest-first page reads from its `before` cursor down: that one's seq is what the probe needs.
  const cursor = before === undefined ? after : Number.isFinite(before) ? before : null
  const probe = await reads.probe(receivedFrom ?? null, receivedBefore ?? null, deliveries ? cursor : null)
  const cursorSeq = deliveries
    ? (probe.after_seq ?? (before === undefined ? 0 : Infinity))
    : (cursor ?? Infinity)
  const boundCost = deliveries ? reads.costs.deliveries : reads.costs.events
  const read =
    before === undefined
      ? { receivedFrom, receivedBefore, afterSeq: cursorSeq, limit, boundCost }
      : { receivedFrom, receivedBefore, afterSeq: 0, beforeSeq: cursorSeq, limit, boundCost }
  if (!worthBounding(probe, read)) return null
  const range = timeBounds(receivedFrom, receivedBefore)
  const seqs = await reads.seqs(range.from, range.to)
  if (seqs.low === null || seqs.high === null) return 'empty'
  if (!deliveries) return { low: seqs.low, high: seqs.high }
  const ids = await reads.ids(seqs.low, seqs.high)
  return ids.low === null || ids.high === null ? 'empty' : { low: ids.low, high: ids.high }
}
