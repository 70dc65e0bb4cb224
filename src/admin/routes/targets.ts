// Targets: their state and backlog, paused and resumed (kept in the store, so a pause holds across
// restarts and for every replica).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { AdminOptions } from '../admin-plugin.ts'
import { commonAnswers, errorAnswer, pauseAnswer, targetParams, targetsAnswer } from '../schemas.ts'
import { recordAudit } from './audit.ts'
import { stateOf } from './target-state.ts'

export const targetRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  // pending counts every delivery not yet finished.
  app.get(
    '/admin/targets',
    { schema: { summary: 'Each configured target', response: { 200: targetsAnswer, ...commonAnswers } } },
    async () => {
      const [paused, counts] = await Promise.all([opts.store.pausedTargets(), opts.store.countDeliveries()])
      const failing = opts.failingTargets()
      const pending = new Map<string, number>()
      for (const row of counts) if (row.status === 'pending') pending.set(row.target, row.count)
      return {
        targets: opts.targets.map(({ name, type }) => ({
          name,
          type,
          state: stateOf(name, paused, failing),
          pausedAt: paused.get(name) ?? null,
          pending: pending.get(name) ?? 0,
        })),
      }
    },
  )

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/admin/targets/:name/${action}`,
      {
        schema: {
          summary:
            action === 'pause'
              ? 'Hold a target’s deliveries (none lost, order kept) until resumed'
              : 'Send a paused target’s deliveries again, in order',
          params: targetParams,
          response: { 200: pauseAnswer, 404: errorAnswer, 409: errorAnswer, ...commonAnswers },
        },
      },
      async (request, reply) => {
        const { name } = request.params
        const target = opts.targets.find((t) => t.name === name)
        if (!target) return reply.code(404).send({ error: `unknown target "${name}"` })
        if (target.type === 'stream') {
          return reply
            .code(409)
            .send({ error: `"${name}" is a stream: its consumers pull, there is nothing to ${action}` })
        }
        const at = opts.now()
        await opts.store.setPaused(name, action === 'pause', at)
        await recordAudit(opts.store, request, at, { action, subject: name, count: null })
        if (action === 'resume') opts.onResume(name)
        request.log.info({ target: name }, action === 'pause' ? 'target paused' : 'target resumed')
        const paused = await opts.store.pausedTargets()
        return {
          name,
          state: stateOf(name, paused, opts.failingTargets()),
          pausedAt: paused.get(name) ?? null,
        }
      },
    )
  }
}
