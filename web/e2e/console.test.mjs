// Functional browser tests of the console against a real `regulars serve --demo`.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { apiCall, CASHIER, login, MERCHANT_NAME, newPage, OWNER, randomPhone, startAll, uid } from './harness.mjs'

let env
before(async () => {
  env = await startAll()
})
after(async () => {
  await env?.stop()
})

describe('console (English)', () => {
  /** The owner's page, shared by the tests below (they run in order). */
  let owner
  let ownerMe
  before(async () => {
    owner = await newPage(env, { lang: 'en' })
  })
  after(async () => {
    await owner?.context.close()
  })

  test('a wrong password shows the server’s error and stays on the login page', async () => {
    const { page, context, errors } = await newPage(env, { lang: 'en' })
    try {
      await page.goto('/members')
      await page.waitForURL(/\/login\?next=(%2F|\/)members$/)
      await page.locator('#login-email').fill(OWNER.email)
      await page.locator('#login-password').fill('not-the-password')
      const r = await apiCall(page, 'POST', '/api/v1/auth/login', () => page.getByTestId('login-submit').click())
      assert.equal(r.status, 401)
      assert.equal(r.body.error.code, 'unauthenticated')
      const banner = page.getByTestId('error')
      await banner.waitFor()
      assert.match(await banner.innerText(), /Login failed/)
      assert.ok((await banner.innerText()).includes(r.body.error.message), 'the server message is shown')
      assert.ok(new URL(page.url()).pathname === '/login')
      assert.equal(await page.locator('#login-password').inputValue(), '', 'the password is cleared')
      assert.deepEqual(errors, [])
    } finally {
      await context.close()
    }
  })

  test('the owner logs in and sees the shop, their name and every menu', async () => {
    const { page } = owner
    const body = await login(page, OWNER)
    ownerMe = body
    assert.equal(body.staff.role, 'owner')
    assert.ok(body.csrf_token, 'login answers a csrf token')
    assert.equal(new URL(page.url()).pathname, '/members')
    assert.equal(await page.getByTestId('merchant-name').innerText(), MERCHANT_NAME)
    assert.equal(await page.getByTestId('staff-name').innerText(), body.staff.name)
    for (const n of ['counter', 'members', 'branches', 'staff']) assert.ok(await page.getByTestId(`nav-${n}`).isVisible(), `nav ${n}`)
    assert.equal(await page.getByTestId('nav-branches').innerText(), 'Branches')
    // The session survives a reload (cookie + /auth/me).
    await page.reload()
    await page.getByTestId('staff-name').waitFor()
    assert.equal(await page.getByTestId('staff-name').innerText(), body.staff.name)
  })

  test('members: search by last digits and by name, then load more', async () => {
    const { page } = owner
    const sample = await (await page.request.get('/api/v1/members?limit=50')).json()
    const target = sample.data.find((m) => m.name && m.phone && !m.erased)
    assert.ok(target, 'the demo has named members')
    await page.goto('/members')
    await page.getByTestId('member-row').first().waitFor()

    // Last four digits of the phone.
    const last4 = target.phone.slice(-4)
    const search = page.getByTestId('member-search')
    const r1 = await apiCall(page, 'GET', '/api/v1/members', () => search.fill(last4))
    assert.equal(r1.status, 200)
    assert.equal(new URL(r1.request.url()).searchParams.get('q'), last4)
    assert.ok(r1.body.data.some((m) => m.id === target.id), 'the API finds the member by its last digits')
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=member-row]').length === n, r1.body.data.length)
    const phones = await page.getByTestId('member-row').locator('td:nth-child(2)').allInnerTexts()
    assert.ok(phones.includes(target.phone_display), `${target.phone_display} is listed`)
    assert.ok(phones.every((p) => p.replace(/\D/g, '').includes(last4)), 'every row matches the digits')
    assert.equal(new URL(page.url()).searchParams.get('q'), last4, 'the search is kept in the URL')

    // Name.
    const r2 = await apiCall(page, 'GET', '/api/v1/members', () => search.fill(target.name))
    assert.ok(r2.body.data.length > 0)
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=member-row]').length === n, r2.body.data.length)
    const names = await page.getByTestId('member-row').locator('td:first-child a').allInnerTexts()
    assert.ok(names.includes(target.name))

    // Nothing matches.
    const r3 = await apiCall(page, 'GET', '/api/v1/members', () => search.fill('zzzz-no-such-member-qq'))
    assert.equal(r3.body.data.length, 0)
    await page.getByTestId('members-empty').waitFor()
    assert.equal(await page.getByTestId('members-empty').innerText(), 'No members match your search.')

    // Clear the search, then page on with next_cursor.
    const r4 = await apiCall(page, 'GET', '/api/v1/members', () => search.fill(''))
    assert.ok(r4.body.next_cursor, 'the demo has more than one page of members')
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=member-row]').length === n, r4.body.data.length)
    const r5 = await apiCall(page, 'GET', '/api/v1/members', () => page.getByTestId('load-more').click())
    assert.equal(new URL(r5.request.url()).searchParams.get('cursor'), r4.body.next_cursor)
    const total = r4.body.data.length + r5.body.data.length
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=member-row]').length === n, total)
    assert.equal(await page.getByTestId('members-count').innerText(), `${total} shown`)
  })

  test('member detail: edit the profile, toggle consent, see the timeline', async () => {
    const { page } = owner
    const sample = await (await page.request.get('/api/v1/members?limit=20')).json()
    const target = sample.data.find((m) => m.name && !m.erased)
    await page.goto(`/members?q=${encodeURIComponent(target.phone_display.replace(/\s/g, ''))}`)
    const link = page.getByTestId('member-row').locator('a', { hasText: target.name }).first()
    await link.click()
    await page.waitForURL(`**/members/${target.id}`)
    assert.equal(await page.getByTestId('member-title').innerText(), target.name)
    await page.getByTestId('timeline-entry').first().waitFor()

    // Edit the profile.
    const newName = `${target.name} E2E${uid()}`
    await page.locator('#m-name').fill(newName)
    await page.locator('#m-city').fill('台北市')
    const r = await apiCall(page, 'PATCH', `/api/v1/members/${target.id}`, () => page.getByTestId('save-profile').click())
    assert.equal(r.status, 200)
    assert.ok(r.request.headers()['x-csrf-token'], 'PATCH carries the CSRF token')
    assert.deepEqual(JSON.parse(r.request.postData()), { name: newName, city: '台北市' }, 'only changed fields are sent')
    assert.equal(r.body.name, newName)
    await page.getByTestId('saved').waitFor()
    assert.equal(await page.getByTestId('saved').innerText(), 'Saved')
    assert.equal(await page.getByTestId('member-title').innerText(), newName)
    await page.waitForFunction(() => document.querySelector('[data-testid=timeline-entry]')?.getAttribute('data-type') === 'member_updated')
    assert.match(await page.getByTestId('timeline-entry').first().innerText(), /Profile updated\s+Changed: (Name, City|City, Name)/)

    // A bad value is reported on its field.
    await page.locator('#m-phone').fill('12')
    const bad = await apiCall(page, 'PATCH', `/api/v1/members/${target.id}`, () => page.getByTestId('save-profile').click())
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.field, 'phone')
    await page.locator('.field.invalid[data-field=phone]').waitFor()
    assert.equal(await page.locator('.field.invalid[data-field=phone] .field-error').innerText(), bad.body.error.message)

    // Reload: the edit was stored.
    await page.reload()
    await page.getByTestId('member-title').waitFor()
    assert.equal(await page.locator('#m-name').inputValue(), newName)
    assert.equal(await page.locator('#m-city').inputValue(), '台北市')
    const stored = await (await page.request.get(`/api/v1/members/${target.id}`)).json()
    assert.equal(stored.name, newName)

    // Toggle SMS consent.
    const row = page.getByTestId('consent-sms')
    const toggle = row.getByTestId('consent-toggle')
    const before = (await toggle.getAttribute('aria-checked')) === 'true'
    const c = await apiCall(page, 'PATCH', `/api/v1/members/${target.id}`, () => toggle.click())
    assert.equal(c.status, 200)
    assert.deepEqual(JSON.parse(c.request.postData()).consent, { sms: !before })
    assert.equal(c.body.consent.sms.granted, !before)
    await page.waitForFunction(
      ([sel, v]) => document.querySelector(sel)?.getAttribute('aria-checked') === v,
      ['[data-testid=consent-sms] [data-testid=consent-toggle]', String(!before)],
    )
    assert.equal(await row.getByTestId('consent-state').innerText(), !before ? 'Subscribed' : 'Not subscribed')
    assert.match(await row.getByTestId('consent-meta').innerText(), /^Changed /)
    // The timeline reloads with the change on top, summarised from the event data.
    const expected = `SMS: ${!before ? 'Subscribed' : 'Not subscribed'} · via the console`
    await page.waitForFunction(
      (text) => document.querySelector('[data-testid=timeline-entry]')?.querySelector('[data-testid=timeline-summary]')?.textContent?.trim() === text,
      expected,
    )
    const newest = page.getByTestId('timeline-entry').first()
    assert.equal(await newest.getAttribute('data-type'), 'consent_changed')
    assert.match(await newest.innerText(), /Consent changed/)
    const tl = await (await page.request.get(`/api/v1/members/${target.id}/timeline?limit=5`)).json()
    assert.equal(tl.data[0].type, 'consent_changed', 'the newest timeline entry is the consent change')
  })

  let created
  test('counter: register a member, then the same phone offers the existing member', async () => {
    const { page } = owner
    await page.getByTestId('nav-counter').click()
    await page.waitForURL('**/counter')
    // Registration sits one tap away from the counter's lookup.
    await page.getByTestId('to-register').click()
    await page.waitForURL('**/counter/register')
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'c-phone', 'the phone input has the focus')
    assert.equal(await page.getByTestId('counter-submit').isDisabled(), true, 'no submit without a phone')

    // An invalid phone is highlighted.
    await page.locator('#c-phone').fill('123')
    const bad = await apiCall(page, 'POST', '/api/v1/members', () => page.getByTestId('counter-submit').click())
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.field, 'phone')
    await page.locator('.field.invalid[data-field=phone]').waitFor()
    assert.ok((await page.getByTestId('counter-form').innerText()).includes(bad.body.error.message))

    const phone = randomPhone()
    await page.locator('#c-phone').fill(phone)
    await page.locator('#c-name').fill('E2E 測試會員')
    await page.locator('select[name=birthday-month]').selectOption('05')
    await page.locator('select[name=birthday-day]').selectOption('31')
    await page.locator('label.pick', { hasText: 'SMS' }).click()
    const r = await apiCall(page, 'POST', '/api/v1/members', () => page.getByTestId('counter-submit').click())
    assert.equal(r.status, 201, JSON.stringify(r.body))
    const headers = r.request.headers()
    assert.match(headers['idempotency-key'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    assert.ok(headers['x-csrf-token'])
    assert.notEqual(headers['idempotency-key'], bad.request.headers()['idempotency-key'], 'a new key per action')
    assert.deepEqual(JSON.parse(r.request.postData()), { phone, name: 'E2E 測試會員', birthday: '--05-31', consent: { sms: true }, consent_source: 'counter' })
    created = r.body
    assert.equal(created.name, 'E2E 測試會員')
    assert.equal(created.birthday, '--05-31')
    assert.equal(created.consent.sms?.granted, true)
    assert.equal(created.consent.sms?.source, 'counter')
    assert.equal(created.phone, '+886' + phone.slice(1))
    await page.getByTestId('counter-success').waitFor()
    assert.equal(await page.getByTestId('created-name').innerText(), 'E2E 測試會員')
    assert.equal((await page.getByTestId('created-phone').innerText()).replace(/\D/g, ''), phone)
    assert.match(await page.getByTestId('counter-success').innerText(), /Welcome! The member is registered\./)

    // Same phone again.
    await page.getByTestId('register-another').click()
    assert.equal(await page.locator('#c-phone').inputValue(), '')
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'c-phone')
    await page.locator('#c-phone').fill(phone)
    const dup = await apiCall(page, 'POST', '/api/v1/members', () => page.getByTestId('counter-submit').click())
    assert.equal(dup.status, 409)
    assert.equal(dup.body.error.code, 'already_exists')
    assert.equal(dup.body.error.details.member_id, created.id)
    const alert = page.getByTestId('duplicate')
    await alert.waitFor()
    assert.match(await alert.innerText(), /This phone number is already registered\./)
    const link = page.getByTestId('open-existing')
    assert.equal(await link.getAttribute('href'), `/members/${created.id}`)
    await link.click()
    await page.waitForURL(`**/members/${created.id}`)
    assert.equal(await page.getByTestId('member-title').innerText(), 'E2E 測試會員')
    await page.locator('[data-testid=timeline-entry][data-type=member_created]').waitFor()
  })

  test('erase a member after confirming', async () => {
    const { page } = owner
    assert.ok(created, 'needs the member registered above')
    await page.goto(`/members/${created.id}`)
    await page.getByTestId('erase').click()
    const dialog = page.getByRole('alertdialog')
    await dialog.waitFor()
    assert.match(await dialog.innerText(), /E2E 測試會員/)
    // Cancelling keeps the member.
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    await dialog.waitFor({ state: 'detached' })
    assert.equal(await page.getByTestId('erased-banner').count(), 0)

    await page.getByTestId('erase').click()
    const r = await apiCall(page, 'DELETE', `/api/v1/members/${created.id}`, () => page.getByTestId('confirm').click())
    assert.equal(r.status, 200)
    assert.equal(r.body.erased, true)
    assert.ok(r.request.headers()['x-csrf-token'])
    await page.getByTestId('erased-banner').waitFor()
    assert.equal(await page.getByTestId('erased-banner').innerText(), 'This member’s personal data has been erased.')
    assert.notEqual(await page.getByTestId('member-title').innerText(), 'E2E 測試會員')
    assert.equal(await page.getByTestId('erase').count(), 0)
    assert.equal(await page.getByTestId('save-profile').isDisabled(), true)
    const stored = await (await page.request.get(`/api/v1/members/${created.id}`)).json()
    assert.equal(stored.erased, true)
    assert.notEqual(stored.name, 'E2E 測試會員')
  })

  test('branches: create one, then deactivate it', async () => {
    const { page } = owner
    await page.getByTestId('nav-branches').click()
    await page.waitForURL('**/branches')
    const listed = await (await page.request.get('/api/v1/branches')).json()
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=branch-row]').length === n, listed.data.length)
    assert.ok(listed.data.length >= 4, 'the demo has 4 branches')

    const name = `E2E 分店 ${uid()}`
    await page.getByTestId('new-branch').click()
    await page.locator('#b-name').fill(name)
    await page.locator('#b-code').fill(`E2E${uid()}`.toUpperCase())
    await page.locator('#b-address').fill('台北市信義區市府路 1 號')
    const r = await apiCall(page, 'POST', '/api/v1/branches', () => page.getByTestId('save-branch').click())
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.ok(r.request.headers()['idempotency-key'])
    const row = page.locator(`[data-testid=branch-row][data-id="${r.body.id}"]`)
    await row.waitFor()
    assert.match(await row.innerText(), new RegExp(name))
    assert.equal(await row.getByTestId('status').innerText(), 'Active')

    await row.getByTestId('edit').click()
    assert.equal(await page.locator('#b-name').inputValue(), name)
    await page.getByTestId('branch-editor').locator('input[name=active]').uncheck()
    const p = await apiCall(page, 'PATCH', `/api/v1/branches/${r.body.id}`, () => page.getByTestId('save-branch').click())
    assert.equal(p.status, 200)
    assert.deepEqual(JSON.parse(p.request.postData()), { active: false })
    await page.waitForFunction((id) => document.querySelector(`[data-testid=branch-row][data-id="${id}"] [data-testid=status]`)?.textContent?.trim() === 'Inactive', r.body.id)
    const after = await (await page.request.get('/api/v1/branches')).json()
    assert.equal(after.data.find((b) => b.id === r.body.id).active, false)
  })

  let newStaff
  test('staff: create a cashier, then make them a manager', async () => {
    const { page } = owner
    await page.getByTestId('nav-staff').click()
    await page.waitForURL('**/staff')
    await page.getByTestId('staff-row').first().waitFor()
    const me = page.locator(`[data-testid=staff-row][data-id="${ownerMe.staff.id}"]`)
    assert.match(await me.innerText(), /you/)

    const email = `e2e-${uid()}@example.com`
    newStaff = { email, password: `e2e-pass-${uid()}` }
    await page.getByTestId('new-staff').click()
    await page.locator('#s-name').fill('E2E 員工')
    await page.locator('#s-email').fill(email)
    await page.locator('#s-role').selectOption('cashier')
    await page.locator('#s-password').fill(newStaff.password)
    const firstBranch = page.getByTestId('staff-editor').locator('label.pick').first()
    const branchName = (await firstBranch.innerText()).trim()
    await firstBranch.click()
    const r = await apiCall(page, 'POST', '/api/v1/staff', () => page.getByTestId('save-staff').click())
    assert.equal(r.status, 201, JSON.stringify(r.body))
    const sent = JSON.parse(r.request.postData())
    assert.equal(sent.role, 'cashier')
    assert.equal(sent.branch_ids.length, 1)
    assert.equal(r.body.email, email)
    assert.deepEqual(r.body.branch_ids, sent.branch_ids)
    const row = page.locator(`[data-testid=staff-row][data-id="${r.body.id}"]`)
    await row.waitFor()
    assert.equal(await row.getByTestId('role').innerText(), 'Cashier')
    assert.match(await row.innerText(), new RegExp(branchName))

    await row.getByTestId('edit').click()
    await page.locator('#s-role').selectOption('manager')
    const p = await apiCall(page, 'PATCH', `/api/v1/staff/${r.body.id}`, () => page.getByTestId('save-staff').click())
    assert.equal(p.status, 200, JSON.stringify(p.body))
    assert.deepEqual(JSON.parse(p.request.postData()), { role: 'manager' })
    await page.waitForFunction((id) => document.querySelector(`[data-testid=staff-row][data-id="${id}"] [data-testid=role]`)?.textContent?.trim() === 'Manager', r.body.id)
    newStaff.id = r.body.id
  })

  test('the new manager can log in with the password set by the owner', async () => {
    assert.ok(newStaff?.id)
    const { page, context } = await newPage(env, { lang: 'en' })
    try {
      const body = await login(page, newStaff)
      assert.equal(body.staff.role, 'manager')
      assert.equal(new URL(page.url()).pathname, '/members')
      assert.equal(await page.getByTestId('staff-name').innerText(), 'E2E 員工')
      assert.equal(await page.getByTestId('nav-staff').count(), 0)
    } finally {
      await context.close()
    }
  })

  test('a cashier lands on the counter and sees no branches or staff', async () => {
    const { page, context, errors } = await newPage(env, { lang: 'en' })
    try {
      const body = await login(page, CASHIER)
      assert.equal(body.staff.role, 'cashier')
      assert.equal(new URL(page.url()).pathname, '/counter')
      assert.ok(await page.getByTestId('nav-counter').isVisible())
      assert.ok(await page.getByTestId('nav-members').isVisible())
      assert.equal(await page.getByTestId('nav-branches').count(), 0)
      assert.equal(await page.getByTestId('nav-staff').count(), 0)
      assert.equal(await page.locator('.mainnav a').count(), 2)
      // A cashier registers members for their own branch.
      await page.getByTestId('to-register').click()
      await page.waitForURL('**/counter/register')
      const phone = randomPhone()
      await page.locator('#c-phone').fill(phone)
      const r = await apiCall(page, 'POST', '/api/v1/members', () => page.getByTestId('counter-submit').click())
      assert.equal(r.status, 201, JSON.stringify(r.body))
      assert.equal(JSON.parse(r.request.postData()).branch_id, body.staff.branch_ids[0])
      await page.getByTestId('counter-success').waitFor()
      assert.equal((await page.getByTestId('created-phone').innerText()).replace(/\D/g, ''), phone)
      // Typing the address does not open the owner pages either.
      await page.goto('/branches')
      await page.waitForURL('**/counter')
      await page.goto('/staff')
      await page.waitForURL('**/counter')
      // The server refuses the staff list to a cashier too.
      const denied = await page.request.get('/api/v1/staff')
      assert.equal(denied.status(), 403)
      assert.deepEqual(errors, [])
    } finally {
      await context.close()
    }
  })

  test('logging out ends the session', async () => {
    const { page } = owner
    await page.goto('/members')
    const r = await apiCall(page, 'POST', '/api/v1/auth/logout', () => page.getByTestId('logout').click())
    assert.equal(r.status, 204)
    await page.waitForURL('**/login')
    assert.equal((await page.request.get('/api/v1/auth/me')).status(), 401)
    await page.goto('/members')
    await page.waitForURL(/\/login\?next=(%2F|\/)members$/)
    assert.equal(await page.getByTestId('login-submit').innerText(), 'Log in')
    assert.deepEqual(owner.errors, [])
  })

  // Last: it may lock the login for a while.
  test('too many failed logins show the "too many attempts" message', async () => {
    const { page, context } = await newPage(env, { lang: 'en' })
    try {
      await page.goto('/login')
      const email = `nobody-${uid()}@demo.regulars.test`
      let status = 0
      for (let i = 0; i < 40 && status !== 429; i++) {
        await page.locator('#login-email').fill(email)
        await page.locator('#login-password').fill(`wrong-${i}`)
        const r = await apiCall(page, 'POST', '/api/v1/auth/login', () => page.getByTestId('login-submit').click())
        status = r.status
        if (status !== 429) assert.equal(status, 401)
        await page.waitForFunction(() => !document.querySelector('[data-testid=login-submit]')?.disabled)
      }
      assert.equal(status, 429, 'the server limits login attempts')
      const msg = page.getByTestId('too-many')
      await msg.waitFor()
      assert.equal(await msg.innerText(), 'Too many login attempts. Please wait a few minutes and try again.')
      assert.equal(new URL(page.url()).pathname, '/login')
    } finally {
      await context.close()
    }
  })
})
