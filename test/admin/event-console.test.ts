// The event console in a real Chromium against the real relay on a real port: an operator finds
// WhatsGate's example message by its sender's phone from the overview in three actions and reads
// why its failed target did not get it; lists are newest first and page both ways; every target an
// event did not go to says why; the page survives a Not found, a too-deep body and a phone's width;
// times carry their zone; an empty outbox says where to point WhatsGate.
import { mkdirSync, readFileSync } from 'node:fs'
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
const IMAGES = fileURLToPath(new URL('../../docs/images/', import.meta.url))
/** Screenshots for docs/operations.md, written when asked (UPDATE_SCREENSHOT=1). */
const screenshots = process.env.UPDATE_SCREENSHOT === '1'
const EXAMPLE = readFileSync(new URL('../fixtures/event-message.json', import.meta.url), 'utf8')
const EXAMPLE_KEY = '191b80a9238:message:18'
const LOOK_ALIKES = 60

const title = browserSkipReason ? `event console (skipped: ${browserSkipReason})` : 'event console'
describe.skipIf(browserSkipReason !== null)(title, () => {
  let browser: Browser
  let relay: Awaited<ReturnType<typeof buildTestApp>>
  let base: string
  let ok: Sink
  let down: Sink

  beforeAll(async () => {
    ok = await startSink()
    down = await startSink({ respondWith: () => ({ status: 500, body: '{"error":"crm is down"}' }) })
    relay = await buildTestApp({
      ADMIN_TOKEN,
      TARGETS: JSON.stringify([
        { name: 'bot', url: ok.url, events: ['*'] },
        {
          name: 'crm',
          url: down.url,
          events: ['message'],
          retry: { maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 50 },
        },
        { name: 'stickers', url: ok.url, events: ['*'], filter: { 'event_data.message.type': 'sticker' } },
        { name: 'acks', url: ok.url, events: ['ack'] },
        { name: 'other', url: ok.url, events: ['*'], sessions: ['elsewhere'] },
      ]),
    })
    base = await relay.app.listen({ host: '127.0.0.1', port: 0 })
    // The example message among many look-alikes of the same session, before and after it.
    for (let id = 1; id <= LOOK_ALIKES; id++) {
      if (id === LOOK_ALIKES / 2) await post(EXAMPLE)
      await post(
        wgEvent({ id: 1000 + id, chat: `7999000${String(id).padStart(4, '0')}@c.us`, text: `order ${id}` }),
      )
    }
    await eventually(async () => {
      const event = await adminGet(`events/${encodeURIComponent(EXAMPLE_KEY)}`)
      expect(event.deliveries.map((d: { status: string }) => d.status)).toEqual(['delivered', 'dead'])
    }, 'the example delivered to bot and dead at crm')
    await eventually(async () => {
      expect((await adminGet('events?outcome=pending&limit=1')).events).toEqual([])
    }, 'every delivery finished')
    browser = await launchBrowser()
    if (screenshots) mkdirSync(IMAGES, { recursive: true })
  })

  afterAll(async () => {
    await browser?.close()
    await relay?.close()
    await ok?.close()
    await down?.close()
  })

  const pages = watchedPages(() => browser)
  afterEach(async () => {
    expect(await pages.close()).toEqual([])
  })

  const newPage = (viewport = { width: 1280, height: 800 }, timezoneId = 'UTC') =>
    pages.open({ viewport, timezoneId })

  async function signedIn(
    options: { viewport?: { width: number; height: number }; timezoneId?: string } = {},
    on = base,
  ) {
    const page = await newPage(options.viewport, options.timezoneId)
    await signIn(page, `${on}/admin/`, ADMIN_TOKEN)
    return page
  }

  async function post(body: string) {
    const response = await fetch(`${base}/webhook/${TEST_TOKEN}`, { method: 'POST', body })
    expect(response.status).toBe(200)
  }

  async function adminGet(path: string) {
    const response = await fetch(`${base}/admin/${path}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(response.status).toBe(200)
    return response.json()
  }

  /** The keys of the events listed, top to bottom. */
  const listedKeys = (page: Page) =>
    page
      .getByRole('list', { name: 'Events, newest first' })
      .getByRole('link', { name: /^Open event / })
      .evaluateAll((links) =>
        links.map((link) => link.getAttribute('aria-label')?.slice('Open event '.length)),
      )

  it("finds WhatsGate's example message by its sender's phone from the overview in three actions, and its failed target's reason", async () => {
    const page = await signedIn()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    let actions = 0
    await page.getByLabel('Find events by phone, jid or event key').fill('+7 999 111-22-33')
    actions++
    await page.keyboard.press('Enter')
    actions++
    const list = page.getByRole('list', { name: 'Events, newest first' })
    const open = list.getByRole('link', { name: `Open event ${EXAMPLE_KEY}` })
    await open.waitFor()
    // The row already says it failed at crm and what it said.
    expect(await list.locator('li.event-row').count()).toBe(1)
    await list.getByText('crm: dead').waitFor()
    await list.getByText('212').waitFor()
    if (screenshots) await page.screenshot({ path: `${IMAGES}events-list.png` })
    await open.click()
    actions++
    await page.getByText('Did not reach crm: given up after 2 attempts').waitFor()
    await page.getByText(/Last: HTTP 500, \{"error":"crm is down"\}/).waitFor()
    expect(actions).toBeLessThanOrEqual(3)
    if (screenshots) await page.screenshot({ path: `${IMAGES}event-detail.png`, fullPage: true })
  })

  it('lists newest first, pages to older events and back, and links to the latest', async () => {
    const page = await signedIn()
    await page.goto(`${base}/admin/#/events`)
    await page.getByRole('link', { name: `Open event 191b80a9238:message:${1000 + LOOK_ALIKES}` }).waitFor()
    const first = await listedKeys(page)
    expect(first).toHaveLength(50)
    expect(first[0]).toBe(`191b80a9238:message:${1000 + LOOK_ALIKES}`)
    expect(first[1]).toBe(`191b80a9238:message:${1000 + LOOK_ALIKES - 1}`)
    await page.getByRole('link', { name: 'Older events' }).click()
    await page.getByRole('link', { name: 'Open event 191b80a9238:message:1001' }).waitFor()
    const older = await listedKeys(page)
    expect(older.at(-1)).toBe('191b80a9238:message:1001')
    expect(older).toHaveLength(LOOK_ALIKES + 1 - 50)
    expect(await page.getByRole('link', { name: 'Older events' }).count()).toBe(0)
    await page.getByRole('link', { name: 'Newer events' }).click()
    await page.getByRole('link', { name: `Open event ${first[0]}` }).waitFor()
    expect(await listedKeys(page)).toEqual(first)
    await page.getByRole('link', { name: 'Latest' }).click()
    await page.waitForURL(/#\/events$/)
    // The page is drawn again from the API (the list of the page before goes first): poll.
    await expect.poll(async () => (await listedKeys(page))[0]).toBe(first[0])
  })

  it('filters by outcome and target', async () => {
    const page = await signedIn()
    await page.goto(`${base}/admin/#/events?outcome=dead&target=crm`)
    await drawn(page)
    await page.getByRole('link', { name: `Open event ${EXAMPLE_KEY}` }).waitFor()
    // Every message died at crm: each listed row says so.
    const rows = page
      .getByRole('list', { name: 'Events, newest first' })
      .getByRole('listitem')
      .filter({
        has: page.getByRole('link', { name: /^Open event / }),
      })
    expect(await rows.count()).toBe(50)
    expect(await rows.filter({ hasText: 'crm: dead' }).count()).toBe(50)
    expect(await page.getByLabel('Outcome', { exact: true }).inputValue()).toBe('dead')
  })

  it('says why each target did not get the event: its filter, its events, its sessions', async () => {
    const page = await signedIn()
    await page.goto(`${base}/admin/#/events/${encodeURIComponent(EXAMPLE_KEY)}`)
    await drawn(page)
    await page.getByText('Reached bot at').waitFor()
    await page
      .getByText('Not sent to stickers: its filter did not match at event_data.message.type.')
      .waitFor()
    await page.getByText('Not sent to acks: its events (ack) do not include message.').waitFor()
    await page.getByText('Not sent to other: its sessions (elsewhere) do not include 191b80a9238.').waitFor()
    await page.getByText('(WhatsGate’s clock, as sent: no zone given)').waitFor()
  })

  it('draws every page again after a Not found page, with no reload', async () => {
    const page = await signedIn()
    await page.goto(`${base}/admin/#/no-such-page`)
    await page.getByRole('heading', { name: 'Not found' }).waitFor()
    // A moment for the periodic refresh to run with no page shown, as it did when the bug bit.
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 50)))
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Events' }).click()
    await page.getByRole('link', { name: `Open event 191b80a9238:message:${1000 + LOOK_ALIKES}` }).waitFor()
    await page.getByText(/^Updated \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ · every 5 s$/).waitFor()
    // A trailing slash is the list itself.
    await page.goto(`${base}/admin/#/events/`)
    await page.getByRole('heading', { name: 'Events', level: 1 }).waitFor()
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    await page.getByRole('table', { name: 'Targets' }).waitFor()
  })

  it('says Loading until the first answer, then draws', async () => {
    const page = await signedIn()
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    await page.route('**/admin/events?**', async (route) => {
      await held
      await route.continue()
    })
    await page.goto(`${base}/admin/#/events?outcome=delivered`)
    await page.getByRole('status').filter({ hasText: 'Loading…' }).waitFor()
    expect(await page.locator('main').getAttribute('aria-busy')).toBe('true')
    release()
    await page.getByRole('list', { name: 'Events, newest first' }).waitFor()
    expect(await page.getByText('Loading…').count()).toBe(0)
    expect(await page.locator('main').getAttribute('aria-busy')).toBeNull()
  })

  it('shows a body nested too deep to lay out as it came, with its headers', async () => {
    const deep = `${'['.repeat(5000)}1${']'.repeat(5000)}`
    const body = JSON.parse(wgEvent({ id: 9001, whatsappId: 'deep-session' }))
    await post(JSON.stringify(body).replace('"event_data":{', `"event_data":{"deep":${deep},`))
    const page = await signedIn()
    await page.goto(`${base}/admin/#/events/${encodeURIComponent('deep-session:message:9001')}`)
    await drawn(page)
    await page.getByRole('heading', { name: 'Body' }).waitFor()
    expect(await page.locator('pre.body').textContent()).toContain('[[[[[[[[1]]]]]]]]')
    await page.getByRole('heading', { name: 'Headers' }).waitFor()
    expect(await page.locator('pre.headers').textContent()).toContain('content-type')
  })

  it('writes times in ISO 8601 with the zone, UTC or local as chosen and kept, and how long ago', async () => {
    const page = await signedIn({ timezoneId: 'Asia/Yerevan' })
    await page.goto(`${base}/admin/#/events/${encodeURIComponent(EXAMPLE_KEY)}`)
    await drawn(page)
    const received = page.locator('.facts dd').filter({ hasText: 'the relay’s clock' }).locator('time')
    expect(await received.textContent()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    await page
      .locator('.facts .ago')
      .first()
      .filter({ hasText: /ago|just now/ })
      .waitFor()
    await page.getByRole('button', { name: 'Times in UTC · show local' }).click()
    await page.getByRole('button', { name: 'Times in local time · show UTC' }).waitFor()
    await drawn(page)
    expect(await received.textContent()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+04:00$/)
    // Kept by the browser.
    await page.reload()
    await drawn(page)
    expect(await received.textContent()).toMatch(/\+04:00$/)
    expect(await page.locator('#updated').textContent()).toMatch(
      /^Updated \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+04:00 /,
    )
  })

  it('fits a phone: the list and the event page are cards, nothing to scroll sideways, actions in view', async () => {
    const page = await signedIn({ viewport: { width: 375, height: 800 } })
    for (const route of ['#/events', `#/events/${encodeURIComponent(EXAMPLE_KEY)}`]) {
      await page.goto('about:blank')
      await page.goto(`${base}/admin/${route}`)
      await drawn(page)
      await page.locator('main h1').waitFor()
      expect(await page.evaluate(() => document.documentElement.scrollWidth), route).toBeLessThanOrEqual(375)
      if (route === '#/events') {
        const open = page.getByRole('link', { name: /^Open event / }).first()
        const box = await open.boundingBox()
        expect(box && box.x >= 0 && box.x + box.width <= 375).toBe(true)
        const chips = page.getByRole('list', { name: 'Outcome per target' }).first()
        const chipsBox = await chips.boundingBox()
        expect(chipsBox && chipsBox.x + chipsBox.width <= 375).toBe(true)
        if (screenshots) {
          await open.scrollIntoViewIfNeeded()
          await page.screenshot({ path: `${IMAGES}events-phone.png` })
        }
      } else {
        const replay = page.getByRole('button', { name: 'Replay to crm' })
        await replay.scrollIntoViewIfNeeded()
        const box = await replay.boundingBox()
        expect(box && box.x >= 0 && box.x + box.width <= 375).toBe(true)
        await page.getByText('Not sent to stickers').waitFor()
        if (screenshots) await page.screenshot({ path: `${IMAGES}event-phone.png`, fullPage: true })
      }
    }
  })

  it('says where to point WhatsGate while nothing has come', async () => {
    const empty = await buildTestApp({ ADMIN_TOKEN })
    try {
      const url = await empty.app.listen({ host: '127.0.0.1', port: 0 })
      const page = await signedIn({}, url)
      await page.getByText('No event has been received yet.').waitFor()
      await page.goto(`${url}/admin/#/events`)
      await drawn(page)
      await page.getByText('No event has been received yet.').waitFor()
      expect(await page.locator('main .callback').textContent()).toBe(`${url}/webhook/<INGEST_TOKEN>`)
    } finally {
      await empty.close()
    }
  })
})
