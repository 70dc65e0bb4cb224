// Everything the relay does with WhatsGate's API at run time, wired from the config: point the
// sessions at the relay (set-hook), then fetch what was missed (events-get), and fetch media for
// targets that want it inline.
import type { Logger } from 'pino'
import type { Config, Target } from '../config/index.ts'
import type { Acceptor } from '../ingest/acceptor.ts'
import type { ClaimedDelivery, OutboxStore } from '../store/types.ts'
import { createWhatsGateClient, type WhatsGateClient } from './api-client.ts'
import { type Backfill, type BackfillResult, createBackfill } from './backfill.ts'
import { fetchMedia, mediaReference, withInlineMedia } from './media.ts'
import { createRegistrar, type Registrar } from './registrar.ts'

export interface WhatsGateIntegrationDeps {
  config: Config
  acceptor: Acceptor
  store: Pick<OutboxStore, 'newestEventDate'>
  log: Logger
}

export interface WhatsGateIntegration {
  readonly name: 'whatsgate'
  readonly client: WhatsGateClient
  readonly registrar: Registrar | null
  start(): void
  stop(): Promise<void>
  backfill(params?: { since?: string; whatsappIds?: readonly string[] }): Promise<BackfillResult[]>
  /** The body a target receives: with the message's media inlined when it asked for that. */
  prepareBody(target: Target, delivery: ClaimedDelivery): Promise<Buffer>
  status(): Record<string, unknown>
}

export function callbackUrl(config: Config): string | null {
  return config.publicUrl ? `${config.publicUrl}/webhook/${config.ingestToken}` : null
}

export function createWhatsGateIntegration({ config, acceptor, store, log }: WhatsGateIntegrationDeps) {
  const { apiKey, apiUrl, whatsappIds, registerOnStart, backfillOnStart } = config.whatsgate
  if (!apiKey) return null
  const client = createWhatsGateClient({ baseUrl: apiUrl, apiKey, log: log.child({ name: 'whatsgate' }) })
  const callback = callbackUrl(config)
  if (registerOnStart && !callback)
    log.warn('WHATSGATE_API_KEY is set but PUBLIC_URL is not: set-hook is skipped')
  const registrar =
    registerOnStart && callback
      ? createRegistrar({ client, callbackUrl: callback, whatsappIds, log: log.child({ name: 'registrar' }) })
      : null
  const backfiller: Backfill = createBackfill({
    client,
    log: log.child({ name: 'backfill' }),
    sink: {
      accept: async (body) => (await acceptor.accept(body)).status,
      newestEventDate: (whatsappId) => store.newestEventDate(whatsappId),
    },
  })
  const abort = new AbortController()
  let startupBackfill: Promise<unknown> | null = null
  let lastBackfill: BackfillResult[] | null = null

  async function sessions(): Promise<readonly string[]> {
    if (whatsappIds.length > 0) return whatsappIds
    const discovered = registrar?.status().sessions.map((s) => s.whatsappId)
    if (discovered?.length) return discovered
    return (await client.listAllSessions({}, { signal: abort.signal })).map((s) => s.unique_id)
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
    client,
    registrar,
    start() {
      registrar?.start()
      if (!backfillOnStart) return
      // After registration: from then on WhatsGate posts here, so nothing falls between the two.
      // Sessions that are not pointed here yet are left for a later run (or `backfill` CLI).
      startupBackfill = (registrar ? registrar.whenSettled() : Promise.resolve(null))
        .then((registration) => {
          if (abort.signal.aborted) return
          if (!registration) return backfill()
          const ready = registration.sessions
            .filter((s) => s.outcome === 'registered' || s.outcome === 'already')
            .map((s) => s.whatsappId)
          return ready.length > 0 ? backfill({ whatsappIds: ready }) : undefined
        })
        .catch((error) => {
          if (!abort.signal.aborted) log.error({ err: error }, 'start-up backfill failed')
        })
    },
    async stop() {
      abort.abort()
      await registrar?.stop()
      await startupBackfill
    },
    backfill,
    async prepareBody(target, delivery) {
      if (target.media !== 'inline') return delivery.body
      const ref = mediaReference(delivery.body)
      if (!ref) return delivery.body
      const media = await fetchMedia(client, ref.whatsappId, ref.messageId)
      return media ? withInlineMedia(delivery.body, media) : delivery.body
    },
    status() {
      return { registration: registrar?.status() ?? null, backfill: lastBackfill }
    },
  } satisfies WhatsGateIntegration
}
