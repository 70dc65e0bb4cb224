// The dashboard in a real Chromium against the real relay on a real port, delivering to real local
// targets: an operator signs in, finds a message, sees every attempt, replays what died, pauses and
// resumes a target, on a phone and with the keyboard, and event data never runs as HTML.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  browserSkipReason,
  drawn,
  eventually,
  launchBrowser,
  signIn,
  watchedPages,
} from '../support/browser.ts'
import { wgEvent } from '../support/events.ts'
import { buildTestApp, TEST_TOKEN } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const VIEWER_TOKEN = 'viewer-token-0123456789'
const SCREENSHOT = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url))
/** How often the page refreshes itself: app.js's REFRESH_MS. */
const REFRESH_MS = Number(
  /const REFRESH_MS = (\d+)/.exec(
    readFileSync(new URL('../../src/admin/dashboard/assets/app.js', import.meta.url), 'utf8'),
  )?.[1],
)
const fastRetry = (maxAttempts: number) => ({ maxAttempts, initialDelayMs: 20, maxDelayMs: 50 })

const idOf = (body: Buffer) => JSON.parse(body.toString()).id as number

const title = browserSkipReason ? `dashboard (skipped: ${browserSkipReason})` : 'dashboard'
describe.skipIf(browserSkipReason !== null)(title, () => {
  let browser: Browser
  let relay: Awaited<ReturnType<typeof buildTestApp>>
  let base: string
  const sinks: Record<'bot' | 'crm' | 'audit' | 'flaky', Sink> = {} as never
  // crm answers 500 until a test says otherwise; these are the ids it answered 200.
  let crmHealthy = false
  const crmDelivered: number[] = []

  beforeAll(async () => {
    sinks.bot = await startSink()
    sinks.audit = await startSink()
    sinks.crm = await startSink({
      respondWith: (request) => {
        if (!crmHealthy) return { status: 500, body: '{"error":"crm is down"}' }
        crmDelivered.push(idOf(request.body))
        return { status: 200 }
      },
    })
    // Each event fails twice, then goes through.
    sinks.flaky = await startSink({
      respondWith: (request) => {
        const tries = sinks.flaky.requests.filter((r) => idOf(r.body) === idOf(request.body)).length
        return tries <= 2 ? { status: 503, body: '{"error":"database is restarting"}' } : { status: 200 }
      },
    })
    relay = await buildTestApp({
      ADMIN_TOKEN,
      ADMIN_VIEWER_TOKEN: VIEWER_TOKEN,
      TARGETS: JSON.stringify([
        { name: 'bot', url: sinks.bot.url, events: ['*'], sessions: ['main-session', 'shot-session'] },
        { name: 'crm', url: sinks.crm.url, events: ['*'], sessions: ['dead-session'], retry: fastRetry(2) },
        { name: 'audit', url: sinks.audit.url, events: ['*'], sessions: ['pause-session'], ordering: 'chat' },
        {
          name: 'flaky',
          url: sinks.flaky.url,
          events: ['*'],
          sessions: ['shot-session'],
          retry: fastRetry(5),
        },
      ]),
    })
    base = await relay.app.listen({ host: '127.0.0.1', port: 0 })
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await relay?.close()
    for (const sink of Object.values(sinks)) await sink.close()
  })

  // Every page a test opens, checked after it: no script error, no CSP violation.
  const pages = watchedPages(() => browser)
  afterEach(async () => {
    expect(await pages.close()).toEqual([])
  })

  const newPage = (viewport = { width: 1280, height: 800 }) => pages.open({ viewport })

  async function signedIn(
    viewport?: { width: number; height: number },
    route = '',
    token = ADMIN_TOKEN,
    /** Give the page a clock the test can run ahead (page.clock.fastForward); it also flows as usual. */
    controlledClock = false,
  ): Promise<Page> {
    const page = await newPage(viewport)
    if (controlledClock) await page.clock.install()
    // The page's script has run and drawn the route (the header alone is in the HTML).
    await signIn(page, `${base}/admin/${route}`, token)
    return page
  }

  /** WhatsGate posting an event to the relay's callback URL. */
  async function post(body: string) {
    const response = await fetch(`${base}/webhook/${TEST_TOKEN}`, { method: 'POST', body })
    expect(response.status).toBe(200)
  }

  /** The admin API, as a script with the token reads it. */
  async function adminGet(path: string) {
    const response = await fetch(`${base}/admin/${path}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(response.status).toBe(200)
    return response.json()
  }

  it('answers 401 with the sign-in form under a strict CSP, refuses a wrong token and signs in with the right one', async () => {
    const page = await newPage()
    const response = await page.goto(`${base}/admin/`)
    expect(response?.status()).toBe(401)
    const csp = response?.headers()['content-security-policy'] ?? ''
    expect(csp.split(';')).toEqual(
      expect.arrayContaining([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
      ]),
    )
    expect(csp).not.toContain('unsafe')

    await page.getByLabel('Admin token').fill('wrong-token-0123456789')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: 'Wrong token.' }).waitFor()
    expect(await page.context().cookies()).toEqual([])

    await page.getByLabel('Admin token').fill(ADMIN_TOKEN)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    expect(await page.context().cookies()).toEqual([
      expect.objectContaining({ name: 'relay_session', httpOnly: true, sameSite: 'Strict', path: '/admin' }),
    ])
    // HttpOnly: no script of the page can read the session.
    expect(await page.evaluate(() => document.cookie)).toBe('')
    await page.getByRole('table', { name: 'Targets' }).getByRole('row', { name: /crm/ }).waitFor()
    // On SQLite the one replica is this process, its id as text (replicas.js).
    await page
      .getByRole('table', { name: 'Replicas' })
      .getByRole('row', { name: /this one.*alive/ })
      .waitFor()
  })

  it('has no inline script or style, and the CSP stops one added at run time', async () => {
    const page = await signedIn()
    await drawn(page)
    const inline = await page.evaluate(() => ({
      scripts: [...document.scripts].filter((s) => !s.src || s.textContent?.trim()).length,
      styles: document.querySelectorAll('style, [style]').length,
      handlers: [...document.querySelectorAll('*')].filter((e) =>
        [...e.attributes].some((a) => a.name.startsWith('on')),
      ).length,
    }))
    expect(inline).toEqual({ scripts: 0, styles: 0, handlers: 0 })
    const ran = await page.evaluate(() => {
      const script = document.createElement('script')
      script.textContent = 'window.__inline = 1'
      document.head.append(script)
      return (window as { __inline?: number }).__inline
    })
    expect(ran).toBeUndefined()
    // That refusal was the point, not a problem of the page's own: closed here, unchecked.
    await pages.close()
  })

  it('finds an event by session and by phone as people write it, and shows its body and every attempt', async () => {
    await post(
      wgEvent({ id: 101, whatsappId: 'main-session', chat: '79990001111@c.us', text: 'where is my order?' }),
    )
    await sinks.bot.waitFor(1)
    const page = await signedIn()
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Events' }).click()
    await page.getByText('More filters').click()
    await page.getByLabel('Session (whatsapp_id)').fill('main-session')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByRole('link', { name: 'Open event main-session:message:101' }).waitFor()

    await page.getByLabel('Session (whatsapp_id)').fill('')
    await page.getByLabel('Phone or jid').fill('+7 999 000-11-11')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByRole('link', { name: 'Open event main-session:message:101' }).click()

    await page.getByText('Reached bot at').waitFor()
    expect(page.url()).toContain(`#/events/${encodeURIComponent('main-session:message:101')}`)
    const attempts = page.getByRole('list', { name: 'Attempts to bot' })
    await attempts.getByText('HTTP 200').waitFor()
    expect(await attempts.getByRole('listitem').count()).toBe(1)
    expect(await page.locator('pre.body').textContent()).toContain('"body": "where is my order?"')
    // The headers it came with, as text.
    expect(await page.locator('pre.headers').textContent()).toContain('user-agent: node')
  })

  it('shows a dead delivery; Replay sends it once to the recovered target, and Replay all asks with the count', async () => {
    for (const id of [201, 202, 203]) await post(wgEvent({ id, whatsappId: 'dead-session' }))
    await eventually(async () => {
      expect((await adminGet('deliveries?status=dead&target=crm')).deliveries).toHaveLength(3)
    }, 'three dead deliveries')

    const page = await signedIn()
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dead letters' }).click()
    const replayOne = page.getByRole('button', { name: 'Replay dead-session:message:201 to crm' })
    await replayOne.waitFor()
    // Why it died, on the page: the target's answer.
    await page.getByRole('table', { name: 'Dead deliveries of crm' }).getByText('HTTP 500').first().waitFor()

    crmHealthy = true
    await replayOne.click()
    await page.getByRole('status').filter({ hasText: 'Replayed dead-session:message:201 to crm.' }).waitFor()
    await eventually(async () => {
      const event = await adminGet(`events/${encodeURIComponent('dead-session:message:201')}`)
      expect(event.deliveries[0].status).toBe('delivered')
    }, 'the replayed delivery delivered')
    expect(crmDelivered).toEqual([201])

    let asked = ''
    page.once('dialog', (dialog) => {
      asked = dialog.message()
      void dialog.accept()
    })
    await page.getByRole('button', { name: 'Replay all 2 dead deliveries of crm' }).click()
    await page.getByRole('status').filter({ hasText: 'Replayed 2 deliveries of crm.' }).waitFor()
    expect(asked).toBe('Replay all 2 dead deliveries of crm?')
    await eventually(() => expect(crmDelivered.toSorted()).toEqual([201, 202, 203]), 'both delivered')
    await page.getByRole('region', { name: 'crm' }).getByText('No dead delivery.').waitFor()
    const done = await adminGet('deliveries?target=crm')
    expect(done.deliveries.map((d: { status: string }) => d.status)).toEqual([
      'delivered',
      'delivered',
      'delivered',
    ])
    expect(crmDelivered).toHaveLength(3)
  })

  it('pauses a target: events wait, counted as pending; resumed, they arrive in order', async () => {
    const page = await signedIn(undefined, '', ADMIN_TOKEN, true)
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Targets' }).click()
    await page.getByRole('button', { name: 'Pause audit' }).click()
    await page.getByRole('button', { name: 'Resume audit' }).waitFor()

    const ids = [301, 302, 303, 304, 305]
    for (const id of ids) await post(wgEvent({ id, whatsappId: 'pause-session' }))
    // Shown by the page's own refresh (every 5 s: src/admin/dashboard/assets/app.js), not a reload;
    // its clock is run ahead to that refresh rather than waited for.
    await page.clock.fastForward(REFRESH_MS)
    await page.locator('[data-pending="audit"]').filter({ hasText: /^5$/ }).waitFor()
    expect(sinks.audit.requests).toHaveLength(0)

    await page.getByRole('button', { name: 'Resume audit' }).click()
    await sinks.audit.waitFor(ids.length)
    expect(sinks.audit.requests.map((r) => idOf(r.body))).toEqual(ids)
    await page.clock.fastForward(REFRESH_MS)
    await page.locator('[data-pending="audit"]').filter({ hasText: /^0$/ }).waitFor()
    await page.getByRole('button', { name: 'Pause audit' }).waitFor()
  })

  it('shows hostile event data as text: nothing of it runs', async () => {
    const texts = ['<img src=x onerror="window.__xss=1">', '</script><script>window.__xss=2</script>']
    await post(wgEvent({ id: 401, whatsappId: 'hostile-session', text: texts[0] }))
    await post(wgEvent({ id: 402, whatsappId: 'hostile-session', text: texts[1] }))
    await post(
      wgEvent({ id: 403, whatsappId: 'hostile-session', action: '<img src=x onerror=window.__xss=3>' }),
    )
    const page = await signedIn(undefined, '#/events?session=hostile-session')
    await page
      .getByRole('link', { name: 'Open event hostile-session:<img src=x onerror=window.__xss=3>:403' })
      .waitFor()

    for (const [i, text] of texts.entries()) {
      await page.goto(`${base}/admin/#/events/${encodeURIComponent(`hostile-session:message:${401 + i}`)}`)
      await page
        .locator('pre.body')
        .filter({ hasText: JSON.stringify(text) })
        .waitFor()
    }
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined()
    expect(await page.locator('main img, main script').count()).toBe(0)
  })

  it('shows a conflicting copy of an event under its own heading, its body as text', async () => {
    const first = wgEvent({ id: 501, whatsappId: 'conflict-session' })
    const hostile = '<script>window.__xss=5</script>'
    await post(first)
    await post(first.replace('"id":501,', '"id":"501",').replace('"hi"', JSON.stringify(hostile)))
    const page = await signedIn(undefined, `#/events/${encodeURIComponent('conflict-session:message:501')}`)
    await page.getByRole('heading', { name: 'Conflicting copies' }).waitFor()
    const copy = page.locator('pre.conflict-body')
    await copy.filter({ hasText: JSON.stringify(hostile) }).waitFor()
    expect(await copy.count()).toBe(1)
    expect(await copy.textContent()).toContain('"id": "501"')
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined()
    expect(await page.locator('main script').count()).toBe(0)
  })

  it('fits a phone: no page wider than 375 px, tables scroll in their own box', async () => {
    const page = await signedIn({ width: 375, height: 700 })
    const key = encodeURIComponent('main-session:message:101')
    for (const route of ['#/overview', '#/events', `#/events/${key}`, '#/dead', '#/targets']) {
      // A fresh load each time: drawn() then waits for this route's first drawing, not the last one.
      await page.goto('about:blank')
      await page.goto(`${base}/admin/${route}`)
      await drawn(page)
      const widths = await page.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        body: document.body.scrollWidth,
        screen: window.innerWidth,
      }))
      expect(widths, route).toEqual({ page: 375, body: 375, screen: 375 })
    }
    await page.goto('about:blank')
    await page.goto(`${base}/admin/#/overview`)
    await drawn(page)
    // A table wider than a phone scrolls in its own box, never the page.
    const boxes = await page
      .locator('.table-wrap')
      .evaluateAll((all) => all.map((box) => getComputedStyle(box).overflowX))
    expect(boxes.length).toBeGreaterThan(0)
    expect(new Set(boxes)).toEqual(new Set(['auto']))
  })

  it('works with the keyboard: sign in, Tab to the navigation, Enter follows a link', async () => {
    const page = await newPage()
    await page.goto(`${base}/admin/`)
    // The token field has the focus from the start (once the page's script has drawn the form);
    // Enter submits.
    await page.locator('input:focus').and(page.getByLabel('Admin token')).waitFor()
    await page.keyboard.type(ADMIN_TOKEN)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Overview' }).waitFor()

    let focused = ''
    for (let i = 0; i < 40 && focused !== 'Events'; i++) {
      await page.keyboard.press('Tab')
      focused = await page.evaluate(() =>
        document.activeElement?.closest('nav') ? (document.activeElement.textContent ?? '') : '',
      )
    }
    expect(focused).toBe('Events')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Events', level: 1 }).waitFor()
    expect(new URL(page.url()).hash).toBe('#/events')
    expect(await page.getByRole('link', { name: 'Events' }).getAttribute('aria-current')).toBe('page')
  })

  it('signs out: the sign-in form comes back and the API answers 401', async () => {
    const page = await signedIn()
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('Admin token').waitFor()
    expect(await page.context().cookies()).toEqual([])
    expect(await page.evaluate(() => fetch('/admin/status').then((r) => r.status))).toBe(401)
  })

  it('signs a viewer in to a read-only console: every page shown, no button that changes anything', async () => {
    await post(
      wgEvent({ id: 801, whatsappId: 'main-session', chat: '79995550181@c.us', text: 'viewer test' }),
    )
    const admin = await signedIn(undefined, '#/targets')
    await admin.getByRole('button', { name: 'Pause bot' }).waitFor()

    const page = await signedIn(undefined, '#/targets', VIEWER_TOKEN)
    await page.getByText('Viewer · read-only').waitFor()
    for (const route of [
      '#/targets',
      '#/dead',
      `#/events/${encodeURIComponent('main-session:message:801')}`,
    ]) {
      await page.goto(`${base}/admin/${route}`)
      await page.locator('#updated:not(:empty)').waitFor()
      await page.locator('main h1').waitFor()
      expect(await page.locator('main button').count(), route).toBe(0)
    }
    await page.getByText('viewer test').waitFor()
    // The API refuses a viewer's change even if a page were to offer one.
    const status = await page.evaluate(() =>
      fetch('/admin/targets/crm/pause', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }).then((r) => r.status),
    )
    expect(status).toBe(403)
  })

  it('shows a delivery that took three attempts, each with its answer', async () => {
    await post(
      wgEvent({
        id: 501,
        whatsappId: 'shot-session',
        chat: '79995550101@c.us',
        text: 'Hello! Is my order #4417 on its way?',
      }),
    )
    await eventually(async () => {
      const event = await adminGet(`events/${encodeURIComponent('shot-session:message:501')}`)
      expect(event.deliveries.map((d: { status: string }) => d.status)).toEqual(['delivered', 'delivered'])
    }, 'both deliveries done')
    const page = await signedIn(undefined, `#/events/${encodeURIComponent('shot-session:message:501')}`)
    await page.getByText('Reached flaky at').waitFor()
    const attempts = page.getByRole('list', { name: 'Attempts to flaky' })
    await attempts.getByText('HTTP 200').waitFor()
    expect(await attempts.getByText('HTTP 503').count()).toBe(2)
    expect(await attempts.getByText('{"error":"database is restarting"}').count()).toBe(2)
    if (process.env.UPDATE_SCREENSHOT === '1') await page.screenshot({ path: SCREENSHOT })
  })
})
