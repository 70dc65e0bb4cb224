// Dead letters: per target, the deliveries given up on, each with a Replay button, and one button
// that replays every dead delivery of a target once the operator confirms the count.
import { api, query } from './api.js'
import { fill, h, link, plural, table, time } from './dom.js'
import { actionButton, unlessSame } from './ui.js'

const PAGE_SIZE = 100

export function deadPage(main, { query: params }) {
  const only = params.get('target')
  const after = params.get('after') ?? ''
  const sections = h('div')
  main.append(h('h1', {}, only ? `Dead letters of ${only}` : 'Dead letters'))
  if (only) main.append(h('p', {}, link('#/dead', 'All targets')))
  main.append(sections)

  const draw = unlessSame((pages) => {
    fill(
      sections,
      pages.length === 0
        ? h('p', {}, 'No target is configured.')
        : pages.map((page) => targetSection(page, after)),
    )
  })

  return {
    title: 'Dead letters',
    refresh: async () => {
      const names = only ? [only] : (await api('targets')).targets.map((target) => target.name)
      const pages = await Promise.all(
        names.map(async (name) => {
          const page = await api(
            `deliveries${query({ status: 'dead', target: name, before: only ? after : '', limit: PAGE_SIZE })}`,
          )
          return { name, ...page }
        }),
      )
      draw(pages)
    },
  }
}

// The list is newest first: `older` is the cursor of the next page (`after` here keeps the old address).
function targetSection({ name, deliveries, older: next }, after) {
  const id = `dead-${name}`
  const heading = h('h2', { id }, name)
  if (deliveries.length === 0) {
    return h(
      'section',
      { 'aria-labelledby': id },
      heading,
      h('p', {}, after ? 'No more.' : 'No dead delivery.'),
    )
  }
  // The exact count is known when everything fits on this page; else it is counted on the click.
  const shown = next === null && !after ? String(deliveries.length) : `${deliveries.length}+`
  return h(
    'section',
    { 'aria-labelledby': id },
    heading,
    h(
      'p',
      { class: 'actions' },
      actionButton(`Replay all ${shown} dead deliveries of ${name}`, () => replayAll(name), {
        dataset: { focus: `replay all ${name}` },
      }),
    ),
    table(
      `Dead deliveries of ${name}`,
      // The button and the reason first: on a phone the rest of the row is a scroll away.
      ['', 'Event', 'Last error', 'Action', 'Attempts', 'Given up at'],
      deliveries.map((delivery) => [
        actionButton(
          'Replay',
          async () => {
            const { replayed } = await api('replay', { method: 'POST', body: { ids: [delivery.id] } })
            return replayed
              ? `Replayed ${delivery.eventKey} to ${name}.`
              : `${delivery.eventKey} was not dead any more.`
          },
          {
            'aria-label': `Replay ${delivery.eventKey} to ${name}`,
            dataset: { focus: `replay ${delivery.id}` },
          },
        ),
        link(`#/events/${encodeURIComponent(delivery.eventKey)}`, delivery.eventKey, {
          dataset: { focus: `open ${delivery.id}` },
        }),
        delivery.lastError ?? (delivery.lastStatus === null ? '' : `HTTP ${delivery.lastStatus}`),
        delivery.action,
        String(delivery.attempts),
        time(delivery.finishedAt),
      ]),
    ),
    next === null
      ? null
      : h(
          'p',
          { class: 'pager' },
          link(`#/dead${query({ target: name, after: next })}`, `More dead deliveries of ${name}`),
        ),
  )
}

/** Counts what it would replay, asks, then replays every dead delivery of the target. */
async function replayAll(target) {
  let count = 0
  let after = ''
  for (;;) {
    const page = await api(`deliveries${query({ status: 'dead', target, before: after, limit: 1000 })}`)
    count += page.deliveries.length
    if (page.older === null) break
    after = page.older
  }
  if (count === 0) return `${target} has no dead delivery any more.`
  if (!confirm(`Replay all ${plural(count, 'dead delivery', 'dead deliveries')} of ${target}?`)) return null
  const { replayed } = await api('replay', { method: 'POST', body: { target, status: 'dead' } })
  return `Replayed ${plural(replayed, 'delivery', 'deliveries')} of ${target}.`
}
