// The relay's parts, wired from a Config, with no HTTP server: app.ts serves them, the CLI uses
// them directly. Read top to bottom, it is the path of an event: the store; what a target's body
// is made with (inline media needs WhatsGate's client); the dispatcher that sends, and the streams
// that consumers pull; the acceptor that stores and wakes them; WhatsGate's registration and
// backfill, which feed the acceptor. The
// background loops start in that order and stop in reverse; the store closes last.
import type { Logger } from 'pino'
import { createAlerts } from './alerts/alerts.ts'
import type { Config } from './config/config.ts'
import { createDispatcher } from './delivery/dispatcher.ts'
import { createHttpSender } from './delivery/http-sender.ts'
import { createReplicaHeartbeat } from './delivery/replica-heartbeat.ts'
import { createSender } from './delivery/sender.ts'
import { isPushed, type TargetOf } from './delivery/targets.ts'
import { createAcceptor } from './ingest/acceptor.ts'
import type { RefusalReason } from './ingest/refusals.ts'
import { type Clock, systemClock } from './shared/clock.ts'
import { openStore } from './store/open-store.ts'
import { createRetention } from './store/retention.ts'
import { type BackgroundLoop, createSupervisor } from './supervisor.ts'
import { VERSION } from './version.ts'
import { createWhatsGateClient } from './whatsgate/api-client.ts'
import { createWhatsGateIntegration } from './whatsgate/integration.ts'
import { createMediaInliner } from './whatsgate/media.ts'

export type Relay = Awaited<ReturnType<typeof createRelay>>

/** How far behind the alerts read events on PostgreSQL (alerts/evaluator.ts). */
const EVENT_SETTLE_MS = 30_000

/** Time, for tests: not settings an operator has, so not in the environment. */
export interface RelayOptions {
  /** What time it is and what every loop and retry waits on; real time by default. */
  clock?: Clock
  /** The waits between tries; each one left out keeps its production value. */
  delays?: RelayDelays
}

export interface RelayDelays {
  /** The longest a target waits before the dispatcher looks for due work again (1 s). */
  pollIntervalMs?: number
  /** Between the WhatsGate client's tries of one call that met an outage (0.5 s, 1 s, 2 s). */
  whatsgateBackoff?: (attempt: number) => number
  /** Between checks of the alerts loop (5 s). */
  alertCheckMs?: number
  /** Between rounds of registration and of the start-up backfill (1 s doubling to 5 min, ±20 %). */
  whatsgateRetry?: (attempt: number) => number
  /** Before registration tries again after WhatsGate rejected the API key (15 min). */
  unauthorizedRetryMs?: number
}

export async function createRelay(
  config: Config,
  log: Logger,
  { clock = systemClock, delays = {} }: RelayOptions = {},
) {
  const { targets } = config
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    sqlitePath: config.sqlitePath,
    sqliteBench: config.sqliteBench,
    log,
    clock,
  })
  // Served by the admin API alone: without ADMIN_TOKEN nothing counts, and prom-client stays unloaded.
  const metrics = config.adminToken
    ? (await import('./admin/metrics.ts')).createMetrics({
        store,
        targetNames: targets.map((t) => t.name),
        clock,
      })
    : null

  const { apiKey, apiUrl } = config.whatsgate
  const whatsgateClient = apiKey
    ? createWhatsGateClient({
        baseUrl: apiUrl,
        apiKey,
        log: log.child({ name: 'whatsgate' }),
        clock,
        backoff: delays.whatsgateBackoff,
      })
    : null
  const prepareBody = whatsgateClient
    ? createMediaInliner({ client: whatsgateClient, log: log.child({ name: 'media' }) })
    : undefined
  if (!prepareBody && targets.some((t) => t.media === 'inline')) {
    log.warn(
      'a target asks for inline media but WHATSGATE_API_KEY is not set: it receives events without media',
    )
  }

  // A broker kind's client is loaded here only when a target of its kind exists; connections open
  // at the first send, so a broker that is down delays nothing but its own deliveries.
  const pushed = targets.filter(isPushed)
  const sender = await createSender({
    targets: pushed,
    userAgent: `whatsgate-relay/${VERSION}`,
    log: log.child({ name: 'sender' }),
  })
  const dispatcher = createDispatcher({
    store,
    sender,
    targets: pushed,
    log: log.child({ name: 'dispatcher' }),
    clock,
    pollIntervalMs: delays.pollIntervalMs,
    prepareBody,
    onAttempt: (target, outcome, durationMs) => {
      metrics?.deliveryAttempt(target, outcome, durationMs)
      alerts.attempted(target, outcome)
    },
  })
  // Its leases are the dispatcher's: it beats under the dispatcher's owner id.
  const heartbeat = createReplicaHeartbeat({
    store,
    id: dispatcher.owner,
    deadAfterMs: config.replicaDeadAfterMs,
    forgetAfterMs: config.replicaForgetAfterMs,
    log: log.child({ name: 'replicas' }),
    clock,
    onLeasesFreed: () => dispatcher.notify(),
    shared: config.databaseUrl !== null,
  })
  metrics?.observeConcurrency(() => dispatcher.concurrency())

  // Loaded only when a stream target exists, as the brokers' clients are.
  const streamTargets = targets.filter((t): t is TargetOf<'stream'> => t.type === 'stream')
  const streams =
    streamTargets.length > 0
      ? (await import('./stream/streams.ts')).createStreams({
          store,
          targets: streamTargets,
          log: log.child({ name: 'streams' }),
          clock,
          pollIntervalMs: delays.pollIntervalMs,
        })
      : null
  if (streams) metrics?.observeStreamConsumers(() => streams.consumers())

  const acceptor = createAcceptor({
    store,
    targets,
    log: log.child({ name: 'ingest' }),
    clock,
    dispatcher,
    onStored: (targetNames) => {
      dispatcher.notify(targetNames)
      streams?.notify(targetNames)
    },
    onOutcome: metrics?.eventReceived,
  })

  const whatsgate = whatsgateClient
    ? createWhatsGateIntegration({
        config,
        client: whatsgateClient,
        acceptor,
        store,
        log,
        clock,
        retryDelay: delays.whatsgateRetry,
        unauthorizedDelayMs: delays.unauthorizedRetryMs,
      })
    : null
  const registrar = whatsgate?.registrar
  if (registrar) metrics?.observeRegistration(() => registrar.status())

  const retention = createRetention({
    store,
    log: log.child({ name: 'retention' }),
    retentionDays: config.retentionDays,
    deadRetentionDays: config.deadRetentionDays,
    now: () => clock.now(),
  })

  // The heartbeat first: it beats before the dispatcher takes a lease, and stops (its row removed)
  // after the dispatcher has released them.
  const loops: BackgroundLoop[] = [heartbeat, dispatcher, retention]
  // Loaded only when set, as the streams are; the configuration refuses it with PostgreSQL.
  if (config.backups && !config.databaseUrl) {
    const { createBackupSchedule } = await import('./store/backup-schedule.ts')
    loops.push(
      createBackupSchedule({
        sqlitePath: config.sqlitePath,
        ...config.backups,
        log: log.child({ name: 'backups' }),
        clock,
        onBackup: metrics?.backupTaken,
      }),
    )
  }
  // Alerts watch the store and the dispatcher, and queue their messages in the store (alerts/).
  const alerts = createAlerts({
    store,
    settings: config.alerts,
    clock,
    log: log.child({ name: 'alerts' }),
    http: createHttpSender({ userAgent: `whatsgate-relay/${VERSION}` }),
    failingTargets: () => dispatcher.failing(),
    targets: targets.map(({ name, type }) => ({ name, type })),
    streamConsumers: () => streams?.consumers() ?? null,
    registration: () => whatsgate?.registrar?.status() ?? null,
    wake: (target) => dispatcher.notify([target]),
    // PostgreSQL: as long as a statement may take (postgres-store.ts statementTimeoutMs), see evaluator.ts.
    settleMs: config.databaseUrl ? EVENT_SETTLE_MS : 0,
    checkIntervalMs: delays.alertCheckMs,
  })
  loops.push(alerts)
  if (streams) loops.push(streams)
  if (whatsgate) loops.push(whatsgate)
  const supervisor = createSupervisor(loops, log)

  return {
    clock,
    store,
    acceptor,
    dispatcher,
    heartbeat,
    /** The stream targets' consumers; null without a stream target. */
    streams,
    /** Null without the admin API, which alone serves them. */
    metrics,
    whatsgate,
    alerts,
    /** A webhook request refused: counted in the metrics and for relay.refusals. */
    onRefused(reason: RefusalReason) {
      metrics?.webhookRefused(reason)
      alerts.refused(reason)
    },
    /** Resolves before ingest opens (see WhatsGateIntegration.start). */
    start: () => supervisor.start(),
    /** No new work, sends in flight finish (or are released) by the deadline, then the store closes. */
    async stop() {
      await supervisor.stop(clock.now() + config.shutdownTimeoutMs)
      await sender.close()
      await store.close()
    },
  }
}
