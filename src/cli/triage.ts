// `discard` and `audit`: letting dead letters go with a reason (kept, marked, left out of bulk
// replays), and who did what. A discard by filter is counted first and done only with --yes,
// as a replay by filter is (replay.ts).
import { AdminUsageError } from './admin-client.ts'
import type { AdminContext } from './admin-commands.ts'
import { show } from './admin-commands.ts'
import { givenIds } from './replay.ts'
import { clean, iso, table } from './table.ts'

export async function discard(ctx: AdminContext): Promise<void> {
  const selection = ctx.options.discard
  if (selection === undefined) throw new AdminUsageError('nothing to discard')
  const { reason } = selection
  if ('dead' in selection) {
    const dry = await ctx.client.post<{ matched: number }>('/admin/replay', {
      dead: selection.dead,
      dryRun: true,
    })
    const matched = `${dry.matched} dead ${dry.matched === 1 ? 'delivery matches' : 'deliveries match'}`
    if (!selection.yes || dry.matched === 0) {
      const hint = dry.matched > 0 ? ['add --yes to discard them'] : []
      show(ctx, { discarded: 0, ...dry }, () => [matched, ...hint])
      return
    }
    const answer = await ctx.client.post<{ discarded: number }>('/admin/discard', {
      dead: selection.dead,
      reason,
    })
    show(ctx, answer, () => [
      `discarded ${answer.discarded} of the ${matched}: kept, and left out of bulk replays`,
    ])
    return
  }
  const ids = await givenIds(ctx, selection)
  const answer = await ctx.client.post<{ discarded: number }>('/admin/discard', { ids, reason })
  const rest = ids.length - answer.discarded
  const note = rest > 0 ? ` (${rest} not dead, discarded already, or not stored)` : ''
  show(ctx, answer, () => [`discarded ${answer.discarded}${note}`])
}

interface AuditEntry {
  id: number
  at: number
  action: string
  via: string
  role: string
  session: string | null
  subject: string
  count: number | null
  reason: string | null
}

/** Newest first, up to --limit (pages followed), or --all. */
export async function audit(ctx: AdminContext): Promise<void> {
  const { limit, all } = ctx.options.page
  const entries: AuditEntry[] = []
  let before: number | undefined
  let next: number | null = null
  do {
    const size = all ? 1000 : Math.min(1000, limit - entries.length)
    const page = await ctx.client.get<{ entries: AuditEntry[]; next: number | null }>('/admin/audit', {
      before,
      limit: size,
    })
    entries.push(...page.entries)
    next = page.next
    before = next ?? undefined
  } while (next !== null && (all || entries.length < limit))
  show(ctx, { entries, next }, () =>
    entries.length === 0
      ? ['nothing was replayed, discarded, paused or resumed yet']
      : table(
          ['at', 'action', 'via', 'who', 'count', 'what', 'reason'],
          entries.map((e) => [
            iso(e.at),
            e.action,
            e.via,
            e.session === null ? `${e.role} token` : `session ${e.session}`,
            e.count === null ? '' : String(e.count),
            clean(e.subject),
            clean(e.reason ?? ''),
          ]),
        ),
  )
}
