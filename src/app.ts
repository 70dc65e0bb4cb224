// Builds the whole relay from an environment: validated config, store, routes, background loops.
// main.ts only runs it; tests build the very same app.
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyError, type FastifyReply, LogController } from 'fastify'
import { type Logger, type LoggerOptions, pino } from 'pino'
import { healthRoutes } from './admin/health-routes.ts'
import { type Config, configSummary } from './config/config.ts'
import { loadConfig } from './config/load.ts'
import { configWarnings } from './config/warnings.ts'
import { watchConnectionCuts } from './ingest/connection-cuts.ts'
import { createRefusals } from './ingest/refusals.ts'
import { webhookRoute } from './ingest/webhook-route.ts'
import { createRelay, type RelayOptions } from './relay.ts'
import { createAggregateLog } from './shared/aggregate-log.ts'
import { StoreUnavailableError } from './store/errors.ts'

declare module 'fastify' {
  interface FastifyInstance {
    relayConfig: Config
  }
}

export interface BuildAppOptions extends RelayOptions {
  /** The environment to read (process.env in production, a plain object in tests). */
  env: Record<string, string | undefined>
  /** A logger of the caller's; by default a pino JSON logger at LOG_LEVEL. */
  logger?: Logger
  /** The settings file `env` was filled from (config/env-file.ts), for the start-up summary. */
  envFile?: string | null
}

export const loggerOptions = {
  level: 'info',
  // The token is the callback's only secret and it sits in the URL: never log it, nor a stream
  // consumer's (`?token=`, as a browser's EventSource can send no header).
  serializers: {
    req: (req: { method: string; url: string; id: string }) => ({
      method: req.method,
      url: req.url
        .replace(/^\/webhook\/[^/?]*/, '/webhook/[token]')
        .replace(/([?&]token=)[^&]*/, '$1[token]'),
      reqId: req.id,
    }),
  },
  redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
} satisfies LoggerOptions

const URL_REFUSALS: Record<string, string> = {
  FST_ERR_BAD_URL: 'not valid percent-encoding (e.g. %ff)',
  FST_ERR_MAX_PARAM_LENGTH: 'a path segment is longer than 100 characters',
}

export async function buildApp({ env, logger, envFile = null, ...relayOptions }: BuildAppOptions) {
  const log = logger ?? pino(loggerOptions)
  const { config } = await loadConfig(env, (message) => log.warn(message))
  if (!logger) log.level = config.logLevel
  for (const warning of configWarnings(config)) log.warn(warning)

  const app = Fastify({
    loggerInstance: log,
    // The webhook route logs one line per event itself; health probes should not log at all.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    // Behind a proxy (TRUST_PROXY): the client's address and protocol as the proxy forwarded them,
    // for the session cookie's Secure flag, the sign-in limits and the logs.
    trustProxy: trustProxyOption(config.trustProxy),
    genReqId: () => randomUUID(),
    // Slow or vanished clients cannot hold a connection. Node's server checks the headers and
    // request deadlines on a timer (every 30 s by default, long past a 10 s deadline): every second
    // here, so a client is cut off within a second of its deadline.
    http: { headersTimeout: config.headersTimeoutMs, connectionsCheckingInterval: 1000 },
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Before any route: a URL that does not decode, or a path segment past find-my-way's length
    // limit (414). Answered in the admin API's shape, `{ error, issues }`.
    frameworkErrors: (error, request, reply: FastifyReply) => {
      const status = error.statusCode ?? 500
      if (status >= 500) {
        request.log.error({ err: error, method: request.method }, 'request failed before routing')
        return reply.code(500).send({ error: 'internal error' })
      }
      const message = URL_REFUSALS[error.code] ?? error.message
      return reply.code(status).send({ error: 'bad url', issues: [{ path: '(url)', message }] })
    },
  })

  app.decorate('relayConfig', config)

  const relay = await createRelay(config, log, relayOptions)
  app.addHook('onReady', async () => relay.start())
  app.addHook('onClose', () => relay.stop())

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof StoreUnavailableError) {
      request.log.error({ err: error }, 'store unavailable: event refused with 503')
      return reply.code(503).send({ error: 'store unavailable, retry later' })
    }
    const status = error.statusCode ?? 500
    if (status >= 500) {
      // The request's line carries its id; the route and method say which call failed.
      request.log.error(
        { err: error, method: request.method, route: request.routeOptions.url },
        'request failed',
      )
      return reply.code(status).send({ error: 'internal error' })
    }
    return reply.code(status).send({ error: error.message })
  })
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not found' }))

  await app.register(healthRoutes, { pingStore: () => relay.store.ping(), details: relay.whatsgate?.status })
  if (config.adminToken && relay.metrics) {
    // Loaded only when on: a relay without the console does not pay for its libraries.
    const { adminPlugin } = await import('./admin/admin-plugin.ts')
    await app.register(adminPlugin, {
      store: relay.store,
      metrics: relay.metrics.registry,
      token: config.adminToken,
      viewerToken: config.adminViewerToken,
      sessionIdleMs: config.adminSessionIdleMs,
      sessionLifetimeMs: config.adminSessionLifetimeMs,
      authLimits: { perAddress: config.adminAuthFailuresPerMinute, overall: config.adminAuthFailuresOverall },
      onAuthFailure: relay.metrics.adminAuthFailed,
      onAuthLocked: relay.metrics.adminAuthLocked,
      targets: config.targets,
      onReplay: () => relay.dispatcher.notify(),
      onResume: (target) => relay.dispatcher.notify([target]),
      failingTargets: () => relay.dispatcher.failing(),
      storeKind: config.databaseUrl ? 'postgres' : 'sqlite',
      pingStore: () => relay.store.ping(),
      registration: () => relay.whatsgate?.registrar?.status() ?? null,
      replicas: () => relay.heartbeat.replicas(),
      now: () => relay.clock.now(),
      alerts: relay.alerts,
      concurrency: () => relay.dispatcher.concurrency(),
      streamConsumers: () => relay.streams?.consumers() ?? new Map(),
    })
  }
  if (relay.streams) {
    const { streamRoutes } = await import('./stream/stream-routes.ts')
    await app.register(streamRoutes, { streams: relay.streams })
  }
  // What strangers provoke is logged at most once a minute per address and reason.
  const refusedStrangers = createAggregateLog({ log, message: 'webhook requests refused' })
  const cutsLog = createAggregateLog({ log, message: 'connections cut' })
  const connectionCuts = watchConnectionCuts(app.server, {
    log: cutsLog,
    onCut: relay.metrics?.connectionCut,
  })
  app.addHook('onClose', async () => {
    refusedStrangers.close()
    cutsLog.close()
  })
  await app.register(webhookRoute, {
    prefix: '/webhook',
    acceptor: relay.acceptor,
    token: config.ingestToken,
    bodyLimit: config.bodyLimit,
    logMessageText: config.logMessageText,
    cutByRequestTimeout: connectionCuts.cutByRequestTimeout,
    recordRefusal: createRefusals({
      store: relay.store,
      keep: config.refusedRequestsKept,
      onRefused: relay.onRefused,
      strangers: refusedStrangers,
    }),
  })

  app.log.info({ ...configSummary(config), envFile: envFile ?? 'none' }, 'whatsgate-relay configured')
  return app
}

/** A hop count as Fastify applies one (its types take no number): the nearest `hops` are trusted. */
function trustProxyOption(trust: Config['trustProxy']) {
  return typeof trust === 'number' ? (_address: string, hop: number) => hop < trust : trust
}
