// Conflicts: copies that came under a stored event's key with a different body, kept beside it,
// newest first, each with its headers and its body shown as text and a link to the event kept.
import { api, query } from './api.js'
import { fill, h, link, time } from './dom.js'
import { headerLines } from './refused.js'
import { unlessSame } from './ui.js'

const PAGE_SIZE = 50

export function conflictsPage(main, { query: params }) {
  const after = params.get('after') ?? ''
  const list = h('div')
  main.append(
    h('h1', {}, 'Conflicts'),
    h(
      'p',
      { class: 'hint' },
      'A key already stored came again with a different body. The first one was delivered; these copies were answered OK and kept here, not delivered.',
    ),
    list,
  )
  const draw = unlessSame(({ conflicts, next }) => {
    fill(
      list,
      conflicts.length === 0
        ? h('p', {}, after ? 'No older conflicts.' : 'No conflicting copy was received.')
        : conflicts.map(conflictCard),
      h(
        'p',
        { class: 'pager' },
        after ? link('#/conflicts', 'Newest') : null,
        next === null ? null : link(`#/conflicts${query({ after: next })}`, 'Older conflicts'),
      ),
    )
  })
  return {
    title: 'Conflicts',
    refresh: async () => draw(await api(`conflicts${query({ after, limit: PAGE_SIZE })}`)),
  }
}

function conflictCard(row) {
  return h(
    'article',
    { class: 'kept-request', 'aria-label': `Conflict ${row.id}` },
    h(
      'h2',
      {},
      time(row.receivedAt),
      ' · ',
      link(`#/events/${encodeURIComponent(row.eventKey)}`, row.eventKey),
    ),
    h('h3', {}, 'Headers'),
    h('pre', { class: 'headers' }, headerLines(row.headers)),
    h('h3', {}, 'Body'),
    h('pre', { class: 'body' }, row.bodyEncoding === 'base64' ? `(not UTF-8, base64) ${row.body}` : row.body),
  )
}
