// Insight in the console against a real `regulars serve --demo` (3,000 members, a year of
// orders): the segment builder (two rows, the live count equal to the server's answer for the
// same definition, a server error shown on the row it names, save), the segment's members,
// the insight dashboard with its downloads and "Refresh predictions", the member page's insight
// card; then the new pages in zh-TW, zh-CN and en with screenshots; a cashier sees none of it.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import { isDeepStrictEqual } from 'node:util'
import { apiCall, CASHIER, login, newPage, OWNER, screenshot, SCREENSHOT_DIR, startAll, uid } from './harness.mjs'

let env
before(async () => {
  env = await startAll()
})
after(async () => {
  await env?.stop()
})

const json = (r) => r.json()
const text = async (loc) => (await loc.innerText()).trim()
const en = new Intl.NumberFormat('en')
/** The console's English money: minor units of TWD as "NT$1,234" / "NT$12.50". */
const money = (minor) => `${minor < 0 ? '−' : ''}NT$${new Intl.NumberFormat('en', { minimumFractionDigits: Math.abs(minor) % 100 ? 2 : 0, maximumFractionDigits: 2 }).format(Math.abs(minor) / 100)}`

/** A POST through the logged-in page's session (CSRF header and a fresh Idempotency-Key). */
async function post(page, path, data) {
  const csrf = (await json(await page.request.get('/api/v1/auth/me'))).csrf_token
  return page.request.post(path, { data, headers: { 'X-CSRF-Token': csrf, 'Idempotency-Key': `e2e-${uid()}${uid()}${uid()}` } })
}

const isPreview = (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/segments/preview'

/** Runs `action` and waits for the builder's preview request carrying exactly `definition`. */
async function previewOf(page, definition, action) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => isPreview(r) && isDeepStrictEqual(JSON.parse(r.request().postData()).definition, definition), { timeout: 20_000 }),
    action(),
  ])
  return { status: res.status(), body: await res.json() }
}

/** Waits until the builder shows `n` as the count, no longer counting. */
async function countShown(page, n) {
  await page.locator(`[data-testid=segment-count][data-count="${n}"][data-busy="0"]`).waitFor()
}

/** The member card's sentence in English for a features answer (the console's rule). */
function sentenceEn(f) {
  if (!f.orders) return 'Has not bought anything yet.'
  const days = f.days_since_last_order ?? 0
  const months = Math.round(days / 30.44)
  const ago = days >= 60 ? `${months} ${months === 1 ? 'month' : 'months'}` : `${days} ${days === 1 ? 'day' : 'days'}`
  const fixed = {
    champions: 'Comes often and recently — one of your best.',
    loyal: 'A loyal regular who keeps coming back.',
    potential_loyalist: 'Came recently, more than once — could become a regular.',
    new_customers: 'A new customer: the first purchase was recent.',
    promising: 'Came recently, but not often yet.',
    need_attention: 'A good customer whose visits are slowing down.',
  }
  const g = f.rfm?.group
  if (fixed[g]) return fixed[g]
  if (g === 'about_to_sleep') return `Has not been back for ${ago} — about to drift away.`
  if (g === 'cant_lose') return `One of your biggest spenders, gone quiet for ${ago} — worth reaching out.`
  if (f.p_alive !== null) return `Has not been back for ${ago}; ${Math.round(f.p_alive * 100)}% chance still a customer.`
  return `Has not been back for ${ago}.`
}

/** Runs `action` (the builder's Save) and waits for POST /api/v1/segments itself (not the preview). */
async function saveCall(page, action) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/segments'),
    action(),
  ])
  return { status: res.status(), body: await res.json(), request: res.request() }
}

const row = (page, i) => page.getByTestId('seg-row').nth(i)

describe('insight (owner, English)', () => {
  let owner
  const shared = {}
  before(async () => {
    owner = await newPage(env, { lang: 'en' })
    await login(owner.page, OWNER)
  })
  after(async () => {
    assert.deepEqual(owner.errors, [])
    await owner?.context.close()
  })

  test('segment builder: two rows, the live count is the server’s count for the same definition, an error on its row, saved', async () => {
    const { page } = owner
    await page.getByTestId('nav-insight').click()
    await page.waitForURL('**/insight')
    await page.getByTestId('subnav-segments').click()
    await page.waitForURL('**/segments')
    const catalogue = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/insight/catalogue')
    await page.getByTestId('new-segment').click()
    await page.waitForURL('**/segments/new')
    assert.equal((await catalogue).status(), 200)
    await row(page, 0).waitFor()
    // The first row starts as "Spent — more than — NT$ … — in the last … days", nothing asked yet.
    assert.equal(await row(page, 0).getByTestId('row-feature').inputValue(), 'spend_minor')
    assert.equal(await row(page, 0).getByTestId('row-op').inputValue(), '>')
    assert.equal(await text(page.getByTestId('segment-count')), '—')

    // Row 1: spent more than NT$1,000 in the last 365 days.
    const one = { and: [{ feature: 'spend_minor', op: '>', value: 100000, window_days: 365 }] }
    await row(page, 0).getByTestId('row-window').fill('365')
    const p1 = await previewOf(page, one, () => row(page, 0).getByTestId('row-value').fill('1,000'))
    assert.equal(p1.status, 200, JSON.stringify(p1.body))
    const direct1 = await json(await post(page, '/api/v1/segments/preview', { definition: one }))
    assert.equal(p1.body.count, direct1.count)
    assert.ok(p1.body.count > 0, 'the demo has members who spent more than NT$1,000 last year')
    await countShown(page, p1.body.count)
    assert.equal(await text(page.getByTestId('segment-count')), `${en.format(p1.body.count)} members`)
    // The sample: the server's first members, with their spend.
    assert.deepEqual(await page.getByTestId('sample-member').evaluateAll((els) => els.map((e) => e.dataset.id)), p1.body.sample.map((m) => m.id))
    assert.ok(p1.body.sample.length > 0 && p1.body.sample.length <= 10)
    for (const m of p1.body.sample) assert.ok(m.spend_minor > 100000, `sample member ${m.id} spent ${m.spend_minor}`)

    // Row 2: bought in the category "latte" in the last 30 days: fewer members.
    await page.getByTestId('group-add-row').click()
    await row(page, 1).getByTestId('row-feature').selectOption('category')
    assert.equal(await row(page, 1).getByTestId('row-op').inputValue(), 'in')
    assert.equal(await text(row(page, 1).getByTestId('row-error')), 'Choose at least one.', 'no value chosen yet: said on the row, nothing asked')
    const options = await row(page, 1).getByTestId('row-pick').locator('option').evaluateAll((els) => els.map((e) => e.value))
    assert.ok(options.includes('latte'), `the catalogue offers the demo's categories: ${options.join(',')}`)
    await row(page, 1).getByTestId('row-window').fill('30')
    const two = { and: [one.and[0], { feature: 'category', op: 'in', values: ['latte'], window_days: 30 }] }
    const p2 = await previewOf(page, two, () => row(page, 1).getByTestId('row-pick').selectOption('latte'))
    assert.equal(p2.status, 200, JSON.stringify(p2.body))
    const direct2 = await json(await post(page, '/api/v1/segments/preview', { definition: two }))
    assert.equal(p2.body.count, direct2.count)
    assert.ok(p2.body.count > 0 && p2.body.count < p1.body.count, `${p2.body.count} of ${p1.body.count} also bought a latte in the last 30 days`)
    await countShown(page, p2.body.count)
    assert.equal(await text(page.getByTestId('segment-count')), `${en.format(p2.body.count)} members`)
    assert.equal((await text(row(page, 1).getByTestId('row-chip'))).split('\n')[0], 'latte')
    assert.equal(await row(page, 1).getByTestId('row-chip').getAttribute('data-value'), 'latte')

    // OR instead of AND: at least as many as the first row alone.
    const either = { or: two.and }
    const p3 = await previewOf(page, either, () => page.getByTestId('group-op').first().selectOption('or'))
    assert.ok(p3.body.count >= p1.body.count)
    await countShown(page, p3.body.count)
    assert.equal(await text(row(page, 1).locator('.seg-joiner')), 'or')
    await previewOf(page, two, () => page.getByTestId('group-op').first().selectOption('and'))
    await countShown(page, p2.body.count)

    // A birthday more than 366 days ahead is refused by the server, on the row it names.
    await row(page, 1).getByTestId('row-feature').selectOption('birthday')
    const bad = { and: [one.and[0], { feature: 'birthday', op: 'in_next_days', value: 400 }] }
    const pb = await previewOf(page, bad, () => row(page, 1).getByTestId('row-value').fill('400'))
    assert.equal(pb.status, 400, JSON.stringify(pb.body))
    assert.equal(pb.body.error.code, 'invalid_argument')
    assert.equal(pb.body.error.field, 'definition.and[1].value')
    await row(page, 1).getByTestId('row-error').waitFor()
    assert.equal(await text(row(page, 1).getByTestId('row-error')), pb.body.error.message)
    assert.equal(await row(page, 0).getByTestId('row-error').count(), 0, 'the first row is fine')
    assert.equal(await text(page.getByTestId('segment-count')), '—')
    await screenshot(page, 'en-segment-builder-error')

    // Back to the latte row; named and saved: the saved count is the preview's.
    await row(page, 1).getByTestId('row-feature').selectOption('category')
    await row(page, 1).getByTestId('row-window').fill('30')
    await previewOf(page, two, () => row(page, 1).getByTestId('row-pick').selectOption('latte'))
    await countShown(page, p2.body.count)
    await screenshot(page, 'en-segment-builder')
    const name = `E2E latte regulars ${uid()}`
    await page.getByTestId('segment-name').fill(name)
    const s = await saveCall(page, () => page.getByTestId('segment-save').click())
    assert.equal(s.status, 201, JSON.stringify(s.body))
    assert.deepEqual(JSON.parse(s.request.postData()), { name, definition: two })
    assert.equal(s.body.name, name)
    assert.deepEqual(s.body.definition, two)
    assert.equal(s.body.count, p2.body.count)
    await page.waitForURL(`**/segments/${s.body.id}`)
    assert.equal(await text(page.getByTestId('segment-saved')), `Saved: ${en.format(p2.body.count)} members.`)
    assert.equal(await text(page.locator('main h1')), 'Edit segment')
    shared.segment = s.body

    // Opened again, the builder shows the same two rows.
    await page.reload()
    await row(page, 1).waitFor()
    assert.equal(await page.getByTestId('segment-name').inputValue(), name)
    assert.equal(await row(page, 0).getByTestId('row-value').inputValue(), '1000')
    assert.equal(await row(page, 0).getByTestId('row-window').inputValue(), '365')
    assert.equal(await row(page, 1).getByTestId('row-feature').inputValue(), 'category')
    assert.equal(await row(page, 1).getByTestId('row-chip').getAttribute('data-value'), 'latte')
    await countShown(page, p2.body.count)

    // In the list with its count.
    await page.getByTestId('back-segments').click()
    await page.waitForURL('**/segments')
    const listed = page.locator(`[data-testid=segment-row][data-id="${s.body.id}"]`)
    await listed.waitFor()
    assert.equal(await text(listed.getByTestId('segment-link')), name)
    assert.equal(await text(listed.getByTestId('segment-row-count')), en.format(p2.body.count))
  })

  test('segment members: the server’s pages, each member linking to the member page; CSV of all', async () => {
    const { page } = owner
    const seg = shared.segment
    assert.ok(seg, 'the segment of the previous test')
    await page.locator(`[data-testid=segment-row][data-id="${seg.id}"]`).getByTestId('segment-members').click()
    await page.waitForURL(`**/segments/${seg.id}/members`)
    await page.getByTestId('segment-member').first().waitFor()
    const api = await json(await page.request.get(`/api/v1/segments/${seg.id}/members?limit=50`))
    assert.equal(api.data.length, Math.min(50, seg.count))
    assert.deepEqual(await page.getByTestId('segment-member').evaluateAll((els) => els.map((e) => e.dataset.id)), api.data.map((m) => m.id))
    assert.equal(await text(page.getByTestId('segment-members-title')), `Members of “${seg.name}”`)
    assert.equal(await text(page.getByTestId('segment-members-total')), `${en.format(seg.count)} members in this segment`)
    const first = page.getByTestId('segment-member').first()
    assert.equal(await text(first.getByTestId('member-spend')), money(api.data[0].spend_minor))
    assert.equal(await text(first.getByTestId('member-orders')), en.format(api.data[0].orders))
    for (const m of api.data) assert.ok(m.spend_minor > 100000, `member ${m.id} spent ${m.spend_minor}`)
    if (api.next_cursor) {
      const more = await apiCall(page, 'GET', `/api/v1/segments/${seg.id}/members`, () => page.getByTestId('load-more').click())
      assert.equal(more.status, 200)
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=segment-member]').length === n, 50 + more.body.data.length)
    }
    await screenshot(page, 'en-segment-members')

    // The CSV has every member of the segment.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('segment-csv').click()])
    assert.equal(dl.suggestedFilename(), `segment-${seg.id}.csv`)
    const lines = (await fs.readFile(await dl.path(), 'utf8')).replace(/^\ufeff/, '').split('\r\n').filter(Boolean)
    assert.equal(lines[0], 'id,name,phone,tier,spend_minor,orders,last_order_at,rfm_group')
    assert.equal(lines.length, seg.count + 1)
    assert.equal(lines[1].split(',')[0], api.data[0].id)

    // A member of the segment: the member page with its insight card, the API's numbers.
    const id = api.data[0].id
    await first.locator('a').click()
    await page.waitForURL(`**/members/${id}`)
    await page.getByTestId('member-insight').waitFor()
    const f = await json(await page.request.get(`/api/v1/members/${id}/features`))
    assert.ok(f.orders > 0)
    assert.equal(await page.getByTestId('insight-group').getAttribute('data-group'), f.rfm.group ?? '')
    shared.member = { id, features: f }
    const p = await text(page.getByTestId('insight-p-alive').locator('.balance-value'))
    assert.equal(p, f.p_alive === null ? '—' : `${en.format(Math.round(f.p_alive * 1000) / 10)}%`)
    const v = await text(page.getByTestId('insight-expected-value').locator('.balance-value'))
    assert.equal(v, f.expected_value_minor === null ? '—' : money(f.expected_value_minor))
    assert.equal(await text(page.getByTestId('insight-sentence')), sentenceEn(f))
    await page.getByTestId('member-insight').scrollIntoViewIfNeeded()
    await screenshot(page, 'en-member-insight')
  })

  test('insight dashboard: the reports’ numbers, CSV and Excel downloads, refresh predictions', async () => {
    const { page } = owner
    const asked = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/reports/overview')
    await page.goto('/insight')
    const res = await asked
    assert.equal(res.status(), 200)
    const overview = await res.json()
    const query = new URL(res.url()).search
    await page.getByTestId('overview-members_total').waitFor()
    // The tiles are the server's overview row.
    assert.equal(await text(page.getByTestId('overview-members_total').locator('.balance-value')), en.format(overview.data[0].members_total))
    assert.ok(overview.data[0].members_total >= 3000, 'the demo has 3,000 members (and the tests add some)')
    assert.equal(await text(page.getByTestId('overview-revenue_minor').locator('.balance-value')), money(overview.data[0].revenue_minor))
    assert.equal(await text(page.getByTestId('overview-orders').locator('.balance-value')), en.format(overview.data[0].orders))

    // Churn: the list is the server's first 20 rows, with the value at risk.
    const churn = await json(await page.request.get(`/api/v1/reports/churn${query}`))
    await page.getByTestId('churn-row').first().waitFor()
    const top = churn.data.slice(0, 20)
    assert.deepEqual(await page.getByTestId('churn-row').evaluateAll((els) => els.map((e) => e.dataset.id)), top.map((r) => r.member_id))
    assert.equal(await text(page.getByTestId('churn-risk').first()), money(top[0].value_at_risk_minor))
    assert.equal(await text(page.getByTestId('churn-total').locator('.balance-value')), money(top.reduce((s, r) => s + r.value_at_risk_minor, 0)))
    // Charts drawn: cohorts and RFM heat-maps, groups, tiers and branches.
    for (const c of ['chart-cohorts', 'chart-rfm', 'chart-rfm-groups', 'chart-tiers', 'chart-branches']) await page.getByTestId(c).locator('canvas').first().waitFor()

    // Downloads: CSV with the report's columns, Excel as a zip (xlsx).
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('csv-overview').click()])
    assert.equal(dl.suggestedFilename(), 'overview.csv')
    const csv = (await fs.readFile(await dl.path(), 'utf8')).split('\r\n').filter(Boolean)
    assert.equal(csv[0], overview.columns.map((c) => c.name).join(','))
    assert.equal(csv.length, 2)
    assert.equal(csv[1].split(',')[0], String(overview.data[0].members_total))
    const [x] = await Promise.all([page.waitForEvent('download'), page.getByTestId('xlsx-churn').click()])
    assert.equal(x.suggestedFilename(), 'churn.xlsx')
    const bytes = await fs.readFile(await x.path())
    assert.equal(bytes.subarray(0, 2).toString('latin1'), 'PK')

    // Refresh predictions: the fit runs, the churn list is asked again.
    const fit = await apiCall(page, 'POST', '/api/v1/insight/fit', () => page.getByTestId('refresh-predictions').click())
    assert.equal(fit.status, 200, JSON.stringify(fit.body))
    await page.getByTestId('fit-done').waitFor()
    assert.ok(fit.body.customers > 0, JSON.stringify(fit.body))
    assert.equal(await text(page.getByTestId('fit-done')), `Predictions refreshed for ${en.format(fit.body.customers)} members.`)
    await page.waitForTimeout(600) // the charts' entry animation
    await page.screenshot({ path: `${SCREENSHOT_DIR}/en-insight.png`, fullPage: true })
    const after = await json(await page.request.get(`/api/v1/reports/churn${query}`))
    assert.equal(after.facts.basis, 'model', 'after a fit the churn list uses the model')

    // The member card now has the model's numbers.
    const m = shared.member
    assert.ok(m, 'the member of the previous test')
    await page.goto(`/members/${m.id}`)
    await page.getByTestId('member-insight').waitFor()
    const f = await json(await page.request.get(`/api/v1/members/${m.id}/features`))
    assert.equal(typeof f.p_alive, 'number', JSON.stringify(f))
    assert.equal(f.model?.kind?.length > 0, true, JSON.stringify(f.model))
    assert.equal(await text(page.getByTestId('insight-p-alive').locator('.balance-value')), `${en.format(Math.round(f.p_alive * 1000) / 10)}%`)
    assert.equal(await text(page.getByTestId('insight-expected-value').locator('.balance-value')), money(f.expected_value_minor))
    assert.equal(await text(page.getByTestId('insight-sentence')), sentenceEn(f))
    await page.getByTestId('member-insight').scrollIntoViewIfNeeded()
    await screenshot(page, 'en-member-insight-model')
  })

  test('a cashier has no insight or segments', async () => {
    const { page, context } = await newPage(env, { lang: 'en' })
    try {
      await login(page, CASHIER)
      await page.getByTestId('lookup-input').waitFor()
      assert.equal(await page.getByTestId('nav-insight').count(), 0)
      for (const p of ['/insight', '/segments', '/segments/new']) {
        await page.goto(p)
        await page.waitForURL('**/counter')
      }
    } finally {
      await context.close()
    }
  })
})

// ---------- the new pages in every language ----------

const TEXT = {
  'zh-TW': { nav: '洞察', insight: '洞察', segments: '會員分群', builder: '新增分群', slipping: '快要流失的好顧客', count: (n) => `${n} 位會員`, card: '顧客洞察' },
  'zh-CN': { nav: '洞察', insight: '洞察', segments: '会员分群', builder: '新增分群', slipping: '快要流失的好顾客', count: (n) => `${n} 位会员`, card: '顾客洞察' },
  en: { nav: 'Insight', insight: 'Insight', segments: 'Segments', builder: 'New segment', slipping: 'Best customers slipping away', count: (n) => `${n} members`, card: 'Customer insight' },
}
const h1 = (page) => page.locator('main h1').first()

describe('the insight pages in every language', () => {
  for (const lang of Object.keys(TEXT)) {
    const tx = TEXT[lang]
    test(`segments, the builder from “best customers slipping away”, members, the dashboard and the member card in ${lang}`, async () => {
      const { page, context, errors } = await newPage(env, { lang })
      try {
        await login(page, OWNER)
        await page.getByTestId('nav-insight').click()
        await page.waitForURL('**/insight')
        assert.equal(await text(page.getByTestId('nav-insight')), tx.nav)
        assert.equal(await text(h1(page)), tx.insight)
        await page.getByTestId('overview-members_total').waitFor()
        await page.getByTestId('churn-row').first().waitFor()
        await page.waitForTimeout(600)
        await page.screenshot({ path: `${SCREENSHOT_DIR}/${lang}-insight.png`, fullPage: true })

        await page.getByTestId('subnav-segments').click()
        await page.waitForURL('**/segments')
        await page.getByTestId('idea-slipping').waitFor()
        assert.equal(await text(h1(page)), tx.segments)
        await screenshot(page, `${lang}-segments`)

        // The ready-made "best customers slipping away": spent more than NT$5,000 last year, away 60 days.
        const def = { and: [{ feature: 'spend_minor', op: '>', value: 500000, window_days: 365 }, { feature: 'days_since_last_order', op: '>=', value: 60 }] }
        const p = await previewOf(page, def, () => page.getByTestId('idea-slipping').locator('a').click())
        assert.equal(p.status, 200, JSON.stringify(p.body))
        assert.equal(p.body.count, (await json(await post(page, '/api/v1/segments/preview', { definition: def }))).count)
        await countShown(page, p.body.count)
        assert.equal(await text(h1(page)), tx.builder)
        assert.equal(await page.getByTestId('segment-name').inputValue(), tx.slipping)
        assert.equal(await text(page.getByTestId('segment-count')), tx.count(new Intl.NumberFormat(lang).format(p.body.count)))
        await screenshot(page, `${lang}-segment-builder`)

        // Few demo members spend NT$5,000 a year and then stay away: NT$1,000 instead, saved.
        const lower = { and: [{ ...def.and[0], value: 100000 }, def.and[1]] }
        const pl = await previewOf(page, lower, () => page.getByTestId('seg-row').first().getByTestId('row-value').fill('1000'))
        assert.ok(pl.body.count >= p.body.count && pl.body.count > 0, `${pl.body.count} members spent NT$1,000 and stayed away 60 days`)
        await countShown(page, pl.body.count)
        await page.getByTestId('segment-name').fill(`${tx.slipping} ${uid()}`)
        const s = await saveCall(page, () => page.getByTestId('segment-save').click())
        assert.equal(s.status, 201, JSON.stringify(s.body))
        assert.equal(s.body.count, pl.body.count)
        // Its members and a member's card.
        await page.getByTestId('open-members').click()
        await page.waitForURL(`**/segments/${s.body.id}/members`)
        await page.getByTestId('segment-member').first().waitFor()
        assert.equal(await page.getByTestId('segment-member').count(), Math.min(50, s.body.count))
        await screenshot(page, `${lang}-segment-members`)
        await page.getByTestId('segment-member').first().locator('a').click()
        await page.getByTestId('member-insight').waitFor()
        assert.equal(await text(page.getByTestId('member-insight').locator('h2')), tx.card)
        await page.getByTestId('member-insight').scrollIntoViewIfNeeded()
        await screenshot(page, `${lang}-member-insight`)
        assert.deepEqual(errors, [])
      } finally {
        await context.close()
      }
    })
  }
})
