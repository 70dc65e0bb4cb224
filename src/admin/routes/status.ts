// The overview: is the relay well, what waits where, and is WhatsGate pointed here.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { VERSION } from '../../version.ts'
import type { AdminOptions } from '../admin-plugin.ts'
import { commonAnswers, statusAnswer } from '../schemas.ts'
import { truthOf } from './target-state.ts'
import { ageSeconds } from './targets.ts'

export const statusRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/status',
    { schema: { summary: 'The relay at a glance', response: { 200: statusAnswer, ...commonAnswers } } },
    async () => {
      const now = opts.now()
      const [healthy, paused, backlog, dead, lastMinute, lastHour, replicas] = await Promise.all([
        opts.pingStore().then(
          () => true,
          () => false,
        ),
        opts.store.pausedTargets(),
        opts.store.backlog(),
        opts.store.deadLetters(),
        opts.store.countReceivedSince(now - 60_000),
        opts.store.countReceivedSince(now - 3_600_000),
        opts.replicas().catch(() => []),
      ])
      const readings = {
        paused,
        failing: opts.failingTargets(),
        backlog,
        dead,
        consumers: opts.streamConsumers?.() ?? new Map<string, number>(),
      }
      return {
        version: VERSION,
        uptimeSeconds: Math.round(process.uptime()),
        store: { kind: opts.storeKind, healthy },
        targets: opts.targets.map((target) => {
          const truth = truthOf(target, readings)
          return {
            name: target.name,
            type: target.type,
            state: truth.state,
            stateText: truth.stateText,
            pending: truth.pending,
            dead: truth.dead,
            oldestPendingAgeSeconds:
              truth.oldestReceivedAt === undefined ? null : ageSeconds(now, truth.oldestReceivedAt),
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
