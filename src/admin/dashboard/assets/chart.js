// Traffic charts as inline SVG, built node by node as dom.js builds HTML (no markup parsed, no
// library, no style attribute: the CSP allows none). Each series is a line with its own dash as
// well as its own colour, so the colour is never the only difference; the figure's text
// equivalent is a summary in its label and every number in a table under it.
import { h, table } from './dom.js'

const SVG = 'http://www.w3.org/2000/svg'

/** An SVG element: like dom.js `h`, attributes and children, text as text nodes. */
export function s(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) element.setAttribute(name, String(value))
  }
  for (const child of children.flat(Number.POSITIVE_INFINITY)) {
    if (child === null || child === undefined || child === false) continue
    element.append(child instanceof Node ? child : String(child))
  }
  return element
}

// The drawing's own units; the SVG scales to its box, so a phone shows the whole of it.
const WIDTH = 360
const HEIGHT = 150
const PAD = { left: 34, right: 6, top: 8, bottom: 20 }

/**
 * A line chart of `series` ({ key, label }) over `buckets` ({ at, [key]: number }), oldest first.
 * `label(at)` names a bucket (its time). Returns a figure: the chart, its legend and its numbers.
 */
export function lineChart({ caption, buckets, series, label }) {
  const max = Math.max(1, ...buckets.flatMap((bucket) => series.map(({ key }) => bucket[key])))
  const top = niceCeiling(max)
  const innerWidth = WIDTH - PAD.left - PAD.right
  const innerHeight = HEIGHT - PAD.top - PAD.bottom
  const x = (i) => PAD.left + (buckets.length <= 1 ? 0 : (i * innerWidth) / (buckets.length - 1))
  const y = (value) => PAD.top + innerHeight - (value * innerHeight) / top
  const totals = series.map(({ key, label: name }) => {
    const total = buckets.reduce((sum, bucket) => sum + bucket[key], 0)
    return `${name} ${total}`
  })
  const summary = `${caption}: ${totals.join(', ')}; at most ${max} in one ${label.unit}`
  const first = buckets[0]
  const last = buckets[buckets.length - 1]

  const svg = s(
    'svg',
    {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      class: 'chart',
      role: 'img',
      'aria-label': summary,
    },
    s('title', {}, summary),
    // Gridlines at 0, half and the top, with their values.
    [0, top / 2, top].map((value) => [
      s('line', { class: 'chart-grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value) }),
      s(
        'text',
        { class: 'chart-axis', x: PAD.left - 4, y: y(value) + 4, 'text-anchor': 'end' },
        formatCount(value),
      ),
    ]),
    first && s('text', { class: 'chart-axis', x: PAD.left, y: HEIGHT - 6 }, label.short(first.at)),
    last &&
      s(
        'text',
        { class: 'chart-axis', x: WIDTH - PAD.right, y: HEIGHT - 6, 'text-anchor': 'end' },
        label.short(last.at),
      ),
    series.map(({ key }, n) =>
      s('polyline', {
        class: `chart-line chart-line-${n}`,
        points: buckets.map((bucket, i) => `${x(i).toFixed(1)},${y(bucket[key]).toFixed(1)}`).join(' '),
        'data-series': key,
      }),
    ),
  )
  const legend = h(
    'ul',
    { class: 'chart-legend' },
    series.map(({ label: name }, n) =>
      h(
        'li',
        {},
        s(
          'svg',
          { viewBox: '0 0 24 8', class: 'chart-key', 'aria-hidden': 'true' },
          s('line', { class: `chart-line chart-line-${n}`, x1: 0, x2: 24, y1: 4, y2: 4 }),
        ),
        ` ${name} (${totals[n]?.split(' ').pop()})`,
      ),
    ),
  )
  const numbers = h(
    'details',
    { class: 'chart-numbers' },
    h('summary', {}, 'The numbers'),
    table(
      `${caption}: the numbers`,
      [label.heading, ...series.map(({ label: name }) => name)],
      buckets.map((bucket) => [label.long(bucket.at), ...series.map(({ key }) => String(bucket[key]))]),
    ),
  )
  return h('figure', { class: 'chart-figure' }, h('figcaption', {}, caption), svg, legend, numbers)
}

/** 1, 2 or 5 times a power of ten, at least `value`: gridlines at round numbers. */
function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power
  return 10 * power
}

function formatCount(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1)
}
