// The overview: is the relay well, what waits where, and is WhatsGate pointed here.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { VERSION } from '../../version.ts'
import type { AdminOptions } from '../admin-plugin.ts'
import { commonAnswers, statusAnswer } from '../schemas.ts'
import { stateOf } from './target-state.ts'

export const statusRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/status',
    { schema: { summary: 'The relay at a glance', response: { 200: statusAnswer, ...commonAnswers } } },
    async () => {
      const now = opts.now()
      const [healthy, paused, backlog, lastMinute, lastHour, replicas] = await Promise.all([
        opts.pingStore().then(
          () => true,
          () => false,
        ),
        opts.store.pausedTargets(),
        opts.store.backlog(),
        opts.store.countReceivedSince(now - 60_000),
        opts.store.countReceivedSince(now - 3_600_000),
        opts.replicas().catch(() => []),
      ])
      const failing = opts.failingTargets()
      return {
        version: VERSION,
        uptimeSeconds: Math.round(process.uptime()),
        store: { kind: opts.storeKind, healthy },
        targets: opts.targets.map(({ name, type }) => {
          const waiting = backlog.get(name)
          return {
            name,
            type,
            state: stateOf(name, paused, failing),
            pending: waiting?.pending ?? 0,
            oldestPendingAgeSeconds: waiting
              ? Math.max(0, Math.round((now - waiting.oldestReceivedAt) / 1000))
              : null,
          }
        }),
        registration: opts.registration(),
        eventsReceived: { lastMinute, lastHour },
        replicas,
      }
    },
  )

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
      },
    },
    async (_request, reply) => {
      reply.type(opts.metrics.contentType)
      return opts.metrics.metrics()
    },
  )
}
