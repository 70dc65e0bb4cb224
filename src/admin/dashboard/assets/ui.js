// What every page shares: the line saying what an action did, the line saying what failed to load,
// and buttons that change something and then redraw the page.
import { query } from './api.js'
import { h } from './dom.js'
import { instantOf } from './time.js'

const flash = document.getElementById('flash')
const problem = document.getElementById('problem')

/** Says what an action did (a polite live region: screen readers read it out). */
export function say(text) {
  flash.textContent = text
}

/** Says what could not be loaded; null clears it. */
export function complain(error) {
  problem.textContent = error ? `Could not load: ${error.message}` : ''
}

let redraw = async () => {}
let readOnly = false

/** Signed in as a viewer: the relay would refuse every change, so no page offers one. */
export function setReadOnly(value) {
  readOnly = value
}

/** The router's refresh of the current page, for actions to call once they are done. */
export function setRedraw(fn) {
  redraw = fn
}

/** Redraws the current page now. */
export function redrawNow() {
  return redraw()
}

/**
 * A button that runs `work` (a change through the API) and says what came of it; `work` returns
 * the sentence to say, or null when it was cancelled. Inert while it runs; the page is redrawn after.
 * None for a viewer.
 */
export function actionButton(label, work, attrs = {}) {
  if (readOnly) return null
  const button = h('button', { type: 'button', ...attrs }, label)
  button.addEventListener('click', async () => {
    // aria-disabled, not disabled: a disabled button drops the keyboard focus.
    if (button.getAttribute('aria-disabled') === 'true') return
    button.setAttribute('aria-disabled', 'true')
    try {
      const message = await work()
      if (message) say(message)
    } catch (error) {
      if (error.status !== 401) say(`Failed: ${error.message}`)
    } finally {
      button.removeAttribute('aria-disabled')
      await redraw()
    }
  })
  return button
}

/** A page's redraw that does nothing when the answer is the one already shown. */
export function unlessSame(draw) {
  let last
  return (data) => {
    const text = JSON.stringify(data)
    if (text === last) return
    last = text
    draw(data)
  }
}

/**
 * A filter form's submit: its `names` (times typed as ISO 8601, `from` and `to`, read in the zone
 * chosen) into the query of `route`; the same search again (a hash that does not change fires no
 * hashchange) draws the page again.
 */
export function submitsFilters(form, names, route) {
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const data = new FormData(form)
    const values = Object.fromEntries(names.map((name) => [name, String(data.get(name) ?? '').trim()]))
    for (const name of ['from', 'to']) {
      if (!(name in values)) continue
      const instant = instantOf(values[name])
      if (instant === null) {
        say(`"${values[name]}" is not a time: write it as ISO 8601, e.g. 2026-12-02T10:00:00Z`)
        return
      }
      values[name] = instant
    }
    const target = `${route}${query(values)}`
    if (location.hash === target) void redrawNow()
    else location.hash = target
  })
}
