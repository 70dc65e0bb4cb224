// The overview's alerts panel in a real Chromium against a real relay on a real port: a session
// that disconnected shows as an open alert, its reason as text (never as HTML), to the admin and
// to a viewer alike, with no action to take.
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserSkipReason, eventually, launchBrowser } from '../support/browser.ts'
import { buildTestApp, TEST_TOKEN } from '../support/relay.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const VIEWER_TOKEN = 'viewer-token-0123456789'
const HOSTILE = '<img src=x onerror="window.pwned=1">'

const title = browserSkipReason ? `alerts panel (skipped: ${browserSkipReason})` : 'alerts panel'
describe.skipIf(browserSkipReason !== null)(title, () => {
  let relay: Awaited<ReturnType<typeof buildTestApp>>
  let browser: Browser
  let base: string

  beforeAll(async () => {
    relay = await buildTestApp({ ADMIN_TOKEN, ADMIN_VIEWER_TOKEN: VIEWER_TOKEN })
    base = await relay.app.listen({ host: '127.0.0.1', port: 0 })
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await relay?.close()
  })

  it('lists the open alerts on the overview, data as text, for the admin and a viewer', async () => {
    const page0 = await browser.newPage()
    await page0.goto(`${base}/admin/`)
    await page0.getByLabel('Admin token').fill(ADMIN_TOKEN)
    await page0.getByRole('button', { name: 'Sign in' }).click()
    await page0.locator('#updated:not(:empty)').waitFor()
    await expect(page0.getByRole('heading', { name: 'Alerts' }).textContent()).resolves.toBe('Alerts')
    expect(await page0.locator('section[aria-labelledby="alerts-h"] p').textContent()).toContain(
      'No alert open.',
    )
    await page0.close()

    const response = await fetch(`${base}/webhook/${TEST_TOKEN}`, {
      method: 'POST',
      body: JSON.stringify({
        id: 1,
        whatsapp_id: 'shop-d',
        event_action: 'disconnect',
        event_date: '2026-12-07 06:00:00',
        status_code: null,
        event_data: { reason: HOSTILE },
      }),
    })
    expect(response.status).toBe(200)
    await eventually(
      async () => {
        const answer = await fetch(`${base}/admin/alerts`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
        expect(((await answer.json()) as { open: unknown[] }).open).toHaveLength(1)
      },
      'the alert to open',
      20_000,
    )

    for (const token of [ADMIN_TOKEN, VIEWER_TOKEN]) {
      const page = await browser.newPage()
      await page.goto(`${base}/admin/`)
      await page.getByLabel('Admin token').fill(token)
      await page.getByRole('button', { name: 'Sign in' }).click()
      const panel = page.locator('section[aria-labelledby="alerts-h"]')
      const row = panel
        .getByRole('region', { name: 'Open alerts' })
        .getByRole('row')
        .filter({ hasText: 'shop-d' })
      await row.waitFor()
      const text = await row.textContent()
      expect(text).toContain('session.disconnected')
      expect(text).toContain(`reason "${HOSTILE}"`)
      expect(await panel.locator('img').count()).toBe(0)
      expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined()
      expect(await panel.getByRole('button').count()).toBe(0)
      const session = panel
        .getByRole('region', { name: 'Sessions' })
        .getByRole('row')
        .filter({ hasText: 'shop-d' })
      expect(await session.textContent()).toContain('disconnected')
      await page.close()
    }
  })
})
