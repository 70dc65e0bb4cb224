// Finding events: by session, action, phone or jid (any party), time received, conformance or key, oldest
// first, a page at a time. The form is drawn once per search and never redrawn under the user's
// fingers: polling redraws only the results.
import { api, query } from './api.js'
import { fill, fromLocalInput, h, link, table, time, toLocalInput } from './dom.js'
import { redrawNow, unlessSame } from './ui.js'

const PAGE_SIZE = 50
const FIELDS = ['session', 'action', 'party', 'from', 'to', 'conforming', 'key']

export function eventsPage(main, { query: params }) {
  const results = h('section', { 'aria-label': 'Events found' })
  main.append(h('h1', {}, 'Events'), searchForm(params), results)

  const search = Object.fromEntries(FIELDS.map((name) => [name, params.get(name) ?? '']))
  const after = params.get('after') ?? ''

  const draw = unlessSame(({ events, next }) => {
    fill(
      results,
      events.length === 0
        ? h('p', {}, after ? 'No newer events.' : 'No event matches.')
        : table(
            'Events, oldest first',
            // The link first: on a phone the rest of the row is a scroll away.
            ['', 'Received', 'Session', 'Action', 'Chat', 'Event id', 'Conforms'],
            events.map((event) => [
              link(`#/events/${encodeURIComponent(event.key)}`, 'Open', {
                'aria-label': `Open event ${event.key}`,
                dataset: { focus: `open ${event.key}` },
              }),
              time(event.receivedAt),
              event.whatsappId,
              event.action,
              event.chat ?? '—',
              event.eventId,
              event.issues === null ? 'yes' : `no: ${event.issues.map((issue) => issue.path).join(', ')}`,
            ]),
          ),
      h(
        'p',
        { class: 'pager' },
        after ? link(`#/events${query(search)}`, 'First page') : null,
        next === null ? null : link(`#/events${query({ ...search, after: next })}`, 'Newer events'),
      ),
    )
  })

  return {
    title: 'Events',
    refresh: async () => draw(await api(`events${query({ ...search, after, limit: PAGE_SIZE })}`)),
  }
}

function searchForm(params) {
  const field = (name, label, attrs = {}) =>
    h(
      'p',
      { class: 'field' },
      h('label', { for: `f-${name}` }, label),
      h('input', { id: `f-${name}`, name, dataset: { focus: name }, ...attrs }),
    )
  const form = h(
    'form',
    { class: 'search', role: 'search', 'aria-label': 'Search events' },
    field('session', 'Session (whatsapp_id)', { value: params.get('session') ?? '' }),
    field('action', 'Action', { value: params.get('action') ?? '', placeholder: 'message' }),
    // The party, not the chat: a number finds the events it sent, received or was the chat of.
    field('party', 'Phone or jid', {
      value: params.get('party') ?? '',
      placeholder: '+7 999 123-45-67',
      inputmode: 'text',
    }),
    field('from', 'Received from', { type: 'datetime-local', value: toLocalInput(params.get('from')) }),
    field('to', 'Received before', { type: 'datetime-local', value: toLocalInput(params.get('to')) }),
    h(
      'p',
      { class: 'field' },
      h('label', { for: 'f-conforming' }, 'Conforms to the documentation'),
      h(
        'select',
        { id: 'f-conforming', name: 'conforming', dataset: { focus: 'conforming' } },
        [
          ['', 'either'],
          ['true', 'yes'],
          ['false', 'no'],
        ].map(([value, text]) =>
          h('option', { value, selected: (params.get('conforming') ?? '') === value }, text),
        ),
      ),
    ),
    field('key', 'Event key', {
      value: params.get('key') ?? '',
      placeholder: '<whatsapp_id>:<action>:<id>',
    }),
    h(
      'p',
      { class: 'actions' },
      h('button', { type: 'submit', dataset: { focus: 'search' } }, 'Search'),
      link('#/events', 'Clear'),
    ),
  )
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const data = new FormData(form)
    const values = Object.fromEntries(FIELDS.map((name) => [name, String(data.get(name) ?? '').trim()]))
    values.from = fromLocalInput(values.from)
    values.to = fromLocalInput(values.to)
    const target = `#/events${query(values)}`
    // The same search again (a hash that does not change fires no hashchange): look again.
    if (location.hash === target) void redrawNow()
    else location.hash = target
  })
  return form
}
