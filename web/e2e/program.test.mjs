// The loyalty program beyond points, in the console against a real `regulars serve --demo`:
// Settings → Tiers, Stamp cards, Coupons and Referrals; the counter's tier, stamps and coupons;
// the member page's tier (with a tier set by hand), coupons, stamps (on the timeline too) and
// referrals; Reports with their CSV downloads. Then every new page in every language, with screenshots.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import { apiCall, CASHIER, login, newPage, OWNER, randomPhone, screenshot, SCREENSHOT_DIR, startAll, TABLET, uid } from './harness.mjs'

let env
before(async () => {
  env = await startAll()
})
after(async () => {
  await env?.stop()
})

const json = (r) => r.json()
const num = (text) => Number(String(text).replace(/[^\d-]/g, ''))

/** A POST through the logged-in page's session (CSRF header and a fresh Idempotency-Key). */
async function post(page, path, data) {
  const csrf = (await json(await page.request.get('/api/v1/auth/me'))).csrf_token
  return page.request.post(path, { data, headers: { 'X-CSRF-Token': csrf, 'Idempotency-Key': `e2e-${uid()}${uid()}${uid()}` } })
}

/** A new member (no orders yet) registered over the API. */
async function newMember(page, name) {
  const r = await post(page, '/api/v1/members', { phone: randomPhone(), name })
  assert.equal(r.status(), 201, await r.text())
  return json(r)
}

async function order(page, memberId, totalMinor) {
  const r = await post(page, '/api/v1/orders', { external_id: `E2E-${uid()}${uid()}`, member_id: memberId, total_minor: totalMinor })
  assert.equal(r.status(), 201, await r.text())
  return json(r)
}

async function lookUp(page, m) {
  await page.goto('/counter')
  await page.getByTestId('lookup-input').fill(m.phone_display ?? m.phone)
  const r = await apiCall(page, 'POST', '/api/v1/members/lookup', () => page.getByTestId('lookup-submit').click())
  assert.equal(r.status, 200, JSON.stringify(r.body))
  assert.equal(r.body.id, m.id)
  await page.getByTestId('member-card').waitFor()
  await page.waitForFunction(() => !document.querySelector('[data-testid=pos-points]')?.textContent?.includes('…'))
}

const text = async (loc) => (await loc.innerText()).trim()

describe('the loyalty program (owner and cashier, English)', () => {
  let owner
  let cashier
  let me
  const shared = {}
  before(async () => {
    owner = await newPage(env, { lang: 'en' })
    await login(owner.page, OWNER)
    cashier = await newPage(env, { lang: 'en' })
    me = await login(cashier.page, CASHIER)
  })
  after(async () => {
    assert.deepEqual(owner.errors, [])
    assert.deepEqual(cashier.errors, [])
    await owner?.context.close()
    await cashier?.context.close()
  })

  test('tiers: the program and a new level are saved; an order big enough for level 2 shows it on the counter card and the member page', async () => {
    const { page } = owner
    await page.getByTestId('nav-settings').click()
    await page.waitForURL('**/settings/point-types')
    await page.getByTestId('subnav-settings-tiers').click()
    await page.waitForURL('**/settings/tiers')
    await page.getByTestId('tier-row').nth(2).waitFor()
    // The demo's three levels, lowest first, thresholds in money (the program counts spend).
    assert.deepEqual(await page.getByTestId('tier-name').allInnerTexts(), ['銀卡 Silver', '金卡 Gold', '黑卡 Black'])
    assert.deepEqual(await page.getByTestId('tier-threshold').allInnerTexts(), ['NT$1,000', 'NT$3,000', 'NT$8,000'])
    assert.deepEqual(await page.getByTestId('tier-multiplier').allInnerTexts(), ['×1', '×1.5', '×2'])

    // The program: spend over the last 365 days, 14 days' grace.
    assert.equal(await page.locator('#tp-metric').inputValue(), 'spend')
    await page.locator('#tp-grace').fill('14')
    const p = await apiCall(page, 'POST', '/api/v1/tier-program', () => page.getByTestId('save-program').click())
    assert.equal(p.status, 200, JSON.stringify(p.body))
    assert.deepEqual(JSON.parse(p.request.postData()), { metric: 'spend', window: { kind: 'rolling_days', days: 365 }, grace_days: 14 })
    await page.getByTestId('program-saved').waitFor()
    assert.equal(await text(page.getByTestId('program-summary')), 'Money spent · over the last 365 days · 14 days’ grace')
    // A window of 0 days is refused by the server, which names the field.
    await page.locator('#tp-days').fill('0')
    const badP = await apiCall(page, 'POST', '/api/v1/tier-program', () => page.getByTestId('save-program').click())
    assert.equal(badP.status, 400)
    assert.equal(badP.body.error.field, 'window_days')
    await page.locator('.field.invalid[data-field=window_days]').waitFor()
    await page.locator('#tp-days').fill('365')
    // Points earned this calendar year: the point type is asked, the days are not; thresholds read as points.
    await page.locator('#tp-metric').selectOption('points')
    await page.locator('#tp-window').selectOption('calendar_year')
    assert.equal(await page.locator('#tp-days').count(), 0)
    assert.equal(await page.locator('#tp-pt').inputValue(), 'points')
    const cal = await apiCall(page, 'POST', '/api/v1/tier-program', () => page.getByTestId('save-program').click())
    assert.equal(cal.status, 200, JSON.stringify(cal.body))
    assert.deepEqual(JSON.parse(cal.request.postData()), { metric: 'points', point_type: 'points', window: { kind: 'calendar_year' }, grace_days: 14 })
    assert.equal(cal.body.point_type_id, (await json(await page.request.get('/api/v1/point-types'))).data.find((x) => x.code === 'points').id)
    await page.waitForFunction(() => document.querySelector('[data-testid=program-summary]')?.textContent?.replace(/\s+/g, ' ').trim() === 'Points earned · since 1 January · 14 days’ grace')
    assert.equal(await text(page.getByTestId('tier-threshold').first()), '100,000 points')
    // Back to spend over 365 days for the rest of the test.
    await page.locator('#tp-metric').selectOption('spend')
    await page.locator('#tp-window').selectOption('rolling_days')
    await page.locator('#tp-days').fill('365')
    const back = await apiCall(page, 'POST', '/api/v1/tier-program', () => page.getByTestId('save-program').click())
    assert.deepEqual(JSON.parse(back.request.postData()), { metric: 'spend', window: { kind: 'rolling_days', days: 365 }, grace_days: 14 })
    await page.waitForFunction(() => document.querySelector('[data-testid=tier-threshold]')?.textContent?.trim() === 'NT$1,000')

    // A fourth level below the third is refused (thresholds rise with the level) …
    await page.getByTestId('new-tier').click()
    assert.equal(await page.locator('#t-level').inputValue(), '4', 'the next free level is offered')
    await page.locator('#t-name').fill('E2E 鑽石 Diamond')
    await page.locator('#t-threshold').fill('5000')
    const bad = await apiCall(page, 'POST', '/api/v1/tiers', () => page.getByTestId('save-tier').click())
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.field, 'threshold')
    await page.locator('.field.invalid[data-field=threshold]').waitFor()
    // … above it, it is created.
    await page.locator('#t-threshold').fill('20,000')
    await page.locator('#t-mult').fill('3')
    await page.locator('#t-benefits').fill('Free drink every month')
    const r = await apiCall(page, 'POST', '/api/v1/tiers', () => page.getByTestId('save-tier').click())
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.deepEqual(JSON.parse(r.request.postData()), { level: 4, name: 'E2E 鑽石 Diamond', earn_multiplier: 3, threshold: 2000000, benefits: { text: 'Free drink every month' } })
    const row = page.locator('[data-testid=tier-row][data-level="4"]')
    await row.waitFor()
    assert.equal(await text(row.getByTestId('tier-threshold')), 'NT$20,000')
    assert.equal(await text(row.getByTestId('tier-multiplier')), '×3')
    // Edited: only the changed field is sent.
    await row.getByTestId('edit').click()
    assert.equal(await page.locator('#t-threshold').inputValue(), '20000')
    await page.locator('#t-threshold').fill('25000')
    const u = await apiCall(page, 'PATCH', `/api/v1/tiers/${r.body.id}`, () => page.getByTestId('save-tier').click())
    assert.equal(u.status, 200, JSON.stringify(u.body))
    assert.deepEqual(JSON.parse(u.request.postData()), { threshold: 2500000 })
    await page.waitForFunction(() => document.querySelector('[data-testid=tier-row][data-level="4"] [data-testid=tier-threshold]')?.textContent?.trim() === 'NT$25,000')
    await screenshot(page, 'en-settings-tiers-saved')

    // A new member spends NT$3,000: level 2 at once.
    const m = await newMember(page, `E2E 金卡 ${uid()}`)
    await order(page, m.id, 300000)
    shared.member = m
    await lookUp(cashier.page, m)
    const tier = cashier.page.getByTestId('pos-tier')
    await tier.waitFor()
    assert.equal(await tier.getAttribute('data-level'), '2')
    assert.equal(await text(cashier.page.getByTestId('pos-tier-name')), '金卡 Gold')
    assert.equal(await text(cashier.page.getByTestId('pos-tier-next')), 'NT$5,000 more to 黑卡 Black')
    await screenshot(cashier.page, 'en-counter-tier')

    // The member page: the same, and a tier set by hand until a date (owner), then cleared.
    await page.goto(`/members/${m.id}`)
    await page.getByTestId('tier-name').waitFor()
    assert.equal(await text(page.getByTestId('tier-name')), '金卡 Gold')
    assert.equal(await text(page.getByTestId('tier-next')), 'NT$5,000 more to 黑卡 Black')
    await page.getByTestId('override-open').click()
    await page.locator('#ov-level').selectOption('3')
    await page.locator('#ov-until').fill('2099-12-31')
    const o = await apiCall(page, 'POST', `/api/v1/members/${m.id}/tier-override`, () => page.getByTestId('override-save').click())
    assert.equal(o.status, 200, JSON.stringify(o.body))
    const sent = JSON.parse(o.request.postData())
    assert.equal(sent.level, 3)
    assert.equal(new Date(sent.until).toISOString(), new Date('2099-12-31T23:59:59+08:00').toISOString(), 'the end of that day')
    await page.waitForFunction(() => document.querySelector('[data-testid=tier-name]')?.textContent?.trim() === '黑卡 Black')
    assert.match(await text(page.getByTestId('tier-override')), /^Set by hand to 黑卡 Black until Dec 31, 2099\.$/)
    await screenshot(page, 'en-member-tier-override')
    const api = await json(await page.request.get(`/api/v1/members/${m.id}/tier`))
    assert.equal(api.tier.level, 3)
    assert.equal(api.override.level, 3)
    const c = await apiCall(page, 'POST', `/api/v1/members/${m.id}/tier-override`, () => page.getByTestId('override-clear').click())
    assert.deepEqual(JSON.parse(c.request.postData()), { level: 0 })
    await page.waitForFunction(() => document.querySelector('[data-testid=tier-name]')?.textContent?.trim() === '金卡 Gold')
    assert.equal(await page.getByTestId('tier-override').count(), 0)

    // A sale at the counter that lifts the tier says so under the points.
    const n = await newMember(page, `E2E 銀卡 ${uid()}`)
    await lookUp(cashier.page, n)
    await apiCall(cashier.page, 'POST', '/api/v1/loyalty/calculate', () => cashier.page.getByTestId('earn-amount').fill('1000'))
    const sale = await apiCall(cashier.page, 'POST', '/api/v1/orders', () => cashier.page.getByTestId('earn-confirm').click())
    assert.equal(sale.status, 201, JSON.stringify(sale.body))
    await cashier.page.getByTestId('pos-result-extra').waitFor()
    // NT$1,000 also passes the demo's spend gift (滿 NT$300 送 NT$30).
    assert.equal(await text(cashier.page.getByTestId('pos-result-extra')), 'Now 銀卡 Silver! · New coupon: 滿 NT$300 送 NT$30')
    await cashier.page.waitForFunction(() => document.querySelector('[data-testid=pos-tier-name]')?.textContent?.trim() === '銀卡 Silver')

    // A cashier sees the tier but cannot set it.
    await cashier.page.goto(`/members/${m.id}`)
    await cashier.page.getByTestId('tier-name').waitFor()
    assert.equal(await cashier.page.getByTestId('override-open').count(), 0)
  })

  test('stamp cards: created with a point type of their own; Stamp → card → confirm at the counter shows 1/5; a full card gives a reward used once; switched off', async () => {
    const { page } = owner
    await page.goto('/settings/stamp-cards')
    await page.getByTestId('new-card').click()
    // Without a reward the card is refused before anything is created.
    await page.locator('#sc-name').fill('E2E 咖啡卡')
    const posts = []
    const listen = (req) => req.method() === 'POST' && posts.push(new URL(req.url()).pathname)
    page.on('request', listen)
    await page.getByTestId('save-card').click()
    await page.locator('.field.invalid[data-field=reward_name]').waitFor()
    assert.deepEqual(posts, [], 'nothing was sent')
    page.off('request', listen)

    await page.locator('#sc-reward').fill('免費咖啡 Free coffee')
    await page.locator('#sc-needed').fill('5')
    await page.getByTestId('per-visit').click()
    await page.locator('#sc-expiry').selectOption('days')
    await page.locator('#sc-expiry-n').fill('180')
    const [pt, r] = await Promise.all([
      page.waitForResponse((x) => x.request().method() === 'POST' && new URL(x.url()).pathname === '/api/v1/point-types'),
      page.waitForResponse((x) => x.request().method() === 'POST' && new URL(x.url()).pathname === '/api/v1/stamp-cards'),
      page.getByTestId('save-card').click(),
    ])
    assert.equal(pt.status(), 201, await pt.text())
    const ptBody = JSON.parse(pt.request().postData())
    assert.match(ptBody.code, /^stamps_[a-z0-9]{6}$/)
    assert.deepEqual({ ...ptBody, code: undefined }, { code: undefined, name: 'E2E 咖啡卡', expiry: { kind: 'days', n: 180 }, value_minor_per_1000: 0, refund_shortfall: 'negative', active: true })
    assert.equal(r.status(), 201, await r.text())
    assert.deepEqual(JSON.parse(r.request().postData()), {
      name: 'E2E 咖啡卡',
      point_type: ptBody.code,
      stamps_needed: 5,
      per: 'visit',
      skus: [],
      categories: [],
      reward_name: '免費咖啡 Free coffee',
      restart: true,
      active: true,
    })
    const card = await r.json()
    const row = page.locator(`[data-testid=card-row][data-id="${card.id}"]`)
    await row.waitFor()
    assert.match(await text(row.getByTestId('card-rule')), /^5 visits\s+Restarts$/)
    assert.equal(await text(row.getByTestId('card-reward')), '免費咖啡 Free coffee')
    assert.equal(await text(row.getByTestId('card-expiry')), '180 days after the stamp')
    await screenshot(page, 'en-settings-stamp-cards-created')

    // At the counter (cashier): three taps.
    const m = await newMember(page, `E2E 集點 ${uid()}`)
    const cp = cashier.page
    await lookUp(cp, m)
    const dots = cp.locator(`[data-testid=pos-stamps][data-card="${card.id}"]`)
    await dots.waitFor()
    assert.equal(await text(dots.getByTestId('pos-stamps-count')), '0/5')
    await cp.getByTestId('action-stamp').click() // 1
    await cp.locator(`[data-testid=card-option][data-id="${card.id}"]`).click() // 2
    assert.equal(await text(cp.getByTestId('stamp-confirm')), 'Add a stamp to E2E 咖啡卡')
    const s = await apiCall(cp, 'POST', `/api/v1/members/${m.id}/stamps`, () => cp.getByTestId('stamp-confirm').click()) // 3
    assert.equal(s.status, 201, JSON.stringify(s.body))
    assert.deepEqual(JSON.parse(s.request.postData()), { card_id: card.id, stamps: 1 })
    assert.deepEqual({ added: s.body.stamps_added, after: s.body.stamps_after }, { added: 1, after: 1 })
    await cp.getByTestId('pos-result').waitFor()
    assert.equal(await text(cp.getByTestId('pos-result-title')), 'Stamp added to E2E 咖啡卡')
    assert.equal(await text(cp.getByTestId('pos-result-detail')), '1 of 5 stamps')
    assert.equal(await text(dots.getByTestId('pos-stamps-count')), '1/5')
    assert.equal(await dots.locator('.stamp-dot.on').count(), 1)
    const bal = await json(await cp.request.get(`/api/v1/members/${m.id}/balances`))
    assert.equal(bal.points.find((x) => x.point_type === ptBody.code).balance, 1)
    // The stamps are dots, not a balance tile.
    assert.equal(await cp.locator('.pos-stat .pos-stat-label', { hasText: 'E2E 咖啡卡' }).count(), 0)

    // Two more one at a time, then two at once (two coffees): the card is full and its reward waits.
    for (let i = 2; i <= 3; i++) {
      await cp.locator(`[data-testid=card-option][data-id="${card.id}"]`).click()
      const x = await apiCall(cp, 'POST', `/api/v1/members/${m.id}/stamps`, () => cp.getByTestId('stamp-confirm').click())
      assert.equal(x.status, 201)
      await cp.waitForFunction((n) => document.querySelector('[data-testid=pos-result-detail]')?.textContent === `${n} of 5 stamps`, i)
    }
    await cp.locator(`[data-testid=card-option][data-id="${card.id}"]`).click()
    assert.equal(await text(cp.getByTestId('stamp-count')), '1', 'one stamp unless changed')
    assert.equal(await cp.getByTestId('stamp-less').isDisabled(), true)
    await cp.getByTestId('stamp-more').click()
    assert.equal(await text(cp.getByTestId('stamp-confirm')), 'Add 2 stamps to E2E 咖啡卡')
    const two = await apiCall(cp, 'POST', `/api/v1/members/${m.id}/stamps`, () => cp.getByTestId('stamp-confirm').click())
    assert.equal(two.status, 201, JSON.stringify(two.body))
    assert.deepEqual(JSON.parse(two.request.postData()), { card_id: card.id, stamps: 2 })
    assert.equal(two.body.rewards.length, 1)
    assert.equal(two.body.stamps_after, 0)
    await cp.waitForFunction(() => document.querySelector('[data-testid=pos-result-title]')?.textContent === 'E2E 咖啡卡 is full!')
    assert.equal(await text(cp.getByTestId('pos-result-detail')), 'Reward ready: 免費咖啡 Free coffee')
    assert.equal(await text(dots.getByTestId('pos-stamps-count')), '0/5', 'a new card starts')
    const ready = cp.getByTestId('ready-reward')
    await ready.waitFor()
    assert.match(await text(ready), /免費咖啡 Free coffee/)
    await screenshot(cp, 'en-counter-stamp-full')
    // Use it: Use → confirm.
    const rewardId = await ready.getAttribute('data-id')
    await ready.getByTestId('use-reward').click()
    await cp.getByRole('alertdialog').waitFor()
    const used = await apiCall(cp, 'POST', `/api/v1/stamp-rewards/${rewardId}/use`, () => cp.getByTestId('confirm').click())
    assert.equal(used.status, 200, JSON.stringify(used.body))
    assert.equal(used.body.status, 'used')
    await cp.waitForFunction(() => document.querySelector('[data-testid=pos-result-title]')?.textContent === 'Reward used: 免費咖啡 Free coffee')
    assert.equal(await cp.getByTestId('ready-reward').count(), 0)
    // Once only: the server refuses a second use.
    const again = await post(cp, `/api/v1/stamp-rewards/${rewardId}/use`, undefined)
    assert.equal(again.status(), 409)
    assert.match((await again.json()).error.message, /already used at/)

    // The stamps given by hand are on the member's timeline (newest first): the reward used, the
    // full card, then the two stamps that filled it, by the cashier, and the three before.
    await page.goto(`/members/${m.id}`)
    const added = page.locator('[data-testid=timeline-entry][data-type=stamps_added]')
    await added.first().waitFor()
    assert.equal(await added.count(), 4)
    assert.equal(await text(added.first().locator('.timeline-type')), 'Stamps added')
    assert.match(await text(added.first().getByTestId('timeline-summary')), /^E2E 咖啡卡: \+2 · 5 of 5 · by \S/)
    assert.match(await text(added.last().getByTestId('timeline-summary')), /^E2E 咖啡卡: \+1 · 1 of 5 · by \S/)
    const types = await page.getByTestId('timeline-entry').evaluateAll((els) => els.slice(0, 3).map((e) => e.getAttribute('data-type')))
    assert.deepEqual(types, ['stamp_reward_used', 'stamp_card_completed', 'stamps_added'])
    await added.first().scrollIntoViewIfNeeded()
    await screenshot(page, 'en-member-timeline-stamps')
    await page.goto('/settings/stamp-cards')
    await row.waitFor()

    // A sale stamps the card too (one stamp per visit), and the counter says so.
    await cp.getByTestId('action-earn').click()
    await apiCall(cp, 'POST', '/api/v1/loyalty/calculate', () => cp.getByTestId('earn-amount').fill('100'))
    const sale = await apiCall(cp, 'POST', '/api/v1/orders', () => cp.getByTestId('earn-confirm').click())
    assert.equal(sale.status, 201, JSON.stringify(sale.body))
    assert.deepEqual(sale.body.loyalty.points.find((x) => x.point_type === ptBody.code), { point_type: ptBody.code, points: 1, balance_after: 1 })
    await cp.getByTestId('pos-result-extra').waitFor()
    assert.equal(await text(cp.getByTestId('pos-result-extra')), '+1 stamp on E2E 咖啡卡')
    assert.match(await text(cp.getByTestId('pos-result-title')), /^\+\d+ points? for NT\$100$/)
    await cp.waitForFunction((id) => document.querySelector(`[data-testid=pos-stamps][data-card="${id}"] [data-testid=pos-stamps-count]`)?.textContent === '1/5', card.id)

    // The member page lists the card and the used reward.
    await cp.goto(`/members/${m.id}`)
    await cp.getByTestId('member-stamp-card').first().waitFor()
    assert.equal(await text(cp.getByTestId('stamp-reward-row').first().locator('.badge')), 'Used')

    // Switched off in the settings: the counter offers it no more, the server refuses stamps.
    const off = await apiCall(page, 'PATCH', `/api/v1/stamp-cards/${card.id}`, () => row.getByTestId('toggle').click())
    assert.equal(off.status, 200, JSON.stringify(off.body))
    assert.deepEqual(JSON.parse(off.request.postData()), { active: false })
    await page.waitForFunction((id) => document.querySelector(`[data-testid=card-row][data-id="${id}"] [data-testid=status]`)?.textContent?.trim() === 'Inactive', card.id)
    const refused = await post(cp, `/api/v1/members/${m.id}/stamps`, { card_id: card.id })
    assert.equal(refused.status(), 409)
    assert.equal((await refused.json()).error.field, 'card_id')
    await lookUp(cp, m)
    await cp.getByTestId('action-stamp').click()
    assert.equal(await cp.locator(`[data-testid=card-option][data-id="${card.id}"]`).count(), 0)
    // Back on for the screenshots.
    await apiCall(page, 'PATCH', `/api/v1/stamp-cards/${card.id}`, () => row.getByTestId('toggle').click())
    shared.card = card
  })

  test('coupons: a template is created, issued to one member on the member page, redeemed at the counter; a second redeem is refused with the server’s message', async () => {
    const { page } = owner
    await page.goto('/settings/coupons')
    await page.getByTestId('new-template').click()
    // Percent off without the percent: the server names the field.
    await page.locator('#ct-name').fill('E2E broken')
    await page.getByTestId('kind-percent_off').click()
    const bad = await apiCall(page, 'POST', '/api/v1/coupon-templates', () => page.getByTestId('save-template').click())
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.field, 'percent_off')
    await page.locator('.field.invalid[data-field=percent_off]').waitFor()

    const name = `E2E 折價券 ${uid()}`
    await page.locator('#ct-name').fill(name)
    await page.getByTestId('kind-amount_off').click()
    await page.locator('#ct-amount').fill('50')
    await page.locator('#ct-min').fill('200')
    await page.locator('#ct-days').fill('30')
    const r = await apiCall(page, 'POST', '/api/v1/coupon-templates', () => page.getByTestId('save-template').click())
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.deepEqual(JSON.parse(r.request.postData()), { name, kind: 'amount_off', amount_off_minor: 5000, min_spend_minor: 20000, valid_days: 30, issue_on: 'manual', active: true })
    const row = page.locator(`[data-testid=template-row][data-id="${r.body.id}"]`)
    await row.waitFor()
    assert.equal(await text(row.getByTestId('template-offer')), 'NT$50 off\non NT$200 or more')
    assert.equal(await text(row.getByTestId('template-trigger')), 'By staff')
    await screenshot(page, 'en-settings-coupons-created')
    shared.template = r.body

    // Issued to one member from the member page.
    const m = shared.member
    await page.goto(`/members/${m.id}`)
    await page.getByTestId('member-coupons').waitFor()
    await page.waitForFunction((id) => [...document.querySelectorAll('#mc-template option')].some((o) => o.value === id), r.body.id)
    await page.locator('#mc-template').selectOption(r.body.id)
    const iss = await apiCall(page, 'POST', '/api/v1/coupons', () => page.getByTestId('issue-coupon').click())
    assert.equal(iss.status, 201, JSON.stringify(iss.body))
    assert.deepEqual(JSON.parse(iss.request.postData()), { template_id: r.body.id, member_id: m.id })
    const code = iss.body.code
    assert.match(code, /^[A-HJ-NP-Z2-9]{10}$/)
    await page.getByTestId('issued').waitFor()
    assert.equal(await text(page.getByTestId('issued')), `Given: ${name} (code ${code})`)
    const crow = page.locator(`[data-testid=coupon-row][data-code="${code}"]`)
    assert.equal(await text(crow.getByTestId('coupon-status')), 'Can be used')

    // Two tills have the member open; the first redeems the coupon in three taps.
    const other = await newPage(env, { lang: 'en' })
    try {
      await login(other.page, CASHIER)
      const cp = cashier.page
      await lookUp(cp, m)
      await lookUp(other.page, m)
      await cp.getByTestId('coupon-count').waitFor()
      // The badge counts every usable coupon (the demo's welcome offer too).
      const usable = await json(await cp.request.get(`/api/v1/coupons?member_id=${m.id}&status=available`))
      assert.ok(usable.data.some((c) => c.code === code))
      assert.equal(await text(cp.getByTestId('coupon-count')), String(usable.data.length))
      await cp.getByTestId('action-coupon').click() // 1
      const opt = cp.locator(`[data-testid=coupon-option][data-code="${code}"]`)
      assert.match(await text(opt), new RegExp(`${name}\\s+NT\\$50 off\\s+on NT\\$200 or more`))
      await opt.click() // 2
      // The minimum spend needs the purchase amount; too little is refused by the server.
      assert.equal(await cp.getByTestId('coupon-confirm').isDisabled(), true)
      await cp.getByTestId('coupon-amount').fill('150')
      const low = await apiCall(cp, 'POST', `/api/v1/coupons/${code}/redeem`, () => cp.getByTestId('coupon-confirm').click())
      assert.equal(low.status, 409)
      assert.equal(low.body.error.message, 'order_total_minor: the minimum spend is 20000')
      await cp.getByTestId('error').waitFor()
      assert.equal(await text(cp.getByTestId('error').locator('.alert-title')), 'The purchase is too small for this coupon: at least NT$200.')
      assert.equal(await text(cp.getByTestId('error').locator('.alert-message')), low.body.error.message)
      await cp.getByTestId('coupon-amount').fill('250')
      assert.equal(await text(cp.getByTestId('coupon-confirm')), `Use ${name}`)
      const ok = await apiCall(cp, 'POST', `/api/v1/coupons/${code}/redeem`, () => cp.getByTestId('coupon-confirm').click()) // 3
      assert.equal(ok.status, 200, JSON.stringify(ok.body))
      assert.deepEqual(JSON.parse(ok.request.postData()), { member_id: m.id, order_total_minor: 25000, branch_id: me.staff.branch_ids[0] })
      assert.equal(ok.body.discount_minor, 5000)
      await cp.getByTestId('pos-result').waitFor()
      assert.equal(await text(cp.getByTestId('pos-result-title')), `Coupon used: ${name}`)
      assert.equal(await text(cp.getByTestId('pos-result-detail')), 'Take NT$50 off the bill')
      assert.equal(await cp.locator(`[data-testid=coupon-option][data-code="${code}"]`).count(), 0, 'no longer offered')
      await screenshot(cp, 'en-counter-coupon-used')

      // The other till still shows it: its redeem is refused, in words and with the server's message.
      const op = other.page
      await op.getByTestId('action-coupon').click()
      await op.locator(`[data-testid=coupon-option][data-code="${code}"]`).click()
      await op.getByTestId('coupon-amount').fill('300')
      const twice = await apiCall(op, 'POST', `/api/v1/coupons/${code}/redeem`, () => op.getByTestId('coupon-confirm').click())
      assert.equal(twice.status, 409)
      assert.match(twice.body.error.message, /^coupon already redeemed at \d{4}-\d\d-\d\dT/)
      await op.getByTestId('error').waitFor()
      assert.match(await text(op.getByTestId('error').locator('.alert-title')), /^This coupon was already used \(.+\)\.$/)
      assert.equal(await text(op.getByTestId('error').locator('.alert-message')), twice.body.error.message)
      await op.waitForFunction((c) => !document.querySelector(`[data-testid=coupon-option][data-code="${c}"]`), code)
      assert.equal(await op.getByTestId('coupon-confirm').isDisabled(), true, 'the list is refreshed and the choice cleared')
      await screenshot(op, 'en-counter-coupon-refused')
      assert.deepEqual(other.errors, [])
    } finally {
      await other.context.close()
    }

    // The member page shows it used.
    await page.reload()
    await page.locator(`[data-testid=coupon-row][data-code="${code}"]`).waitFor()
    assert.equal(await text(page.locator(`[data-testid=coupon-row][data-code="${code}"]`).getByTestId('coupon-status')), 'Used')
    // The timeline tells it in words.
    const usedEntry = page.locator('[data-testid=timeline-entry][data-type=coupon_redeemed]').first()
    await usedEntry.waitFor()
    assert.equal(await text(usedEntry.locator('.timeline-type')), 'Coupon used')
    const branchName = (await json(await page.request.get('/api/v1/branches'))).data.find((b) => b.id === me.staff.branch_ids[0]).name
    assert.equal(await text(usedEntry.getByTestId('timeline-summary')), `${name}: NT$50 off · at ${branchName}`)
    const issuedEntry = page.locator('[data-testid=timeline-entry][data-type=coupon_issued]').first()
    assert.equal(await text(issuedEntry.getByTestId('timeline-summary')), `${name} (code ${code}) · given by staff`)

    // In bulk: every member with marketing consent gets one.
    await page.goto('/settings/coupons')
    await page.locator(`[data-testid=template-row][data-id="${r.body.id}"]`).getByTestId('bulk').click()
    await page.getByTestId('bulk-submit').click()
    await page.getByRole('alertdialog').waitFor()
    const b = await apiCall(page, 'POST', '/api/v1/coupons', () => page.getByTestId('confirm').click())
    assert.equal(b.status, 201, JSON.stringify(b.body))
    assert.deepEqual(JSON.parse(b.request.postData()), { template_id: r.body.id, audience: 'consented' })
    assert.ok(b.body.issued > 0, 'the demo has members with consent')
    await page.getByTestId('bulk-done').waitFor()
    assert.equal(await text(page.getByTestId('bulk-done')), `${b.body.issued.toLocaleString('en-US')} members got “${name}”.`)
    const batch = await json(await page.request.get(`/api/v1/coupons?batch_id=${b.body.batch_id}&limit=1`))
    assert.equal(batch.data[0].template_id, r.body.id)
  })

  test('referrals: the program is saved; the member page shows the code and the friends brought, pending then rewarded', async () => {
    const { page } = owner
    await page.goto('/settings/referrals')
    await page.getByTestId('referral-editor').waitFor()
    // The demo shop runs a referral program already; this test replaces it.
    assert.equal(await text(page.getByTestId('referral-state')), 'Active')
    await page.getByTestId('referrer-points').click()
    await page.locator('#rf-referrer-points').fill('50')
    await page.getByTestId('newcomer-coupon').click()
    await page.locator('#rf-newcomer-tpl').selectOption(shared.template.id)
    await page.locator('#rf-min').fill('100')
    await page.locator('#rf-limit').fill('0')
    const bad = await apiCall(page, 'POST', '/api/v1/referral-program', () => page.getByTestId('save-referral').click())
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.field, 'limit_per_referrer')
    await page.locator('.field.invalid[data-field=limit_per_referrer]').waitFor()
    await page.locator('#rf-limit').fill('3')
    const r = await apiCall(page, 'POST', '/api/v1/referral-program', () => page.getByTestId('save-referral').click())
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.deepEqual(JSON.parse(r.request.postData()), {
      active: true,
      referrer_reward: { point_type: 'points', points: 50 },
      newcomer_reward: { coupon_template_id: shared.template.id },
      min_spend_minor: 10000,
      limit_per_referrer: 3,
    })
    await page.getByTestId('saved').waitFor()
    assert.equal(await text(page.getByTestId('summary-referrer')), 'The member who refers gets: 50 點數')
    assert.equal(await text(page.getByTestId('summary-newcomer')), `The new friend gets: coupon “${shared.template.name}” (NT$50 off)`)
    assert.equal(await text(page.getByTestId('summary-when')), 'After the friend’s first purchase of NT$100 or more')
    assert.equal(await text(page.getByTestId('summary-limit')), 'At most 3 rewarded referrals per member')
    await screenshot(page, 'en-settings-referrals-saved')

    // A friend registers at the counter with the member's code (asked now that referrals are on).
    const a = shared.member
    const friendName = `E2E 朋友 ${uid()}`
    await page.goto('/counter/register')
    await page.locator('#c-friend').waitFor()
    await page.locator('#c-phone').fill(randomPhone())
    await page.locator('#c-name').fill(friendName)
    await page.locator('#c-friend').fill(a.referral_code.toLowerCase())
    const [created, ref] = await Promise.all([
      page.waitForResponse((x) => x.request().method() === 'POST' && new URL(x.url()).pathname === '/api/v1/members'),
      page.waitForResponse((x) => x.request().method() === 'POST' && new URL(x.url()).pathname === '/api/v1/referrals'),
      page.getByTestId('counter-submit').click(),
    ])
    assert.equal(created.status(), 201, await created.text())
    const b = await created.json()
    assert.equal(ref.status(), 201, await ref.text())
    assert.deepEqual(JSON.parse(ref.request().postData()), { member_id: b.id, referral_code: a.referral_code.toLowerCase() })
    await page.getByTestId('referral-recorded').waitFor()
    assert.equal(await text(page.getByTestId('referral-recorded')), `Referral recorded (code ${a.referral_code}): the rewards come with the first purchase.`)
    await screenshot(page, 'en-register-referral')
    // An unknown code: the member is registered all the same, and the refusal is explained.
    await page.getByTestId('register-another').click()
    await page.locator('#c-phone').fill(randomPhone())
    await page.locator('#c-friend').fill('NOSUCHCODE')
    const [, badRef] = await Promise.all([
      page.waitForResponse((x) => x.request().method() === 'POST' && new URL(x.url()).pathname === '/api/v1/members'),
      page.waitForResponse((x) => x.request().method() === 'POST' && new URL(x.url()).pathname === '/api/v1/referrals'),
      page.getByTestId('counter-submit').click(),
    ])
    assert.equal(badRef.status(), 400)
    const badBody = await badRef.json()
    assert.equal(badBody.error.field, 'referral_code')
    await page.getByTestId('counter-success').waitFor()
    assert.equal(await text(page.getByTestId('error').locator('.alert-title')), 'The member is registered, but the referral code was not accepted')
    assert.equal(await text(page.getByTestId('error').locator('.alert-message')), badBody.error.message)
    await page.goto(`/members/${a.id}`)
    await page.getByTestId('referral-row').waitFor()
    assert.equal(await text(page.getByTestId('referral-code')), a.referral_code)
    await page.waitForFunction((n) => document.querySelector('[data-testid=referral-row] a')?.textContent?.trim() === n, friendName)
    assert.match(await text(page.getByTestId('referral-row')), /^Brought\s+E2E 朋友 \w+\s[\s\S]*Waiting for a purchase$/)
    // The friend's first purchase of NT$100 rewards both.
    await order(page, b.id, 10000)
    await page.reload()
    await page.getByTestId('referral-row').waitFor()
    assert.equal(await text(page.getByTestId('referral-row').locator('.badge')), 'Rewarded')
    await screenshot(page, 'en-member-program')
    // The friend's page names who brought them, and lists the newcomer's coupon.
    await page.goto(`/members/${b.id}`)
    await page.getByTestId('referral-row').waitFor()
    assert.match(await text(page.getByTestId('referral-row')), /^Brought by/)
    await page.getByTestId('coupon-row').first().waitFor()
    assert.match(await text(page.getByTestId('coupon-row').first()), new RegExp(shared.template.name))
  })

  test('reports: liability and points activity as tables and charts; the CSV downloads have the right header', async () => {
    const { page } = owner
    const firstActivity = page.waitForResponse((x) => new URL(x.url()).pathname === '/api/v1/reports/points-activity')
    await page.getByTestId('nav-reports').click()
    await page.waitForURL('**/reports')
    await page.getByTestId('liability-row').first().waitFor()
    const liab = await json(await page.request.get('/api/v1/reports/liability'))
    assert.equal(await page.getByTestId('liability-row').count(), liab.data.length)
    // Stamps are listed but not added to the points.
    const stampCodes = new Set((await json(await page.request.get('/api/v1/stamp-cards'))).data.map((c) => c.point_type))
    assert.ok(liab.data.some((x) => stampCodes.has(x.point_type)), 'the stamps given above are owed too')
    const stampRow = page.locator(`[data-testid=liability-row][data-type="${shared.card.point_type}"]`).first()
    assert.match(await text(stampRow), /^Stamps: E2E 咖啡卡/)
    const pts = liab.data.filter((x) => x.kind === 'points' && !stampCodes.has(x.point_type))
    const sum = (rows, f) => rows.reduce((s, x) => s + f(x), 0)
    assert.equal(num(await text(page.getByTestId('total-points').locator('.balance-value'))), sum(pts, (x) => x.outstanding))
    const money = (minor) => `NT$${(minor / 100).toLocaleString('en-US', minor % 100 ? { minimumFractionDigits: 2, maximumFractionDigits: 2 } : {})}`
    assert.equal(await text(page.getByTestId('total-points-value')), `worth about ${money(sum(pts, (x) => x.value_minor))}`)
    const paid = sum(liab.data.filter((x) => x.kind === 'wallet' && x.point_type === 'paid'), (x) => x.outstanding)
    assert.equal(await text(page.getByTestId('total-paid').locator('.balance-value')), money(paid))
    const first = liab.data[0]
    const firstRow = page.getByTestId('liability-row').first()
    assert.equal(await text(firstRow.getByTestId('liability-value')), money(first.value_minor))
    assert.equal(await page.getByTestId('liability').locator('[data-testid=chart] canvas').count(), 1, 'a chart is drawn')

    // Points activity: the last 30 days (to the end of today) by default; the totals add up the rows.
    const actRes = await firstActivity
    const asked = new URL(actRes.url()).searchParams
    assert.equal(Date.parse(asked.get('to')) - Date.parse(asked.get('from')), 30 * 86400_000)
    assert.ok(Date.parse(asked.get('to')) > Date.now() && Date.parse(asked.get('to')) <= Date.now() + 86400_000, 'to the end of today')
    const act = await actRes.json()
    await page.getByTestId('activity-row').first().waitFor()
    assert.equal(await page.getByTestId('activity-row').count(), act.data.length)
    const actPoints = act.data.filter((x) => !stampCodes.has(x.point_type))
    assert.equal(num(await text(page.getByTestId('activity-total-earned').locator('.balance-value'))), sum(actPoints, (x) => x.earned))
    assert.equal(num(await text(page.getByTestId('activity-total-redeemed').locator('.balance-value'))), sum(actPoints, (x) => x.redeemed))
    assert.equal(await page.getByTestId('activity').locator('[data-testid=chart] canvas').count(), 1)
    // One branch only.
    const branches = await json(await page.request.get('/api/v1/branches'))
    await page.locator('#rp-branch').selectOption(branches.data[0].id)
    const one = await apiCall(page, 'GET', '/api/v1/reports/points-activity', () => page.getByTestId('activity-show').click())
    assert.equal(new URL(one.request.url()).searchParams.get('branch_id'), branches.data[0].id)
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=activity-row]').length === n, one.body.data.length)
    assert.ok(one.body.data.every((x) => x.branch_id === branches.data[0].id))
    await screenshot(page, 'en-reports-branch')

    // CSV downloads.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('csv-liability').click()])
    assert.equal(dl.suggestedFilename(), 'liability.csv')
    const csv = await fs.readFile(await dl.path(), 'utf8')
    const lines = csv.split('\r\n').filter(Boolean)
    assert.equal(lines[0], 'kind,point_type,branch_id,members,outstanding,value_minor')
    assert.equal(lines.length, liab.data.length + 1)
    assert.equal(lines[1], [first.kind, first.point_type, first.branch_id ?? '', first.members, first.outstanding, first.value_minor].join(','))
    const [dl2] = await Promise.all([page.waitForEvent('download'), page.getByTestId('csv-activity').click()])
    assert.equal(dl2.suggestedFilename(), 'points-activity.csv')
    const csv2 = (await fs.readFile(await dl2.path(), 'utf8')).split('\r\n').filter(Boolean)
    assert.equal(csv2[0], 'day,branch_id,point_type,earned,redeemed,expired,reversed')
    assert.equal(csv2.length, one.body.data.length + 1, 'the CSV has the rows shown (one branch)')
  })

  test('reports: the days are the shop’s days (Asia/Taipei), also on a computer in another time zone', async () => {
    const context = await env.browser.newContext({ baseURL: env.baseURL, viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'America/New_York' })
    try {
      const page = await context.newPage()
      await context.addInitScript(() => localStorage.setItem('regulars.locale', 'en'))
      await login(page, OWNER)
      const res = page.waitForResponse((x) => new URL(x.url()).pathname === '/api/v1/reports/points-activity')
      await page.goto('/reports')
      const asked = new URL((await res).url()).searchParams
      // Tomorrow 00:00 in Taipei (UTC+8, no daylight saving) is 16:00 UTC today, Taipei's today.
      const taipei = new Date(Date.now() + 8 * 3600_000)
      const to = Date.UTC(taipei.getUTCFullYear(), taipei.getUTCMonth(), taipei.getUTCDate() + 1) - 8 * 3600_000
      assert.equal(asked.get('to'), new Date(to).toISOString())
      assert.equal(asked.get('from'), new Date(to - 30 * 86400_000).toISOString())
      const day = (ms) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10)
      assert.equal(await page.locator('#rp-to').inputValue(), day(to - 1))
      assert.equal(await page.locator('#rp-from').inputValue(), day(to - 30 * 86400_000))
    } finally {
      await context.close()
    }
  })

  test('a cashier has no reports or program settings', async () => {
    const { page } = cashier
    await page.goto('/counter')
    await page.getByTestId('lookup-input').waitFor()
    assert.equal(await page.getByTestId('nav-reports').count(), 0)
    for (const p of ['/reports', '/settings/tiers', '/settings/stamp-cards', '/settings/coupons', '/settings/referrals']) {
      await page.goto(p)
      await page.waitForURL('**/counter')
    }
  })
})

// ---------- every new page in every language ----------

const TEXT = {
  'zh-TW': { tiers: '會員等級', stamps: '集點卡', coupons: '優惠券', referrals: '推薦好友', reports: '報表', stamp: '蓋章', coupon: '優惠券', liability: '對會員的負債' },
  'zh-CN': { tiers: '会员等级', stamps: '集点卡', coupons: '优惠券', referrals: '推荐好友', reports: '报表', stamp: '盖章', coupon: '优惠券', liability: '对会员的负债' },
  en: { tiers: 'Member tiers', stamps: 'Stamp cards', coupons: 'Coupons', referrals: 'Referrals', reports: 'Reports', stamp: 'Stamp', coupon: 'Coupon', liability: 'What you owe members' },
}
const h1 = (page) => page.locator('main h1').first()

describe('the new pages in every language', () => {
  let member
  before(async () => {
    // A member with a tier, a stamp on a card and a coupon, for the counter and member pages.
    const { page, context } = await newPage(env, { lang: 'en' })
    try {
      await login(page, OWNER)
      let cards = (await json(await page.request.get('/api/v1/stamp-cards'))).data.filter((c) => c.active)
      if (!cards.length) {
        const pt = await json(await post(page, '/api/v1/point-types', { code: `stamps_${uid()}`, name: '飲料集點', expiry: { kind: 'never', n: 0 } }))
        cards = [await json(await post(page, '/api/v1/stamp-cards', { name: '飲料集點卡', point_type: pt.code, stamps_needed: 10, reward_name: '免費飲料' }))]
      }
      let tpl = (await json(await page.request.get('/api/v1/coupon-templates'))).data.find((x) => x.active)
      if (!tpl) tpl = await json(await post(page, '/api/v1/coupon-templates', { name: '折 NT$50', kind: 'amount_off', amount_off_minor: 5000, valid_days: 30 }))
      member = await newMember(page, '林小美')
      await order(page, member.id, 350000)
      for (let i = 0; i < 7; i++) assert.equal((await post(page, `/api/v1/members/${member.id}/stamps`, { card_id: cards[0].id })).status(), 201)
      assert.equal((await post(page, '/api/v1/coupons', { template_id: tpl.id, member_id: member.id })).status(), 201)
    } finally {
      await context.close()
    }
  })

  for (const lang of Object.keys(TEXT)) {
    const tx = TEXT[lang]
    test(`tiers, stamp cards, coupons, referrals, reports, the counter and the member page in ${lang}`, async () => {
      const { page, context, errors } = await newPage(env, { lang })
      try {
        await login(page, OWNER)
        await page.goto('/settings/point-types')
        for (const [name, key, row] of [
          ['settings-tiers', 'tiers', 'tier-row'],
          ['settings-stamp-cards', 'stamps', 'card-row'],
          ['settings-coupons', 'coupons', 'template-row'],
        ]) {
          await page.getByTestId(`subnav-${name}`).click()
          await page.getByTestId(row).first().waitFor()
          assert.equal(await text(h1(page)), tx[key])
          assert.equal(await text(page.getByTestId(`subnav-${name}`)), tx[key])
          await screenshot(page, `${lang}-${name}`)
        }
        // The editors, open.
        await page.getByTestId('new-template').click()
        await screenshot(page, `${lang}-settings-coupons-editor`)
        await page.getByTestId('subnav-settings-stamp-cards').click()
        await page.getByTestId('new-card').click()
        await screenshot(page, `${lang}-settings-stamp-cards-editor`)
        await page.getByTestId('subnav-settings-tiers').click()
        await page.getByTestId('tier-row').first().getByTestId('edit').click()
        await screenshot(page, `${lang}-settings-tiers-editor`)
        await page.getByTestId('subnav-settings-referrals').click()
        await page.getByTestId('referral-editor').waitFor()
        assert.equal(await text(h1(page)), tx.referrals)
        await screenshot(page, `${lang}-settings-referrals`)

        await page.getByTestId('nav-reports').click()
        await page.waitForURL('**/reports')
        await page.getByTestId('liability-row').first().waitFor()
        await page.getByTestId('activity-row').first().waitFor()
        assert.equal(await text(h1(page)), tx.reports)
        assert.equal(await text(page.getByTestId('nav-reports')), tx.reports)
        assert.equal(await text(page.getByTestId('liability').locator('h2')), tx.liability)
        await page.waitForTimeout(600) // the charts' entry animation
        await page.screenshot({ path: `${SCREENSHOT_DIR}/${lang}-reports.png`, fullPage: true })

        // The counter: tier, stamps and coupons on the card; the stamp and coupon panels on a tablet.
        await lookUp(page, member)
        await page.getByTestId('pos-tier').waitFor()
        await page.getByTestId('pos-stamps').first().waitFor()
        await page.getByTestId('coupon-count').waitFor()
        assert.equal((await text(page.getByTestId('action-stamp'))).split('\n').pop(), tx.stamp)
        assert.equal((await text(page.getByTestId('action-coupon'))).split('\n').filter((x) => !/^\d+$/.test(x)).pop(), tx.coupon)
        await screenshot(page, `${lang}-counter-program`)
        await page.setViewportSize(TABLET)
        await page.getByTestId('action-stamp').click()
        await page.getByTestId('card-option').first().click()
        await screenshot(page, `${lang}-counter-stamp`)
        for (const id of ['action-earn', 'action-redeem', 'action-topup', 'action-stamp', 'action-coupon', 'stamp-confirm']) {
          const box = await page.getByTestId(id).boundingBox()
          assert.ok(box.height >= 56, `${id} is a big touch target (${box.height}px)`)
          assert.ok(box.x >= 0 && box.x + box.width <= TABLET.width, `${id} fits the width`)
          assert.ok(box.y + box.height <= TABLET.height, `${id} is visible without scrolling`)
        }
        await page.getByTestId('action-coupon').click()
        await page.getByTestId('coupon-option').first().click()
        await screenshot(page, `${lang}-counter-coupon`)
        const cbox = await page.getByTestId('coupon-confirm').boundingBox()
        assert.ok(cbox.height >= 56 && cbox.y + cbox.height <= TABLET.height, 'the coupon confirm is big and visible')
        assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scrolling')
        await page.setViewportSize({ width: 1280, height: 800 })

        // The member page's program cards.
        await page.goto(`/members/${member.id}`)
        await page.getByTestId('tier-name').waitFor()
        await page.getByTestId('coupon-row').first().waitFor()
        await page.getByTestId('member-program').scrollIntoViewIfNeeded()
        await screenshot(page, `${lang}-member-program`)
        // The timeline's program events (tier, stamps, coupon) are named in the language.
        await page.locator('[data-testid=timeline-entry][data-type=coupon_issued]').first().waitFor()
        const types = await page.locator('.timeline-type').allInnerTexts()
        assert.ok(types.length >= 4, types.join('|'))
        assert.deepEqual(types.filter((x) => /^[a-z]+(_[a-z]+)+$/.test(x)), [], 'no raw event type')
        await page.getByTestId('timeline').scrollIntoViewIfNeeded()
        await screenshot(page, `${lang}-member-timeline`)
        assert.deepEqual(errors, [])
      } finally {
        await context.close()
      }
    })
  }
})
