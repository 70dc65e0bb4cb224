// The relay's parts, wired from a Config, with no HTTP server: app.ts serves them, the CLI uses
// them directly. Opening the store is asynchronous (PostgreSQL connects and migrates first).
// Background loops start with start() and stop in dependency order.
import type { Logger } from 'pino'
import { createMetrics } from './admin/metrics.ts'
import type { Config } from './config/config.ts'
import { createDispatcher } from './delivery/dispatcher.ts'
import { createHttpSender } from './delivery/http-sender.ts'
import { createAcceptor } from './ingest/acceptor.ts'
import { openStore } from './store/open-store.ts'
import { createRetention } from './store/retention.ts'
import { VERSION } from './version.ts'
import { createWhatsGateIntegration } from './whatsgate/integration.ts'

export type Relay = Awaited<ReturnType<typeof createRelay>>

export async function createRelay(config: Config, log: Logger) {
  const store = await openStore({ databaseUrl: config.databaseUrl, sqlitePath: config.sqlitePath, log })
  const sender = createHttpSender({ userAgent: `whatsgate-relay/${VERSION}` })
  const metrics = createMetrics({ store, registration: () => whatsgate?.registrar?.status() ?? null })
  const acceptor = createAcceptor({
    store,
    targets: config.targets,
    log: log.child({ name: 'ingest' }),
    onStored: (targets) => dispatcher.notify(targets),
    onOutcome: metrics.eventReceived,
  })
  const whatsgate = createWhatsGateIntegration({ config, acceptor, store, log })
  if (!whatsgate && config.targets.some((t) => t.media === 'inline')) {
    log.warn(
      'a target asks for inline media but WHATSGATE_API_KEY is not set: it receives events without media',
    )
  }
  const dispatcher = createDispatcher({
    store,
    sender,
    targets: config.targets,
    log: log.child({ name: 'dispatcher' }),
    prepareBody: whatsgate ? whatsgate.prepareBody : undefined,
    onAttempt: metrics.deliveryAttempt,
  })
  const retention = createRetention({
    store,
    log: log.child({ name: 'retention' }),
    retentionDays: config.retentionDays,
    deadRetentionDays: config.deadRetentionDays,
  })

  return {
    store,
    acceptor,
    dispatcher,
    metrics,
    whatsgate,
    /** Resolves before ingest opens (see WhatsGateIntegration.start). */
    async start() {
      dispatcher.start()
      retention.start()
      await whatsgate?.start()
    },
    /** No new sends, sends in flight finish (or are released), then the store closes. */
    async stop() {
      await whatsgate?.stop()
      await dispatcher.stop(config.shutdownTimeoutMs)
      await retention.stop()
      await sender.close()
      await store.close()
    },
  }
}
