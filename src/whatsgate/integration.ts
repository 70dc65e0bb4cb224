// What the relay does with WhatsGate's API in the background, wired from the config: point the
// sessions at the relay (set-hook), then fetch what was missed (events-get). One of the relay's
// background loops (supervisor.ts). Inline media is the dispatcher's, through media.ts.
import type { Logger } from 'pino'
import type { Config } from '../config/config.ts'
import { wallClock } from '../events/index.ts'
import type { Acceptor } from '../ingest/acceptor.ts'
import { type Clock, systemClock } from '../shared/clock.ts'
import { sleep } from '../shared/sleep.ts'
import type { OutboxStore } from '../store/types.ts'
import type { WhatsGateClient } from './api-client.ts'
import { type BackfillResult, createBackfill } from './backfill.ts'
import { createRegistrar, defaultRetryDelay, type Registrar } from './registrar.ts'
import { createStartupBackfill, type StartupBackfill } from './startup-backfill.ts'

export interface WhatsGateIntegrationDeps {
  config: Config
  client: WhatsGateClient
  acceptor: Acceptor
  store: Pick<OutboxStore, 'newestEventDates' | 'markSession'>
  log: Logger
  /** What time it is and what the retries wait on; real time by default. */
  clock?: Clock
  /** Between rounds of registration and of the start-up backfill (registrar.ts' backoff by default). */
  retryDelay?: (attempt: number) => number
  /** Before registration tries again after WhatsGate rejected the key (the registrar's 15 min by default). */
  unauthorizedDelayMs?: number
}

export interface WhatsGateIntegration {
  readonly name: 'whatsgate'
  readonly registrar: Registrar | null
  /**
   * Starts registration and the start-up backfill in the background. Resolves once the backfill's
   * starting points are read: before ingest opens, so live events cannot move them past the gap.
   */
  start(): Promise<void>
  /** Aborts the calls in flight (what was accepted stays); WhatsGate's calls need no deadline. */
  stop(deadline: number): Promise<void>
  backfill(params?: { since?: string; whatsappIds?: readonly string[] }): Promise<BackfillResult[]>
  status(): Record<string, unknown>
}

export function callbackUrl(config: Config): string | null {
  return config.publicUrl ? `${config.publicUrl}/webhook/${config.ingestToken}` : null
}

export function createWhatsGateIntegration({
  config,
  client,
  acceptor,
  store,
  log,
  clock = systemClock,
  retryDelay = defaultRetryDelay,
  unauthorizedDelayMs,
}: WhatsGateIntegrationDeps): WhatsGateIntegration {
  const { whatsappIds, registerOnStart, backfillOnStart, backfillSince } = config.whatsgate
  const callback = callbackUrl(config)
  if (registerOnStart && !callback)
    log.warn('WHATSGATE_API_KEY is set but PUBLIC_URL is not: set-hook is skipped')
  const backfillLog = log.child({ name: 'backfill' })
  const accept = async (body: Buffer) => (await acceptor.accept(body)).status
  let startupBackfill: StartupBackfill | null = null
  const registrar =
    registerOnStart && callback
      ? createRegistrar({
          client,
          callbackUrl: callback,
          whatsappIds,
          log: log.child({ name: 'registrar' }),
          clock,
          retryDelay,
          unauthorizedDelayMs,
          onSessionReady: (whatsappId) => startupBackfill?.add(whatsappId),
        })
      : null
  /** A backfill through the ingest path, starting from the dates `marks` gives. */
  const backfillFrom = (
    marks: () => Promise<Map<string, string>>,
    unseenSince?: (whatsappId: string) => Promise<string | null>,
  ) =>
    createBackfill({
      client,
      log: backfillLog,
      sink: {
        accept,
        newestEventDate: async (whatsappId) => (await marks()).get(whatsappId) ?? null,
        ...(unseenSince ? { unseenSince } : {}),
      },
    })
  // On demand (CLI): from the newest event stored now; a session never seen, from --since or all.
  const backfiller = backfillFrom(() => store.newestEventDates())
  const abort = new AbortController()
  let lastBackfill: BackfillResult[] | null = null

  async function sessions(): Promise<readonly string[]> {
    if (whatsappIds.length > 0) return whatsappIds
    const discovered = registrar?.status().sessions.map((s) => s.whatsappId)
    if (discovered?.length) return discovered
    return (await client.listAllSessions({}, { signal: abort.signal })).map((s) => s.unique_id)
  }

  async function queueEverySession(backfill: StartupBackfill): Promise<void> {
    for (let attempt = 1; !abort.signal.aborted; attempt++) {
      try {
        for (const id of await sessions()) backfill.add(id)
        return
      } catch (error) {
        if (abort.signal.aborted) return
        const retryInMs = retryDelay(attempt)
        log.warn({ err: error, retryInMs }, 'start-up backfill could not list the sessions; retrying')
        await sleep(retryInMs, abort.signal, clock).catch(() => undefined)
      }
    }
  }

  async function backfill(params: { since?: string; whatsappIds?: readonly string[] } = {}) {
    const results = await backfiller.run({
      whatsappIds: params.whatsappIds ?? (await sessions()),
      since: params.since,
      signal: abort.signal,
    })
    lastBackfill = results
    return results
  }

  return {
    name: 'whatsgate',
    registrar,
    async start() {
      if (backfillOnStart) {
        const marks = await store.newestEventDates()
        const startedAt = wallClock(clock.now())
        // A session never seen before would otherwise bring every event WhatsGate keeps, and a bot
        // would take years of messages as new. It starts at this start instead (or where
        // BACKFILL_SINCE says), and its mark is written at once, so a later restart fetches the gap.
        const unseenSince = async (whatsappId: string) => {
          if (backfillSince === 'all') return null
          if (backfillSince !== null) return backfillSince
          await store.markSession(whatsappId, startedAt)
          return startedAt
        }
        startupBackfill = createStartupBackfill({
          backfill: backfillFrom(async () => marks, unseenSince),
          log: backfillLog,
          retryDelay,
          clock,
        })
      }
      registrar?.start()
      // Without registration WhatsGate was pointed here by hand: every session, at once.
      if (startupBackfill && !registrar) void queueEverySession(startupBackfill)
    },
    async stop() {
      abort.abort()
      await registrar?.stop()
      await startupBackfill?.stop()
    },
    backfill,
    status() {
      return {
        registration: registrar?.status() ?? null,
        backfill: lastBackfill ?? startupBackfill?.results() ?? null,
      }
    },
  }
}
