// Fetches what WhatsGate holds through `events-get` and feeds it into the relay's ingest path, to
// recover events that WhatsGate gave up on (three retries, 20 s apart) while the relay was away.
// It starts a little before the newest stored event: events of the same second may be listed in
// any order, and the overlap is harmless because the store drops keys it already has.
import type { Logger } from 'pino'
import { subtractSeconds } from '../events/index.ts'
import type { WhatsGateClient } from './api-client.ts'

export interface BackfillSink {
  accept(body: Buffer): Promise<'accepted' | 'duplicate' | 'invalid'>
  /** The `event_date` of the newest stored event of this session, or null. */
  newestEventDate(whatsappId: string): Promise<string | null>
  /**
   * Where a session with no stored event starts (taken as is, without overlap); null = from the
   * start of what WhatsGate keeps, as without this.
   */
  unseenSince?(whatsappId: string): Promise<string | null>
}

export interface BackfillResult {
  whatsappId: string
  /** The `date` sent to events-get; null = from the start of what WhatsGate keeps. */
  from: string | null
  fetched: number
  accepted: number
  duplicates: number
  invalid: number
  /** Set when the session's backfill stopped early; the counts cover what was done. */
  error?: string
}

export interface BackfillOptions {
  client: Pick<WhatsGateClient, 'eventsGet'>
  sink: BackfillSink
  log: Logger
  overlapSeconds?: number
  /** events-get's `page_cnt`: WhatsGate allows at most 100. */
  pageSize?: number
  /** A guard against a server that ignores `page`. */
  maxPages?: number
}

export interface Backfill {
  run(params: {
    whatsappIds: readonly string[]
    since?: string
    signal?: AbortSignal
  }): Promise<BackfillResult[]>
}

export function createBackfill(options: BackfillOptions): Backfill {
  const { client, sink, log, overlapSeconds = 60, maxPages = 100_000 } = options
  const pageSize = Math.min(100, Math.max(1, options.pageSize ?? 100))

  async function startDate(whatsappId: string, since: string | undefined): Promise<string | null> {
    if (since !== undefined) return since
    const newest = await sink.newestEventDate(whatsappId)
    if (newest === null) return (await sink.unseenSince?.(whatsappId)) ?? null
    const earlier = subtractSeconds(newest, overlapSeconds)
    if (earlier === null) {
      log.warn(
        { whatsappId, newest },
        'stored event_date is not YYYY-MM-DD HH:MM:SS; backfilling from it as is',
      )
      return newest
    }
    return earlier
  }

  async function one(whatsappId: string, since: string | undefined, signal?: AbortSignal) {
    const result: BackfillResult = {
      whatsappId,
      from: null,
      fetched: 0,
      accepted: 0,
      duplicates: 0,
      invalid: 0,
    }
    try {
      result.from = await startDate(whatsappId, since)
      for (let page = 1; page <= maxPages; page++) {
        const params = {
          WhatsappID: whatsappId,
          page,
          page_cnt: pageSize,
          ...(result.from ? { date: result.from } : {}),
        }
        const answer = await client.eventsGet(params, { signal })
        // A server that ignores `page` would hand the first page back forever: what follows it
        // cannot be fetched, so the session's backfill is incomplete, not done.
        if (answer.page !== page) throw new Error(`events-get answered page ${answer.page} for page ${page}`)
        for (const element of answer.data) {
          result.fetched++
          const outcome = await sink.accept(Buffer.from(JSON.stringify(withSession(element, whatsappId))))
          if (outcome === 'accepted') result.accepted++
          else if (outcome === 'duplicate') result.duplicates++
          else {
            result.invalid++
            log.warn(
              { whatsappId, page, ...describe(element) },
              'events-get returned an element that is not an event',
            )
          }
        }
        if (page >= answer.pages || answer.data.length === 0) break
      }
    } catch (err) {
      if (signal?.aborted) throw err
      result.error = err instanceof Error ? err.message : String(err)
      log.error({ whatsappId, error: result.error }, 'backfill of session stopped')
    }
    const { error: _error, ...counts } = result
    log.info(counts, 'backfill of session done')
    return result
  }

  return {
    async run({ whatsappIds, since, signal }) {
      const results: BackfillResult[] = []
      for (const whatsappId of whatsappIds) results.push(await one(whatsappId, since, signal))
      return results
    },
  }
}

// events-get is asked for one session; should its elements leave out the session (the shape is
// not documented), the envelope would be incomplete, so the session asked for is filled in.
function withSession(element: unknown, whatsappId: string): unknown {
  if (typeof element !== 'object' || element === null || Array.isArray(element)) return element
  return 'whatsapp_id' in element ? element : { ...element, whatsapp_id: whatsappId }
}

/** Identifies an element for a log line without its content (message text is private). */
function describe(element: unknown): Record<string, unknown> {
  if (typeof element !== 'object' || element === null || Array.isArray(element)) {
    return { type: Array.isArray(element) ? 'array' : typeof element }
  }
  const { id, event_action, event_date } = element as Record<string, unknown>
  const scalar = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? v : typeof v)
  return { id: scalar(id), event_action: scalar(event_action), event_date: scalar(event_date) }
}
