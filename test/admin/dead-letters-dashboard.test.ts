// Dead-letter triage in a real Chromium against the real relay and a real local target that fails
// until it is fixed: dead letters grouped by cause, filtered by a time window, counted and confirmed,
// replayed and delivered once; one discarded with a reason; the audit page shows both; the refused
// requests and conflicts pages show bodies as text; a phone shows it all without side scrolling.
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Clock } from '../../src/shared/clock.ts'
import { browserSkipReason, eventually, launchBrowser, signIn, watchedPages } from '../support/browser.ts'
import { wgEvent } from '../support/events.ts'
import { buildTestApp, TEST_TOKEN } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const VIEWER_TOKEN = 'viewer-token-0123456789'
const IMAGES = new URL('../../docs/images/', import.meta.url)
const MINUTE = 60_000

/** Real time, moved forward when the test says: events received minutes apart, without the wait. */
function jumpingClock(): Clock & { jump(ms: number): void } {
  let offset = 0
  return {
    now: () => Date.now() + offset,
    setTimer(fn, ms) {
      const timer = setTimeout(fn, ms)
      return () => clearTimeout(timer)
    },
    jump(ms) {
      offset += ms
    },
  }
}

/** `datetime-local`'s value of an instant, in the page's zone (UTC here). */
const localInput = (ms: number) => new Date(ms).toISOString().slice(0, 16)
const idOf = (body: Buffer) => JSON.parse(body.toString()).id as number

const title = browserSkipReason
  ? `dead letters in the dashboard (skipped: ${browserSkipReason})`
  : 'dead letters in the dashboard'
describe.skipIf(browserSkipReason !== null)(title, () => {
  let browser: Browser
  let relay: Awaited<ReturnType<typeof buildTestApp>>
  let base: string
  let crm: Sink
  let bot: Sink
  let healthy = false
  const clock = jumpingClock()

  beforeAll(async () => {
    crm = await startSink({
      // Down: the first event is refused as unavailable, every other one fails.
      respondWith: (request) => {
        if (healthy) return { status: 200 }
        return idOf(request.body) === 1 ? { status: 503 } : { status: 500, body: '{"error":"crm is down"}' }
      },
    })
    bot = await startSink()
    relay = await buildTestApp(
      {
        ADMIN_TOKEN,
        ADMIN_VIEWER_TOKEN: VIEWER_TOKEN,
        TARGETS: JSON.stringify([
          { name: 'bot', url: bot.url, events: ['*'], sessions: ['pair'] },
          {
            name: 'crm',
            url: crm.url,
            events: ['*'],
            retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 20 },
          },
        ]),
      },
      undefined,
      { clock },
    )
    base = await relay.app.listen({ host: '127.0.0.1', port: 0 })
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await relay?.close()
    await crm?.close()
    await bot?.close()
  })

  const pages = watchedPages(() => browser)
  afterEach(async () => {
    expect(await pages.close()).toEqual([])
  })

  async function signedIn(
    viewport = { width: 1280, height: 900 },
    route = '',
    token = ADMIN_TOKEN,
  ): Promise<Page> {
    const page = await pages.open({ viewport, timezoneId: 'UTC' })
    await signIn(page, `${base}/admin/${route}`, token)
    return page
  }

  async function adminGet(path: string) {
    const response = await fetch(`${base}/admin/${path}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(response.status).toBe(200)
    return response.json()
  }

  /** WhatsGate posting to the callback URL; `refused`: the relay must turn it away (4xx). */
  async function post(body: string, refused = false) {
    const response = await fetch(`${base}/webhook/${TEST_TOKEN}`, { method: 'POST', body })
    if (refused) expect(response.status).toBeGreaterThanOrEqual(400)
    else expect(response.status).toBe(200)
  }

  it('triages by cause, replays a time window once after confirming its count, discards one, and audits both', async () => {
    // Three bursts five minutes apart; the middle one is the outage to replay. Each has died
    // before the clock moves on: a jump under a lease held would have it run out, and send again.
    const dead = (count: number) =>
      eventually(
        async () => expect((await adminGet('dead-letters/groups')).total).toBe(count),
        `${count} dead`,
      )
    for (const id of [1, 2]) await post(wgEvent({ id, whatsappId: 'shop' }))
    await dead(2)
    clock.jump(5 * MINUTE)
    const windowStart = clock.now()
    for (const id of [3, 4, 5]) await post(wgEvent({ id, whatsappId: 'shop' }))
    const windowEnd = clock.now() + MINUTE
    await dead(5)
    clock.jump(5 * MINUTE)
    for (const id of [6]) await post(wgEvent({ id, whatsappId: 'shop' }))
    await dead(6)

    const page = await signedIn()
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dead letters' }).click()
    const causes = page.getByRole('list', { name: 'Causes of crm’s dead letters' })
    await causes.getByText('HTTP 500 · http').waitFor()
    expect(await causes.getByRole('listitem').allTextContents()).toEqual([
      expect.stringMatching(/^HTTP 500 · http — 5 dead letters, the newest died /),
      expect.stringMatching(/^HTTP 503 · http — 1 dead letter, the newest died /),
    ])
    // The still-failing target is said before anything is replayed.
    await page.getByRole('note').filter({ hasText: 'crm is still failing' }).waitFor()

    // The window, to the minute, in the filter.
    await page.getByLabel('Received from').fill(localInput(windowStart - (windowStart % MINUTE)))
    await page.getByLabel('Received before').fill(localInput(windowEnd - (windowEnd % MINUTE) + MINUTE))
    await page.getByRole('button', { name: 'Filter' }).click()
    const list = page.getByRole('table', { name: 'Dead deliveries of crm' })
    await page.getByText('3 dead deliveries match').waitFor()
    expect(await list.getByRole('link', { name: /shop:message:/ }).allTextContents()).toEqual([
      'shop:message:5',
      'shop:message:4',
      'shop:message:3',
    ])

    // One of them is let go, with a reason.
    page.once('dialog', (dialog) => void dialog.accept('a test message from the shop'))
    await page.getByRole('button', { name: 'Discard shop:message:4 to crm' }).click()
    await page.getByRole('status').filter({ hasText: 'Discarded shop:message:4 to crm.' }).waitFor()
    await page.getByText('2 dead deliveries match, and 1 discarded.').waitFor()
    await page.screenshot({ path: fileURLToPath(new URL('dead-letters.png', IMAGES)), fullPage: true })

    healthy = true
    let asked = ''
    page.once('dialog', (dialog) => {
      asked = dialog.message()
      void dialog.accept()
    })
    await page.getByRole('button', { name: 'Replay all 2 matching dead deliveries of crm' }).click()
    await page.getByRole('status').filter({ hasText: 'Replayed 2 deliveries of crm.' }).waitFor()
    expect(asked).toMatch(/^Replay all 2 matching dead deliveries of crm\?/)
    await eventually(
      () => expect(crm.requests.map((r) => idOf(r.body)).join(' ')).toMatch(/^(\d ){12}(3 5|5 3)$/),
      'two delivered',
    )
    expect(
      crm.requests
        .slice(12)
        .map((r) => idOf(r.body))
        .sort(),
    ).toEqual([3, 5])
    await page.getByText('No dead delivery matches.').or(page.getByText('1 discarded')).first().waitFor()

    // The discarded one is kept, with who and why.
    await page.getByRole('link', { name: 'Show the discarded ones' }).click()
    const discarded = page.getByRole('table', { name: 'Discarded dead deliveries of crm' })
    await discarded.getByText(/Discarded by session .*: a test message from the shop/).waitFor()

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click()
    const audit = page.getByRole('list', { name: 'Changes, newest first' })
    await audit.getByText(/^Replayed 2 deliveries/).waitFor()
    const entries = await audit.getByRole('listitem').allTextContents()
    expect(entries).toHaveLength(2)
    expect(entries[0]).toMatch(/^Replayed 2 deliveries.* via dashboard · by admin session \S+/)
    expect(entries[1]).toMatch(
      /^Discarded 1 delivery.* via dashboard · by admin session .* why: a test message from the shop/,
    )
    await page.screenshot({ path: fileURLToPath(new URL('audit.png', IMAGES)), fullPage: true })
    expect(crm.requests.length).toBe(14)
  })

  it('shows refused requests and conflicting copies with their bodies as text, newest first', async () => {
    const markup = '<img src=x onerror=window.__ran=1>'
    await post(`{"not": "an event", "html": "${markup}"}`, true)
    await post('this is not json <b>bold</b>', true)
    await post(wgEvent({ id: 70, whatsappId: 'shop', text: 'first' }))
    await post(wgEvent({ id: 70, whatsappId: 'shop', text: `second ${markup}` }))

    const page = await signedIn()
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Refused' }).click()
    const cards = page.getByRole('article')
    await cards.first().waitFor()
    expect(await cards.count()).toBe(2)
    expect(await cards.nth(0).locator('pre.body').textContent()).toBe('this is not json <b>bold</b>')
    expect(await cards.nth(1).locator('pre.body').textContent()).toContain(markup)

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Conflicts' }).click()
    const conflict = page.getByRole('article', { name: /Conflict/ })
    await conflict.waitFor()
    expect(await conflict.locator('pre.body').textContent()).toContain(`second ${markup}`)
    await conflict.getByRole('link', { name: 'shop:message:70' }).waitFor()
    expect(await page.evaluate(() => (window as { __ran?: number }).__ran)).toBeUndefined()
    expect(await page.locator('main img, main b').count()).toBe(0)
  })

  it('fits a phone: no side scrolling on the triage pages, and the actions in view', async () => {
    healthy = false
    await post(wgEvent({ id: 90, whatsappId: 'shop-with-a-rather-long-session-name' }))
    await eventually(
      async () => expect((await adminGet('dead-letters/groups')).total).toBeGreaterThan(0),
      'a dead letter',
    )
    const page = await signedIn({ width: 375, height: 700 })
    for (const route of ['#/dead', '#/refused', '#/conflicts', '#/audit']) {
      await page.evaluate((hash) => {
        location.hash = hash
      }, route)
      await page.locator('#updated:not(:empty)').waitFor()
      await page.locator('main h1').waitFor()
      const width = await page.evaluate(() => document.documentElement.scrollWidth)
      expect(width, route).toBeLessThanOrEqual(375)
    }
    await page.evaluate(() => {
      location.hash = '#/dead'
    })
    for (const name of [
      'Replay shop-with-a-rather-long-session-name:message:90 to crm',
      'Discard shop-with-a-rather-long-session-name:message:90 to crm',
    ]) {
      const button = page.getByRole('button', { name })
      await button.waitFor()
      const box = await button.boundingBox()
      expect(box, name).not.toBeNull()
      expect((box?.x ?? 0) + (box?.width ?? 0), name).toBeLessThanOrEqual(375)
    }
    // One dead letter of the session: its count reads right.
    await page.evaluate(() => {
      location.hash = '#/dead?session=shop-with-a-rather-long-session-name'
    })
    const replayAll = page.getByRole('button', { name: 'Replay the 1 matching dead delivery of crm' })
    await replayAll.waitFor()
    const box = await replayAll.boundingBox()
    expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(375)
  })

  it('offers a viewer the triage to read, and no button that replays or discards', async () => {
    const page = await signedIn(undefined, '#/dead', VIEWER_TOKEN)
    await page.getByText('Viewer · read-only').waitFor()
    await page.getByRole('list', { name: 'Causes of crm’s dead letters' }).waitFor()
    await page.getByRole('table', { name: 'Dead deliveries of crm' }).waitFor()
    expect(await page.locator('main button').count()).toBe(0)
    await page.getByRole('button', { name: 'Filter' }).waitFor()
  })

  it("sends an event again to its failed target by default, and says which attempts were the replay's", async () => {
    healthy = false
    await post(wgEvent({ id: 80, whatsappId: 'pair' }))
    const key = 'pair:message:80'
    await eventually(async () => {
      const event = await adminGet(`events/${encodeURIComponent(key)}`)
      expect(event.deliveries.map((d: { status: string }) => d.status).sort()).toEqual(['dead', 'delivered'])
    }, 'dead at crm, delivered to bot')
    healthy = true
    const page = await signedIn(undefined, `#/events/${encodeURIComponent(key)}`)
    await page.getByRole('button', { name: 'Send again to all 2 targets' }).waitFor()
    const before = crm.requests.length
    await page.getByRole('button', { name: 'Send again to 1 failed target' }).click()
    await page
      .getByRole('status')
      .filter({ hasText: `Sent again: 1 delivery of ${key}.` })
      .waitFor()
    await eventually(() => expect(crm.requests.length).toBe(before + 1), 'sent to crm again')
    expect(bot.requests.map((r) => idOf(r.body))).toEqual([80])
    const attempts = page.getByRole('list', { name: 'Attempts to crm' })
    await attempts.getByText('#replay 1 · 1').waitFor()
    expect(await attempts.locator('.attempt-n').allTextContents()).toEqual(['#1', '#2', '#replay 1 · 1'])
    await page.getByText(/1 attempt since replay 1, 3 in all/).waitFor()
  })
})
