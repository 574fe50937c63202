// Loyalty in the console against a real `regulars serve --demo`: the settings pages (point
// types, earning rules, rewards, top-up bonuses), the counter (lookup → earn / redeem / top up),
// and the member page (balances, ledger, lots, wallet, adjustments). Then a screenshot of each
// of these pages in every language, plus the counter on a tablet.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { apiCall, CASHIER, login, newPage, OWNER, screenshot, startAll, TABLET, uid } from './harness.mjs'

let env
before(async () => {
  env = await startAll()
})
after(async () => {
  await env?.stop()
})

const json = (r) => r.json()
const digits = (s) => String(s).replace(/\D/g, '')
/** "NT$1,100" → 110000 (minor units), the way the console writes TWD. */
const ntd = (text) => {
  const m = /NT\$([\d,]+(?:\.\d+)?)/.exec(text)
  assert.ok(m, `money in ${JSON.stringify(text)}`)
  return Math.round(Number(m[1].replace(/,/g, '')) * 100)
}
const num = (text) => Number(String(text).replace(/[^\d-]/g, ''))

/** Balance of "points" and wallet total, straight from the API. */
async function state(page, id) {
  const b = await json(await page.request.get(`/api/v1/members/${id}/balances`))
  const w = await json(await page.request.get(`/api/v1/members/${id}/wallet?limit=1`))
  return { points: b.points.find((p) => p.point_type === 'points').balance, wallet: w.balance.total_minor }
}

/** A named demo member whose points balance is within [lo, hi]. */
async function memberWithPoints(page, lo, hi, skip = []) {
  let cursor = null
  for (let i = 0; i < 10; i++) {
    const list = await json(await page.request.get(`/api/v1/members?limit=100${cursor ? `&cursor=${cursor}` : ''}`))
    for (const m of list.data) {
      if (!m.name || !m.phone || m.erased || skip.includes(m.id)) continue
      const b = await json(await page.request.get(`/api/v1/members/${m.id}/balances`))
      const p = b.points.find((x) => x.point_type === 'points')?.balance ?? 0
      if (p >= lo && p <= hi) return { ...m, points: p }
    }
    cursor = list.next_cursor
    if (!cursor) break
  }
  throw new Error(`no demo member with ${lo}..${hi} points`)
}

async function lookUp(page, m) {
  await page.goto('/counter')
  await page.getByTestId('lookup-input').fill(m.phone_display)
  const r = await apiCall(page, 'POST', '/api/v1/members/lookup', () => page.getByTestId('lookup-submit').click())
  assert.equal(r.status, 200, JSON.stringify(r.body))
  assert.equal(r.body.id, m.id)
  await page.getByTestId('member-card').waitFor()
  await page.waitForFunction(() => !document.querySelector('[data-testid=pos-points]')?.textContent?.includes('…'))
  await page.waitForFunction(() => !document.querySelector('[data-testid=pos-wallet]')?.textContent?.includes('…'))
}

describe('loyalty settings (owner)', () => {
  let owner
  before(async () => {
    owner = await newPage(env, { lang: 'en' })
    await login(owner.page, OWNER)
  })
  after(async () => {
    assert.deepEqual(owner.errors, [])
    await owner?.context.close()
  })

  test('point types: the demo type is listed, a new one is created and retired, a taken code is refused', async () => {
    const { page } = owner
    await page.getByTestId('nav-settings').click()
    await page.waitForURL('**/settings/point-types')
    const row = page.locator('[data-testid=point-type-row][data-code=points]')
    await row.waitFor()
    assert.match(await row.innerText(), /點數/)
    assert.equal(await row.getByTestId('expiry').innerText(), 'End of the year, 1 years later')

    // The code "points" is taken: the server's error names the field.
    await page.getByTestId('new-point-type').click()
    await page.locator('#pt-code').fill('points')
    await page.locator('#pt-name').fill('Dup')
    const dup = await apiCall(page, 'POST', '/api/v1/point-types', () => page.getByTestId('save-point-type').click())
    assert.equal(dup.status, 409)
    assert.equal(dup.body.error.field, 'code')
    await page.locator('.field.invalid[data-field=code]').waitFor()
    assert.match(await page.getByTestId('error').innerText(), /Already exists/)

    const code = `e2e_${uid()}`
    await page.locator('#pt-code').fill(code)
    await page.locator('#pt-name').fill('E2E 集點')
    await page.locator('#pt-expiry').selectOption('days')
    await page.locator('#pt-n').fill('90')
    await page.locator('#pt-value').fill('50')
    await page.locator('#pt-shortfall').selectOption('debt')
    const r = await apiCall(page, 'POST', '/api/v1/point-types', () => page.getByTestId('save-point-type').click())
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.deepEqual(JSON.parse(r.request.postData()), {
      code,
      name: 'E2E 集點',
      expiry: { kind: 'days', n: 90 },
      value_minor_per_1000: 5000,
      refund_shortfall: 'debt',
      active: true,
    })
    const created = page.locator(`[data-testid=point-type-row][data-code=${code}]`)
    await created.waitFor()
    assert.equal(await created.getByTestId('expiry').innerText(), '90 days after earning')

    await created.getByTestId('edit').click()
    assert.equal(await page.locator('#pt-code').isDisabled(), true, 'a code cannot be changed')
    await page.getByTestId('point-type-editor').locator('input[name=active]').uncheck()
    const p = await apiCall(page, 'PATCH', `/api/v1/point-types/${r.body.id}`, () => page.getByTestId('save-point-type').click())
    assert.equal(p.status, 200)
    assert.deepEqual(JSON.parse(p.request.postData()), { active: false })
    await page.waitForFunction((c) => document.querySelector(`[data-testid=point-type-row][data-code=${c}] [data-testid=status]`)?.textContent?.trim() === 'Inactive', code)
  })

  test('earning rules: the form builds the definition JSON, the rule earns, then it is switched off', async () => {
    const { page } = owner
    await page.getByTestId('subnav-settings-rules').click()
    await page.waitForURL('**/settings/rules')
    await page.getByTestId('rule-row').nth(2).waitFor()
    const listed = await json(await page.request.get('/api/v1/earning-rules'))
    assert.equal(await page.getByTestId('rule-row').count(), listed.data.length)
    const base = page.getByTestId('rule-row').filter({ hasText: '每 NT$30 累積 1 點' })
    assert.equal(await base.getByTestId('rule-what').innerText(), '1 per NT$30')
    const bday = page.getByTestId('rule-row').filter({ hasText: '生日月點數雙倍' })
    assert.match(await bday.innerText(), /×2/)
    assert.match(await bday.innerText(), /birthday month/)

    // A per-amount rule without its amount: the server names the definition field.
    await page.getByTestId('new-rule').click()
    await page.locator('#r-name').fill('E2E broken')
    await page.locator('#r-per').fill('')
    const bad = await apiCall(page, 'POST', '/api/v1/earning-rules', () => page.getByTestId('save-rule').click())
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.field, 'definition.per_amount_minor')
    await page.locator('.field.invalid[data-field="definition.per_amount_minor"]').waitFor()

    // A visit bonus: 5 points per purchase of NT$50 or more, every day of the week, at most 5 a day.
    const name = `E2E 來店禮 ${uid()}`
    await page.locator('#r-name').fill(name)
    await page.getByTestId('kind-per_visit').click()
    await page.locator('#r-points').fill('5')
    for (const d of [0, 1, 2, 3, 4, 5, 6]) await page.getByTestId(`weekday-${d}`).click()
    await page.locator('#r-min').fill('50')
    await page.locator('#r-cpd').fill('5')
    await page.locator('#r-cats').fill('tea, 茶飲')
    await page.locator('#r-cats').fill('')
    const expected = { kind: 'per_visit', points: 5, weekdays: [0, 1, 2, 3, 4, 5, 6], min_spend_minor: 5000, cap_per_day: 5 }
    await page.locator('.json-preview summary').click()
    assert.deepEqual(JSON.parse(await page.getByTestId('definition-json').innerText()), expected)
    const r = await apiCall(page, 'POST', '/api/v1/earning-rules', () => page.getByTestId('save-rule').click())
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.deepEqual(JSON.parse(r.request.postData()), { name, point_type: 'points', definition: expected, active: true })
    const row = page.locator(`[data-testid=rule-row][data-id="${r.body.id}"]`)
    await row.waitFor()
    assert.equal(await row.getByTestId('rule-what').innerText(), '5 per visit')
    const conds = await row.getByTestId('rule-condition').allInnerTexts()
    assert.ok(conds.includes('spend ≥ NT$50'), conds.join('|'))
    assert.ok(conds.includes('≤ 5 per day'), conds.join('|'))

    // It earns: NT$60 qualifies, NT$40 does not.
    const calc = async (total_minor) => {
      const res = await page.request.post('/api/v1/loyalty/calculate', {
        data: { total_minor },
        headers: { 'X-CSRF-Token': (await json(await page.request.get('/api/v1/auth/me'))).csrf_token },
      })
      return json(res)
    }
    assert.ok((await calc(6000)).lines.some((l) => l.rule_id === r.body.id && l.points === 5))
    assert.ok(!(await calc(4000)).lines.some((l) => l.rule_id === r.body.id))

    // Switched off: only `active` is sent, and it no longer earns.
    await row.getByTestId('edit').click()
    assert.equal(await page.locator('#r-points').inputValue(), '5')
    assert.equal(await page.locator('#r-min').inputValue(), '50')
    await page.getByTestId('rule-editor').locator('input[name=active]').uncheck()
    const p = await apiCall(page, 'PATCH', `/api/v1/earning-rules/${r.body.id}`, () => page.getByTestId('save-rule').click())
    assert.equal(p.status, 200, JSON.stringify(p.body))
    assert.deepEqual(JSON.parse(p.request.postData()), { active: false })
    await page.waitForFunction((id) => document.querySelector(`[data-testid=rule-row][data-id="${id}"] [data-testid=status]`)?.textContent?.trim() === 'Inactive', r.body.id)
    assert.ok(!(await calc(6000)).lines.some((l) => l.rule_id === r.body.id))
  })

  test('rewards: the demo rewards are listed, one is added and its stock lifted', async () => {
    const { page } = owner
    await page.getByTestId('subnav-settings-rewards').click()
    await page.waitForURL('**/settings/rewards')
    const tea = page.getByTestId('reward-row').filter({ hasText: '免費中杯紅茶' })
    await tea.waitFor()
    assert.equal(await tea.getByTestId('reward-points').innerText(), '30')
    assert.equal(await tea.getByTestId('reward-stock').innerText(), 'Unlimited')
    const coupon = page.getByTestId('reward-row').filter({ hasText: 'NT$100 折價券' })
    assert.equal(await coupon.getByTestId('reward-points').innerText(), '100')
    assert.equal(await coupon.getByTestId('reward-stock').innerText(), '500')

    await page.getByTestId('new-reward').click()
    const name = `E2E 小餅乾 ${uid()}`
    await page.locator('#w-name').fill(name)
    await page.locator('#w-points').fill('abc')
    await page.getByTestId('save-reward').click()
    await page.getByTestId('local-error').waitFor()
    await page.locator('#w-points').fill('1000000')
    await page.locator('#w-stock').fill('3')
    const r = await apiCall(page, 'POST', '/api/v1/rewards', () => page.getByTestId('save-reward').click())
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.deepEqual(JSON.parse(r.request.postData()), { name, point_type: 'points', active: true, points: 1000000, stock: 3 })
    const row = page.locator(`[data-testid=reward-row][data-id="${r.body.id}"]`)
    await row.waitFor()
    assert.equal(await row.getByTestId('reward-stock').innerText(), '3')

    await row.getByTestId('edit').click()
    await page.locator('#w-stock').fill('')
    const p = await apiCall(page, 'PATCH', `/api/v1/rewards/${r.body.id}`, () => page.getByTestId('save-reward').click())
    assert.equal(p.status, 200, JSON.stringify(p.body))
    assert.deepEqual(JSON.parse(p.request.postData()), { stock: null })
    assert.equal(p.body.stock, null)
    await page.waitForFunction((id) => document.querySelector(`[data-testid=reward-row][data-id="${id}"] [data-testid=reward-stock]`)?.textContent?.trim() === 'Unlimited', r.body.id)
  })

  test('top-up bonuses: pay NT$1,000, get NT$100, repeating', async () => {
    const { page } = owner
    await page.getByTestId('subnav-settings-wallet').click()
    await page.waitForURL('**/settings/wallet')
    await page.getByTestId('new-scheme').click()
    // A bonus of nothing is refused by the server.
    await page.locator('#ws-name').fill('E2E broken')
    await page.locator('#ws-pay').fill('1000')
    const bad = await apiCall(page, 'POST', '/api/v1/wallet/bonus-schemes', () => page.getByTestId('save-scheme').click())
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.field, 'bonus_minor')
    await page.locator('.field.invalid[data-field=bonus_minor]').waitFor()

    await page.locator('#ws-name').fill('儲值 1000 送 100')
    await page.locator('#ws-bonus').fill('100')
    await page.getByTestId('scheme-editor').locator('input[name=repeats]').check()
    const r = await apiCall(page, 'POST', '/api/v1/wallet/bonus-schemes', () => page.getByTestId('save-scheme').click())
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.deepEqual(JSON.parse(r.request.postData()), { name: '儲值 1000 送 100', repeats: true, active: true, pay_minor: 100000, bonus_minor: 10000 })
    const row = page.locator(`[data-testid=scheme-row][data-id="${r.body.id}"]`)
    await row.waitFor()
    assert.match(await row.getByTestId('scheme-offer').innerText(), /Top up NT\$1,000, get NT\$100/)
  })

  test('a cashier sees no settings and is sent back from them', async () => {
    const { page, context, errors } = await newPage(env, { lang: 'en' })
    try {
      await login(page, CASHIER)
      assert.equal(await page.getByTestId('nav-settings').count(), 0)
      await page.goto('/settings/rules')
      await page.waitForURL('**/counter')
      assert.deepEqual(errors, [])
    } finally {
      await context.close()
    }
  })
})

describe('the counter (cashier, English)', () => {
  let cashier
  let me
  let member
  before(async () => {
    cashier = await newPage(env, { lang: 'en' })
    me = await login(cashier.page, CASHIER)
    assert.ok(me.staff.branch_ids.length > 0, 'the demo cashier works at one branch')
    // The sales below (NT$450, 90, 30) earn 19 points, up to 38 under the demo's multipliers
    // (Wednesday in Taipei ×1.5, birthday month ×2); the redemption needs 30 to 99 points then.
    member = await memberWithPoints(cashier.page, 40, 61)
  })
  after(async () => {
    assert.deepEqual(cashier.errors, [])
    await cashier?.context.close()
  })

  test('lookup: the input has the focus; unknown and invalid phones are explained', async () => {
    const { page } = cashier
    await page.goto('/counter')
    await page.getByTestId('lookup-input').waitFor()
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'pos-lookup')
    assert.equal(await page.getByTestId('lookup-submit').isDisabled(), true)

    // Unknown (valid) phone: offer to register it.
    let unknown
    for (;;) {
      unknown = '09' + String(Math.floor(Math.random() * 1e8)).padStart(8, '0')
      const s = await json(await page.request.get(`/api/v1/members?q=${unknown}`))
      if (s.data.length === 0) break
    }
    await page.getByTestId('lookup-input').fill(unknown)
    const r = await apiCall(page, 'POST', '/api/v1/members/lookup', () => page.getByTestId('lookup-submit').click())
    assert.equal(r.status, 404)
    assert.deepEqual(JSON.parse(r.request.postData()), { phone: unknown })
    await page.getByTestId('not-found').waitFor()
    assert.match(await page.getByTestId('not-found').innerText(), /No member has this phone number\./)
    await page.getByTestId('register-phone').click()
    await page.waitForURL('**/counter/register?phone=*')
    assert.equal(await page.locator('#c-phone').inputValue(), unknown, 'registration starts with the phone typed')

    // Invalid phone: the server's message.
    await page.goto('/counter')
    await page.getByTestId('lookup-input').fill('123')
    const bad = await apiCall(page, 'POST', '/api/v1/members/lookup', () => page.getByTestId('lookup-submit').click())
    assert.equal(bad.status, 400)
    await page.getByTestId('error').waitFor()
    assert.ok((await page.getByTestId('error').innerText()).includes(bad.body.error.message))

    // A member code (letters) is looked up as a code.
    await page.getByTestId('lookup-input').fill(member.referral_code.toLowerCase())
    const byCode = await apiCall(page, 'POST', '/api/v1/members/lookup', () => page.getByTestId('lookup-submit').click())
    assert.deepEqual(JSON.parse(byCode.request.postData()), { code: member.referral_code.toLowerCase() })
    assert.equal(byCode.body.id, member.id)
    await page.getByTestId('member-card').waitFor()
  })

  test('the member card: name, masked phone, points and wallet', async () => {
    const { page } = cashier
    await lookUp(page, member)
    const s = await state(page, member.id)
    assert.equal(await page.getByTestId('pos-name').innerText(), member.name)
    const shown = await page.getByTestId('pos-phone').innerText()
    assert.ok(!digits(shown).includes(digits(member.phone_display).slice(4, 7)) || digits(shown).length < 10, `the phone is masked: ${shown}`)
    assert.equal(digits(shown), digits(member.phone_display).slice(0, 4) + digits(member.phone_display).slice(-3))
    assert.equal(num(await page.getByTestId('pos-points').innerText()), s.points)
    assert.equal(ntd(await page.getByTestId('pos-wallet').innerText()), s.wallet)
    assert.equal(new URL(page.url()).searchParams.get('member'), member.id)
    // A reload keeps the member (it is in the address).
    await page.reload()
    await page.getByTestId('member-card').waitFor()
    assert.equal(await page.getByTestId('pos-name').innerText(), member.name)
  })

  test('earn: amount in, live preview names the rule, one tap confirms; the balance goes up by the preview', async () => {
    const { page } = cashier
    await lookUp(page, member)
    const before = await state(page, member.id)
    assert.equal(await page.getByTestId('action-earn').getAttribute('aria-selected'), 'true', 'earn is ready after the lookup')
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'pos-amount')

    const calc = await apiCall(page, 'POST', '/api/v1/loyalty/calculate', () => page.getByTestId('earn-amount').fill('450'))
    assert.equal(calc.status, 200, JSON.stringify(calc.body))
    const sent = JSON.parse(calc.request.postData())
    assert.equal(sent.total_minor, 45000)
    assert.equal(sent.member_id, member.id)
    assert.equal(sent.branch_id, me.staff.branch_ids[0])
    const expected = calc.body.totals.points
    assert.ok(expected >= 15, 'NT$450 earns at least 15 points (1 per NT$30)')
    await page.getByTestId('earn-line').first().waitFor()
    assert.equal(await page.getByTestId('earn-preview-points').innerText(), `${expected} points`)
    const lines = await page.getByTestId('earn-line').allInnerTexts()
    assert.ok(lines.some((l) => l.includes('每 NT$30 累積 1 點') && l.includes('+15')), lines.join('|'))
    assert.equal(await page.getByTestId('earn-confirm').innerText(), 'Confirm purchase of NT$450')

    const r = await apiCall(page, 'POST', '/api/v1/orders', () => page.getByTestId('earn-confirm').click())
    assert.equal(r.status, 201, JSON.stringify(r.body))
    const body = JSON.parse(r.request.postData())
    assert.match(body.external_id, /^COUNTER-[0-9a-f-]{36}$/)
    assert.equal(body.member_id, member.id)
    assert.equal(body.total_minor, 45000)
    assert.equal(body.branch_id, me.staff.branch_ids[0])
    assert.ok(r.request.headers()['idempotency-key'])
    assert.equal(r.body.loyalty.points[0].points, expected)

    await page.getByTestId('pos-result').waitFor()
    assert.equal(await page.getByTestId('pos-result-title').innerText(), `+${expected} points for NT$450`)
    assert.equal(await page.getByTestId('pos-result-detail').innerText(), `Balance now: ${before.points + expected} points`)
    await page.waitForFunction((n) => document.querySelector('[data-testid=pos-points]')?.textContent?.replace(/\D/g, '') === String(n), before.points + expected)
    const after = await state(page, member.id)
    assert.equal(after.points, before.points + expected)
    assert.equal(await page.getByTestId('earn-amount').inputValue(), '', 'ready for the next sale')
    member.points = after.points
    member.lastOrder = body.external_id
  })

  test('earn: a retry after a lost answer reuses the key and the external id — the points come once', async () => {
    const { page } = cashier
    await lookUp(page, member)
    const before = await state(page, member.id)
    const seen = []
    let first = true
    let expected
    await page.route('**/api/v1/orders', async (route) => {
      seen.push({ key: route.request().headers()['idempotency-key'], body: JSON.parse(route.request().postData()) })
      if (first) {
        first = false
        // The server records the sale, but the answer never reaches the browser.
        await route.fetch()
        await route.abort('connectionreset')
      } else {
        await route.continue()
      }
    })
    try {
      const calc = await apiCall(page, 'POST', '/api/v1/loyalty/calculate', () => page.getByTestId('earn-amount').fill('90'))
      expected = calc.body.totals.points
      await page.getByTestId('earn-confirm').click()
      await page.getByTestId('earn-retry').waitFor()
      assert.match(await page.getByTestId('error').innerText(), /Cannot reach the server/)
      const r = await apiCall(page, 'POST', '/api/v1/orders', () => page.getByTestId('earn-retry').click())
      assert.equal(r.status, 201, JSON.stringify(r.body))
      assert.equal(seen.length, 2)
      assert.equal(seen[1].key, seen[0].key, 'the same Idempotency-Key')
      assert.deepEqual(seen[1].body, seen[0].body, 'the same order, external id included')
      await page.getByTestId('pos-result').waitFor()
    } finally {
      await page.unroute('**/api/v1/orders')
    }
    const after = await state(page, member.id)
    const earned = after.points - before.points
    assert.equal(earned, expected, 'NT$90 earns once, as previewed')
    const ledger = await json(await page.request.get(`/api/v1/members/${member.id}/ledger?limit=10`))
    const entries = ledger.data.filter((e) => e.reason === `order ${seen[0].body.external_id}`)
    assert.equal(entries.length, 1, 'one ledger entry for the sale')
    assert.equal(entries[0].amount, earned)
    // The next sale gets a new key.
    const r2 = await apiCall(page, 'POST', '/api/v1/loyalty/calculate', () => page.getByTestId('earn-amount').fill('30'))
    assert.equal(r2.status, 200)
    const r3 = await apiCall(page, 'POST', '/api/v1/orders', () => page.getByTestId('earn-confirm').click())
    assert.notEqual(r3.request.headers()['idempotency-key'], seen[0].key)
    assert.notEqual(JSON.parse(r3.request.postData()).external_id, seen[0].body.external_id)
    member.points = (await state(page, member.id)).points
  })

  test('redeem: three taps — Redeem, the reward, confirm; 30 points come off', async () => {
    const { page } = cashier
    await lookUp(page, member)
    const before = await state(page, member.id)
    assert.ok(before.points >= 30 && before.points < 100, `balance ${before.points}`)
    await page.getByTestId('action-redeem').click() // 1
    const tea = page.getByTestId('reward-option').filter({ hasText: '免費中杯紅茶' })
    const coupon = page.getByTestId('reward-option').filter({ hasText: 'NT$100 折價券' })
    await tea.waitFor()
    assert.equal(await tea.isDisabled(), false)
    assert.equal(await coupon.isDisabled(), true, 'not enough points for the NT$100 coupon')
    assert.match(await coupon.innerText(), new RegExp(`${100 - before.points} more points needed`))
    await tea.click() // 2
    assert.equal(await page.getByTestId('redeem-confirm').innerText(), 'Redeem 免費中杯紅茶 for 30 points')
    const r = await apiCall(page, 'POST', '/api/v1/redemptions', () => page.getByTestId('redeem-confirm').click()) // 3
    assert.equal(r.status, 201, JSON.stringify(r.body))
    const body = JSON.parse(r.request.postData())
    assert.deepEqual(body, { member_id: member.id, reward_id: await tea.getAttribute('data-id'), commit: true, branch_id: me.staff.branch_ids[0] })
    assert.equal(r.body.status, 'committed')
    assert.equal(r.body.balance_after, before.points - 30)
    await page.getByTestId('pos-result').waitFor()
    assert.equal(await page.getByTestId('pos-result-title').innerText(), 'Redeemed 免費中杯紅茶: −30 points')
    assert.equal(await page.getByTestId('pos-result-detail').innerText(), `Balance now: ${before.points - 30} points`)
    assert.equal(num(await page.getByTestId('pos-points').innerText()), before.points - 30)
    assert.equal((await state(page, member.id)).points, before.points - 30)
  })

  test('redeem: when the balance changed meanwhile, the server’s refusal is shown', async () => {
    const { page } = cashier
    const rich = await memberWithPoints(page, 30, 59, [member.id])
    await lookUp(page, rich)
    await page.getByTestId('action-redeem').click()
    await page.getByTestId('reward-option').filter({ hasText: '免費中杯紅茶' }).click()
    // Someone else spends the points first (another till).
    const csrf = (await json(await page.request.get('/api/v1/auth/me'))).csrf_token
    const other = await page.request.post('/api/v1/redemptions', {
      data: { member_id: rich.id, point_type: 'points', points: rich.points - 10, commit: true },
      headers: { 'X-CSRF-Token': csrf, 'Idempotency-Key': `e2e-${uid()}${uid()}` },
    })
    assert.equal(other.status(), 201, await other.text())
    const r = await apiCall(page, 'POST', '/api/v1/redemptions', () => page.getByTestId('redeem-confirm').click())
    assert.equal(r.status, 409)
    assert.equal(r.body.error.code, 'failed_precondition')
    await page.getByTestId('error').waitFor()
    const text = await page.getByTestId('error').innerText()
    assert.match(text, /Not possible right now/)
    assert.ok(text.includes(r.body.error.message))
    assert.equal(await page.getByTestId('redeem-retry').count(), 0, 'no retry for a refusal')
  })

  test('top up: three taps — Top up, NT$1,000, confirm; the bonus is previewed and credited', async () => {
    const { page } = cashier
    await lookUp(page, member)
    const before = await state(page, member.id)
    await page.getByTestId('action-topup').click() // 1
    const chip = page.locator('[data-testid=topup-chip][data-amount="100000"]')
    await chip.click() // 2
    assert.equal(await page.getByTestId('topup-bonus').innerText(), '+NT$100')
    assert.equal(ntd(await page.getByTestId('topup-after').innerText()), before.wallet + 110000)
    assert.equal(await page.getByTestId('topup-confirm').innerText(), 'Top up NT$1,000')
    const r = await apiCall(page, 'POST', `/api/v1/members/${member.id}/wallet/top-ups`, () => page.getByTestId('topup-confirm').click()) // 3
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.deepEqual(JSON.parse(r.request.postData()), { amount_minor: 100000, branch_id: me.staff.branch_ids[0] })
    assert.equal(r.body.entry.bonus_minor, 10000)
    assert.equal(r.body.balance.total_minor, before.wallet + 110000)
    await page.getByTestId('pos-result').waitFor()
    assert.equal(await page.getByTestId('pos-result-title').innerText(), 'Topped up NT$1,000 + NT$100 bonus')
    assert.equal(ntd(await page.getByTestId('pos-result-detail').innerText()), before.wallet + 110000)
    assert.equal(ntd(await page.getByTestId('pos-wallet').innerText()), before.wallet + 110000)
    assert.equal((await state(page, member.id)).wallet, before.wallet + 110000)

    // A typed amount below the scheme has no bonus.
    await page.getByTestId('topup-amount').fill('250')
    assert.match(await page.getByTestId('topup-preview').innerText(), /No bonus for this amount\./)
    const r2 = await apiCall(page, 'POST', `/api/v1/members/${member.id}/wallet/top-ups`, () => page.getByTestId('topup-confirm').click())
    assert.equal(r2.body.entry.bonus_minor, 0)
    assert.equal((await state(page, member.id)).wallet, before.wallet + 135000)
  })

  test('next customer clears the card and focuses the lookup', async () => {
    const { page } = cashier
    await lookUp(page, member)
    await page.getByTestId('pos-next').click()
    await page.getByTestId('lookup-input').waitFor()
    assert.equal(await page.getByTestId('lookup-input').inputValue(), '')
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'pos-lookup')
    assert.equal(new URL(page.url()).search, '')
  })

  test('member page: balances, the ledger with the counter’s entries, lots, wallet entries', async () => {
    const { page } = cashier
    await lookUp(page, member)
    await page.getByTestId('pos-open-member').click()
    await page.waitForURL(`**/members/${member.id}`)
    const s = await state(page, member.id)
    const tile = page.locator('[data-testid=balance-tile][data-point-type=points]')
    await page.waitForFunction((n) => document.querySelector('[data-testid=balance-tile][data-point-type=points] [data-testid=balance-points]')?.textContent?.replace(/\D/g, '') === String(n), s.points)
    assert.ok(await tile.getByTestId('balance-expiring').isVisible())
    await page.waitForFunction(() => /NT\$/.test(document.querySelector('[data-testid=wallet-total]')?.textContent ?? ''))
    assert.equal(ntd(await page.getByTestId('wallet-total').innerText()), s.wallet)

    // Ledger, newest first: the redemption, then the sales made at the counter.
    await page.getByTestId('ledger-row').first().waitFor()
    const ledger = await json(await page.request.get(`/api/v1/members/${member.id}/ledger?limit=20`))
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=ledger-row]').length === n, ledger.data.length)
    assert.equal(num(await page.getByTestId('ledger-balance').first().innerText()), s.points)
    const reasons = await page.getByTestId('ledger-reason').allInnerTexts()
    assert.ok(reasons.includes(`order ${member.lastOrder}`), 'the counter sale is in the ledger')
    assert.ok(reasons.includes('reward: 免費中杯紅茶'), 'the redemption is in the ledger')
    const kinds = await page.getByTestId('ledger-row').evaluateAll((rows) => rows.map((r) => r.dataset.kind))
    assert.ok(kinds.includes('reserve') && kinds.includes('earn'))
    // Paged: "load more" asks for the next page with the cursor.
    if (ledger.next_cursor) {
      const more = await apiCall(page, 'GET', `/api/v1/members/${member.id}/ledger`, () => page.getByTestId('ledger-more').click())
      assert.equal(new URL(more.request.url()).searchParams.get('cursor'), ledger.next_cursor)
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=ledger-row]').length === n, ledger.data.length + more.body.data.length)
    } else {
      assert.equal(await page.getByTestId('ledger-more').count(), 0, 'no "load more" on the last page')
    }

    // Lots: what is left adds up to the balance.
    await page.getByTestId('tab-lots').click()
    await page.getByTestId('lot-row').first().waitFor()
    const remaining = (await page.getByTestId('lot-remaining').allInnerTexts()).reduce((a, b) => a + num(b), 0)
    assert.equal(remaining, s.points)

    // Wallet entries: the two top-ups, newest first.
    await page.getByTestId('tab-wallet').click()
    await page.getByTestId('wallet-row').first().waitFor()
    const amounts = await page.getByTestId('wallet-amount').allInnerTexts()
    assert.equal(amounts[0], '+NT$250')
    assert.equal(amounts[1], '+NT$1,100')
    assert.equal(ntd(await page.getByTestId('wallet-after').first().innerText()), s.wallet)

    // A cashier may not adjust.
    assert.equal(await page.getByTestId('adjust-form').count(), 0)
    // Back to the counter with this member.
    await page.getByTestId('serve-member').click()
    await page.waitForURL(`**/counter?member=${member.id}`)
    await page.getByTestId('member-card').waitFor()
  })

  test('member page: the ledger pages on with the cursor until the end', async () => {
    const { page } = cashier
    const heavy = await memberWithPoints(page, 250, 100000)
    const first = await json(await page.request.get(`/api/v1/members/${heavy.id}/ledger?limit=20`))
    assert.ok(first.next_cursor, 'a regular with many orders has more than one page')
    await page.goto(`/members/${heavy.id}`)
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=ledger-row]').length === 20)
    let shown = 20
    let cursor = first.next_cursor
    for (let i = 0; i < 30 && cursor; i++) {
      const more = await apiCall(page, 'GET', `/api/v1/members/${heavy.id}/ledger`, () => page.getByTestId('ledger-more').click())
      assert.equal(more.status, 200)
      assert.equal(new URL(more.request.url()).searchParams.get('cursor'), cursor)
      shown += more.body.data.length
      cursor = more.body.next_cursor
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=ledger-row]').length === n, shown)
    }
    assert.equal(cursor, null, 'reached the first entry')
    assert.equal(await page.getByTestId('ledger-more').count(), 0)
    // The oldest entry's balance is its own amount (the ledger starts at zero).
    const last = page.getByTestId('ledger-row').last()
    assert.equal(num(await last.getByTestId('ledger-balance').innerText()), num(await last.getByTestId('ledger-amount').innerText()))
    // Newest first, and the top balance of the points rows is the points balance (stamps share
    // the ledger, each row with the balance of its own point type).
    const topPoints = page.locator('[data-testid=ledger-row][data-point-type=points]').first()
    assert.equal(num(await topPoints.getByTestId('ledger-balance').innerText()), (await state(page, heavy.id)).points)
  })

  test('an owner adjusts points on the member page; the ledger shows it', async () => {
    const { page, context, errors } = await newPage(env, { lang: 'en' })
    try {
      await login(page, OWNER)
      await page.goto(`/members/${member.id}`)
      await page.getByTestId('ledger-row').first().waitFor()
      const before = (await state(page, member.id)).points
      await page.locator('#adj-points').fill('+7')
      // A reason is required by the server.
      const bad = await apiCall(page, 'POST', `/api/v1/members/${member.id}/adjustments`, () => page.getByTestId('adjust-submit').click())
      assert.equal(bad.status, 400)
      assert.equal(bad.body.error.field, 'reason')
      await page.getByTestId('adjust-form').locator('.field.invalid[data-field=reason]').waitFor()
      const extra = 0
      await page.locator('#adj-reason').fill('E2E 補點')
      const r = await apiCall(page, 'POST', `/api/v1/members/${member.id}/adjustments`, () => page.getByTestId('adjust-submit').click())
      assert.equal(r.status, 201, JSON.stringify(r.body))
      assert.deepEqual(JSON.parse(r.request.postData()), { point_type: 'points', points: 7, reason: 'E2E 補點' })
      await page.getByTestId('adjusted').waitFor()
      await page.waitForFunction(() => document.querySelector('[data-testid=ledger-row] [data-testid=ledger-reason]')?.textContent === 'E2E 補點')
      const top = page.getByTestId('ledger-row').first()
      assert.equal(await top.getAttribute('data-kind'), 'adjust')
      assert.equal(await top.getByTestId('ledger-amount').innerText(), '+7')
      assert.equal(num(await top.getByTestId('ledger-balance').innerText()), before + extra + 7)
      await page.waitForFunction((n) => document.querySelector('[data-testid=balance-points]')?.textContent?.replace(/\D/g, '') === String(n), before + extra + 7)
      assert.deepEqual(errors, [])
    } finally {
      await context.close()
    }
  })
})

// ---------- every page in every language ----------

const TEXT = {
  'zh-TW': { counter: '櫃檯', earn: '累點', redeem: '兌換', topup: '儲值', pointTypes: '點數類型', rules: '累點規則', rewards: '兌換品項', wallet: '儲值贈送', ledger: '點數明細', pts: '點', order: '訂單 ' },
  'zh-CN': { counter: '柜台', earn: '积分', redeem: '兑换', topup: '充值', pointTypes: '积分类型', rules: '积分规则', rewards: '兑换项目', wallet: '充值赠送', ledger: '积分明细', pts: '积分', order: '订单 ' },
  en: { counter: 'Counter', earn: 'Earn', redeem: 'Redeem', topup: 'Top up', pointTypes: 'Point types', rules: 'Earning rules', rewards: 'Rewards', wallet: 'Top-up bonuses', ledger: 'Points ledger', pts: 'points', order: 'order ' },
}
const h1 = (page) => page.locator('main h1').first()

for (const lang of Object.keys(TEXT)) {
  const tx = TEXT[lang]
  describe(`loyalty pages in ${lang}`, () => {
    test(`settings, counter and member loyalty in ${lang}`, async () => {
      const { page, context, errors } = await newPage(env, { lang })
      try {
        await login(page, OWNER)
        // Settings.
        await page.getByTestId('nav-settings').click()
        await page.waitForURL('**/settings/point-types')
        await page.getByTestId('point-type-row').first().waitFor()
        assert.equal(await h1(page).innerText(), tx.pointTypes)
        await page.getByTestId('new-point-type').click()
        await screenshot(page, `${lang}-settings-point-types`)

        await page.getByTestId('subnav-settings-rules').click()
        await page.getByTestId('rule-row').first().waitFor()
        assert.equal(await h1(page).innerText(), tx.rules)
        await page.getByTestId('rule-row').filter({ hasText: '週三會員日' }).getByTestId('edit').click()
        await page.locator('.json-preview summary').click()
        assert.deepEqual(JSON.parse(await page.getByTestId('definition-json').innerText()), { kind: 'multiplier', factor: 1.5, stacking: 'best_of', weekdays: [3] })
        await screenshot(page, `${lang}-settings-rules`)

        await page.getByTestId('subnav-settings-rewards').click()
        await page.getByTestId('reward-row').first().waitFor()
        assert.equal(await h1(page).innerText(), tx.rewards)
        await screenshot(page, `${lang}-settings-rewards`)

        await page.getByTestId('subnav-settings-wallet').click()
        await page.getByTestId('scheme-row').first().waitFor()
        assert.equal(await h1(page).innerText(), tx.wallet)
        await screenshot(page, `${lang}-settings-wallet`)

        // The counter: lookup, then a member with a purchase being previewed.
        const m = await memberWithPoints(page, 40, 400)
        await page.getByTestId('nav-counter').click()
        await page.waitForURL('**/counter')
        assert.equal(await h1(page).innerText(), tx.counter)
        await page.getByTestId('lookup-input').fill('0900 000 000')
        await screenshot(page, `${lang}-counter-lookup`)
        await lookUp(page, m)
        for (const a of ['earn', 'redeem', 'topup']) assert.equal((await page.getByTestId(`action-${a}`).innerText()).trim().split('\n').pop(), tx[a])
        await apiCall(page, 'POST', '/api/v1/loyalty/calculate', () => page.getByTestId('earn-amount').fill('450'))
        await page.getByTestId('earn-line').first().waitFor()
        assert.ok((await page.getByTestId('earn-preview-points').innerText()).includes(tx.pts))
        await screenshot(page, `${lang}-counter`)

        // On a tablet: everything fits, the touch targets are big, and confirming needs no scrolling.
        await page.setViewportSize(TABLET)
        await screenshot(page, `${lang}-counter-tablet`)
        for (const id of ['action-earn', 'action-redeem', 'action-topup', 'earn-confirm']) {
          const box = await page.getByTestId(id).boundingBox()
          assert.ok(box.height >= 56, `${id} is a big touch target (${box.height}px)`)
          assert.ok(box.x >= 0 && box.x + box.width <= TABLET.width, `${id} fits the width`)
          assert.ok(box.y + box.height <= TABLET.height, `${id} is visible without scrolling`)
        }
        assert.ok((await page.getByTestId('earn-amount').boundingBox()).height >= 56)
        assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scrolling')
        await page.getByTestId('action-redeem').click()
        await page.getByTestId('reward-option').first().click()
        await screenshot(page, `${lang}-counter-redeem`)
        await page.getByTestId('action-topup').click()
        await page.locator('[data-testid=topup-chip][data-amount="100000"]').click()
        await page.getByTestId('topup-bonus').waitFor()
        await screenshot(page, `${lang}-counter-topup`)
        await page.setViewportSize({ width: 1280, height: 800 })

        // Member page: balances, ledger, lots.
        await page.getByTestId('pos-open-member').click()
        await page.waitForURL(`**/members/${m.id}`)
        await page.getByTestId('ledger-row').first().waitFor()
        assert.equal(await page.getByTestId('tab-ledger').innerText(), tx.ledger)
        // The server's English reasons are written in the console's language.
        const reasons = await page.getByTestId('ledger-reason').allInnerTexts()
        assert.ok(reasons.some((r) => r.startsWith(tx.order)), reasons.join('|'))
        await page.getByTestId('loyalty').scrollIntoViewIfNeeded()
        await screenshot(page, `${lang}-member-loyalty`)
        await page.getByTestId('tab-lots').click()
        await page.getByTestId('lot-row').first().waitFor()
        await screenshot(page, `${lang}-member-lots`)
        assert.deepEqual(errors, [])
      } finally {
        await context.close()
      }
    })
  })
}
