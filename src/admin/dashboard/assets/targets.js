// Targets: each one as a card (it reads on a phone without side-scrolling): its true state (the
// relay decides it: admin/routes/target-state.ts), what waits and since when, what happened to
// it in the last hour and day, its configuration without credentials, paused and resumed.
import { api } from './api.js'
import { age, badge, facts, fill, h, link, plural, time } from './dom.js'
import { actionButton, unlessSame } from './ui.js'

const TONES = { ok: 'ok', failing: 'failing', paused: 'paused', dead_letters: 'dead', no_consumer: 'failing' }

/** A target's state in words (`dead letters: 160`), coloured by how bad it is. */
export function stateBadge(target) {
  return badge(target.stateText ?? target.state, TONES[target.state] ?? 'pending')
}

export function targetsPage(main) {
  const list = h('section', { 'aria-label': 'Targets', class: 'target-cards' })
  main.append(
    h('h1', {}, 'Targets'),
    h(
      'p',
      { class: 'muted' },
      'A paused target keeps its events, pending, for every replica and across restarts; resumed, it gets them in order.',
    ),
    list,
  )

  const draw = unlessSame(({ targets }) => {
    fill(list, targets.length === 0 ? h('p', {}, 'No target is configured.') : targets.map(card))
  })

  return { title: 'Targets', refresh: async () => draw(await api('targets')) }
}

function card(target) {
  const action = target.state === 'paused' ? 'resume' : 'pause'
  const heading = `target-${target.name}`
  return h(
    'article',
    { class: 'target-card', 'aria-labelledby': heading, dataset: { target: target.name } },
    h('h2', { id: heading }, target.name, ' ', stateBadge(target)),
    h(
      'div',
      { class: 'actions' },
      // A stream's consumers pull: nothing to hold back, and its pending is what they have not confirmed.
      target.type === 'stream'
        ? null
        : actionButton(
            action === 'pause' ? 'Pause' : 'Resume',
            async () => {
              // An empty JSON object: the relay wants JSON for a change made by a signed-in browser.
              await api(`targets/${encodeURIComponent(target.name)}/${action}`, { method: 'POST', body: {} })
              return `${target.name} ${action === 'pause' ? 'paused' : 'resumed'}.`
            },
            {
              'aria-label': `${action === 'pause' ? 'Pause' : 'Resume'} ${target.name}`,
              dataset: { focus: `toggle ${target.name}` },
            },
          ),
      link(`#/dead?target=${encodeURIComponent(target.name)}`, `Dead letters (${target.dead})`, {
        'aria-label': `Dead letters of ${target.name}`,
      }),
    ),
    facts(
      [
        ['Kind', kindOf(target)],
        ['Pending', h('span', { dataset: { pending: target.name } }, String(target.pending))],
        ['Oldest waiting', age(target.oldestPendingAgeSeconds)],
        target.pausedAt === null ? null : ['Paused since', time(target.pausedAt)],
        target.consumers === null ? null : ['Consumers', `${target.consumers} connected to this relay`],
        ['Last hour', outcomes(target.lastHour)],
        ['Last day', outcomes(target.lastDay)],
        ['URL', h('code', { class: 'wrap' }, target.url)],
        ['Events', target.events.join(', ')],
        ['Sessions', target.sessions === null ? 'all' : target.sessions.join(', ')],
        [
          'Filter',
          target.filter === null ? 'none' : h('code', { class: 'wrap' }, JSON.stringify(target.filter)),
        ],
        target.retry === null ? null : ['Retries', retryOf(target.retry)],
        target.concurrency === null
          ? null
          : ['Concurrency', `${target.concurrency.now ?? '—'} now, at most ${target.concurrency.cap}`],
        ['Ordering', target.ordering === 'chat' ? 'per chat' : 'none'],
        ['Signed', target.signed ? 'yes (Standard Webhooks)' : 'no'],
      ].filter(Boolean),
    ),
  )
}

function kindOf(target) {
  if (target.type === 'http') return 'HTTP webhook'
  if (target.type === 'stream') return 'stream (its consumers pull)'
  return `broker (${target.type})`
}

function outcomes({ delivered, failed, dead }) {
  return `${delivered} delivered, ${plural(failed, 'failed attempt')}, ${dead} dead`
}

function retryOf({ maxAttempts, maxAgeMs, initialDelayMs, maxDelayMs }) {
  const limit = maxAgeMs === null ? '' : `, for at most ${age(maxAgeMs / 1000)}`
  return `${plural(maxAttempts, 'attempt')}, ${age(initialDelayMs / 1000)} to ${age(maxDelayMs / 1000)} apart${limit}`
}
