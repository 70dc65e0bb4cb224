// Dead letters to triage: a filter (target, session, chat, time received), then per target its
// dead letters grouped by cause (HTTP status, error class) and listed newest first. A bulk replay
// is counted by the relay first (a dry run), confirmed with that count and with a warning when the
// target still fails or is paused, and then replays exactly what was counted. A dead letter can be
// discarded with a reason: kept, marked, and left out of every bulk replay.
import { api, query } from './api.js'
import { fill, h, link, plural, time } from './dom.js'
import { filterText } from './time.js'
import { actionButton, submitsFilters, unlessSame } from './ui.js'

const PAGE_SIZE = 50
/** The filter, named as the API's query names it. */
const FILTERS = ['target', 'session', 'chat', 'from', 'to', 'status', 'errorClass']

export function deadPage(main, { query: params }) {
  const filter = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) ?? '']))
  const discarded = params.get('discarded') === 'true'
  const before = params.get('before') ?? ''
  const filtered = FILTERS.some((name) => filter[name] !== '' && name !== 'target')
  const sections = h('div')
  main.append(
    h('h1', {}, filter.target ? `Dead letters of ${filter.target}` : 'Dead letters'),
    filterForm(params),
    h(
      'p',
      { class: 'pager' },
      discarded
        ? link(`#/dead${query(filter)}`, 'Show the dead letters to act on')
        : link(`#/dead${query({ ...filter, discarded: 'true' })}`, 'Show the discarded ones'),
    ),
    sections,
  )

  const draw = unlessSame(({ targets, groups, lists }) => {
    fill(
      sections,
      targets.length === 0
        ? h('p', {}, filter.target ? `No target is named ${filter.target}.` : 'No target is configured.')
        : targets.map((target) =>
            targetSection({
              target,
              groups: groups.filter((group) => group.target === target.name),
              list: lists[target.name],
              filter,
              filtered,
              discarded,
              before,
            }),
          ),
    )
  })

  return {
    title: 'Dead letters',
    refresh: async () => {
      const all = (await api('targets')).targets
      const targets = filter.target ? all.filter((target) => target.name === filter.target) : all
      const { groups } = await api(`dead-letters/groups${query(filter)}`)
      const lists = {}
      await Promise.all(
        targets.map(async ({ name }) => {
          const page = query({
            ...filter,
            target: name,
            discarded: discarded ? 'true' : '',
            before,
            limit: PAGE_SIZE,
          })
          lists[name] = await api(`dead-letters${page}`)
        }),
      )
      draw({ targets, groups, lists })
    },
  }
}

/** What a target's state means for a replay: said beside its dead letters and in the confirmation. */
function stateWarning(target) {
  if (target.state === 'paused') return `${target.name} is paused: what you replay waits until it is resumed.`
  if (target.failing) return `${target.name} is still failing: what you replay may die again.`
  return null
}

function causeOf({ lastStatus, errorClass }) {
  const status = lastStatus === null ? 'no answer' : `HTTP ${lastStatus}`
  return `${status} · ${errorClass ?? 'unknown'}`
}

function targetSection({ target, groups, list, filter, filtered, discarded, before }) {
  const { name } = target
  const id = `dead-${name}`
  const count = groups.reduce((sum, group) => sum + group.count, 0)
  const discardedCount = groups.reduce((sum, group) => sum + group.discarded, 0)
  const warning = stateWarning(target)
  const rows = list.deadLetters
  return h(
    'section',
    { 'aria-labelledby': id, class: 'dead-target' },
    h('h2', { id }, name),
    warning && count > 0 ? h('p', { class: 'warning', role: 'note' }, warning) : null,
    count === 0 && discardedCount === 0 && !discarded
      ? h('p', {}, filtered ? 'No dead delivery matches.' : 'No dead delivery.')
      : [
          h(
            'p',
            {},
            `${plural(count, 'dead delivery', 'dead deliveries')}${filtered ? ' match' : ''}`,
            discardedCount > 0 ? `, and ${discardedCount} discarded` : '',
            '.',
          ),
          count > 0
            ? h(
                'p',
                { class: 'actions' },
                actionButton(
                  replayAllLabel(count, name, filtered),
                  () => replayMatching(target, filter, filtered),
                  {
                    dataset: { focus: `replay all ${name}` },
                  },
                ),
              )
            : null,
          groups.length > 0 ? causes(target, groups, filter) : null,
          rows.length === 0
            ? h('p', {}, discarded ? 'None discarded.' : before ? 'No older ones.' : 'None on this page.')
            : deadList(name, rows, discarded),
          list.next === null
            ? null
            : h(
                'p',
                { class: 'pager' },
                link(
                  `#/dead${query({ ...filter, target: name, discarded: discarded ? 'true' : '', before: list.next })}`,
                  `Older dead deliveries of ${name}`,
                ),
              ),
        ],
  )
}

/** "Replay the 1 dead delivery", "Replay all 3 dead deliveries": the count reads right. */
function replayAllLabel(count, name, filtered) {
  const what = filtered ? 'matching dead' : 'dead'
  return count === 1
    ? `Replay the 1 ${what} delivery of ${name}`
    : `Replay all ${count} ${what} deliveries of ${name}`
}

/** The causes of a target's dead letters, the newest death first, each with its own replay. */
function causes(target, groups, filter) {
  return h(
    'ul',
    { class: 'causes', 'aria-label': `Causes of ${target.name}’s dead letters` },
    groups.map((group) => {
      const cause = causeOf(group)
      const only = {
        ...filter,
        target: target.name,
        status: group.lastStatus === null ? 'none' : String(group.lastStatus),
        errorClass: group.errorClass ?? 'unknown',
      }
      return h(
        'li',
        { class: 'cause' },
        h('strong', {}, cause),
        ` — ${plural(group.count, 'dead letter')}`,
        group.discarded > 0 ? ` (${group.discarded} discarded)` : '',
        ', the newest died ',
        time(group.newestAt),
        ' ',
        h(
          'span',
          { class: 'actions' },
          link(`#/dead${query(only)}`, 'Show only these', {
            'aria-label': `Show only ${cause} of ${target.name}`,
          }),
          group.count > 0
            ? actionButton(`Replay ${group.count}`, () => replayMatching(target, only, true), {
                'aria-label': `Replay the ${plural(group.count, 'dead letter')} of ${target.name} with ${cause}`,
                dataset: { focus: `replay ${target.name} ${cause}` },
              })
            : null,
        ),
      )
    }),
  )
}

/** One card per dead letter (a table's rows on a wide screen): the actions first. */
function deadList(name, rows, discarded) {
  const caption = discarded ? `Discarded dead deliveries of ${name}` : `Dead deliveries of ${name}`
  return h(
    'div',
    { class: 'table-wrap dead-list', role: 'region', 'aria-label': caption, tabindex: 0 },
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['', 'Event', 'Why', 'Chat', 'Attempts', 'Died at'].map((header) =>
            h('th', { scope: 'col' }, header),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((row) =>
          h(
            'tr',
            {},
            h('td', { class: 'row-actions' }, rowActions(name, row)),
            h(
              'td',
              { 'data-label': 'Event' },
              link(`#/events/${encodeURIComponent(row.eventKey)}`, row.eventKey, {
                dataset: { focus: `open ${row.id}` },
              }),
            ),
            h(
              'td',
              { 'data-label': 'Why' },
              row.lastError ?? (row.lastStatus === null ? '' : `HTTP ${row.lastStatus}`),
              row.discardedAt === null
                ? null
                : h(
                    'span',
                    { class: 'discarded' },
                    `Discarded by ${row.discardedBy}: ${row.discardReason} (`,
                    time(row.discardedAt),
                    ')',
                  ),
            ),
            h('td', { 'data-label': 'Chat' }, row.chat ?? '—'),
            h(
              'td',
              { 'data-label': 'Attempts' },
              row.replays > 0
                ? `${row.attempts} (after ${plural(row.replays, 'replay')})`
                : String(row.attempts),
            ),
            h('td', { 'data-label': 'Died at' }, time(row.finishedAt)),
          ),
        ),
      ),
    ),
  )
}

function rowActions(name, row) {
  return [
    actionButton(
      'Replay',
      async () => {
        const { replayed } = await api('replay', { method: 'POST', body: { ids: [row.id] } })
        return replayed ? `Replayed ${row.eventKey} to ${name}.` : `${row.eventKey} was not dead any more.`
      },
      { 'aria-label': `Replay ${row.eventKey} to ${name}`, dataset: { focus: `replay ${row.id}` } },
    ),
    row.discardedAt === null
      ? actionButton(
          'Discard',
          async () => {
            const reason = prompt(`Discard ${row.eventKey} to ${name}? Say why (kept with it):`)
            if (reason === null) return null
            if (reason.trim() === '') return 'Not discarded: a reason is needed.'
            const { discarded } = await api('discard', { method: 'POST', body: { ids: [row.id], reason } })
            return discarded
              ? `Discarded ${row.eventKey} to ${name}.`
              : `${row.eventKey} was not dead any more.`
          },
          {
            class: 'quiet',
            'aria-label': `Discard ${row.eventKey} to ${name}`,
            dataset: { focus: `discard ${row.id}` },
          },
        )
      : null,
  ]
}

/**
 * Counts what the filter matches for the target (a dry run), asks with that count and any
 * warning, then replays exactly those: the dry run's `upTo` keeps later deaths out.
 */
async function replayMatching(target, filter, filtered) {
  const dead = deadFilter({ ...filter, target: target.name })
  const dry = await api('replay', { method: 'POST', body: { dead, dryRun: true } })
  if (dry.matched === 0) return `${target.name} has no such dead delivery any more.`
  const question = `${replayAllLabel(dry.matched, target.name, filtered)}?`
  const warnings = dry.warnings ?? []
  if (!confirm(warnings.length > 0 ? `${question}\n\n${warnings.join('\n')}` : question)) return null
  const { replayed } = await api('replay', { method: 'POST', body: { dead: { ...dead, upTo: dry.upTo } } })
  return `Replayed ${plural(replayed, 'delivery', 'deliveries')} of ${target.name}.`
}

/** The query's filter as the replay body's `dead` takes it. */
function deadFilter(filter) {
  const dead = {}
  for (const name of ['target', 'session', 'chat', 'from', 'to']) if (filter[name]) dead[name] = filter[name]
  if (filter.status) dead.status = filter.status === 'none' ? null : Number(filter.status)
  if (filter.errorClass) dead.errorClass = filter.errorClass === 'unknown' ? null : filter.errorClass
  return dead
}

function filterForm(params) {
  const field = (name, label, attrs = {}) =>
    h(
      'p',
      { class: 'field' },
      h('label', { for: `d-${name}` }, label),
      h('input', { id: `d-${name}`, name, dataset: { focus: name }, ...attrs }),
    )
  const form = h(
    'form',
    { class: 'search', role: 'search', 'aria-label': 'Filter dead letters' },
    field('target', 'Target', { value: params.get('target') ?? '' }),
    field('session', 'Session (whatsapp_id)', { value: params.get('session') ?? '' }),
    field('chat', 'Chat (jid or phone)', { value: params.get('chat') ?? '', placeholder: '79991234567' }),
    // Times typed and shown as ISO 8601, as on the events page (time.js).
    field('from', 'Received from (ISO 8601)', { value: filterText(params.get('from')) }),
    field('to', 'Received before (ISO 8601)', { value: filterText(params.get('to')) }),
    // A cause picked from a group stays in the filter until cleared.
    h('input', { type: 'hidden', name: 'status', value: params.get('status') ?? '' }),
    h('input', { type: 'hidden', name: 'errorClass', value: params.get('errorClass') ?? '' }),
    h(
      'p',
      { class: 'actions' },
      // An input, not a button: it changes nothing, so a viewer's page has it too.
      h('input', { type: 'submit', value: 'Filter', dataset: { focus: 'filter' } }),
      link('#/dead', 'Clear'),
    ),
  )
  submitsFilters(form, FILTERS, '#/dead')
  return form
}
