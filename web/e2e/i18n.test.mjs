// The console in each of its three languages: translated texts, language detection and the
// switcher, plus a screenshot of every page in every language (web/e2e/screenshots/).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { login, newPage, OWNER, screenshot, startAll, TABLET } from './harness.mjs'

const TEXT = {
  'zh-TW': { login: '登入', members: '會員', timeline: '動態紀錄', counter: '新增會員', submit: '註冊會員', branches: '門市', staff: '員工', owner: '店主', logout: '登出', search: '手機號碼、末幾碼、姓名或電子郵件' },
  'zh-CN': { login: '登录', members: '会员', timeline: '动态记录', counter: '新增会员', submit: '注册会员', branches: '门店', staff: '员工', owner: '店主', logout: '退出登录', search: '手机号、尾号、姓名或邮箱' },
  en: { login: 'Log in', members: 'Members', timeline: 'Timeline', counter: 'Register a member', submit: 'Register', branches: 'Branches', staff: 'Staff', owner: 'Owner', logout: 'Log out', search: 'Phone, last digits, name or email' },
}

let env
before(async () => {
  env = await startAll()
})
after(async () => {
  await env?.stop()
})

const h1 = (page) => page.locator('main h1, .login-card h1').first()

for (const lang of Object.keys(TEXT)) {
  const tx = TEXT[lang]
  describe(`console in ${lang}`, () => {
    test(`every page in ${lang}`, async () => {
      const { page, context, errors } = await newPage(env, { lang })
      try {
        // Login.
        await page.goto('/login')
        await page.getByTestId('login-submit').waitFor()
        assert.equal(await page.getByTestId('login-submit').innerText(), tx.login)
        assert.equal(await page.locator('html').getAttribute('lang'), lang)
        assert.equal(await page.getByTestId('lang-switcher').inputValue(), lang)
        await screenshot(page, `${lang}-login`)

        // Login error.
        await page.locator('#login-email').fill(OWNER.email)
        await page.locator('#login-password').fill('wrong password')
        await page.getByTestId('login-submit').click()
        await page.getByTestId('error').waitFor()
        await screenshot(page, `${lang}-login-error`)

        // Members.
        await login(page, OWNER)
        await page.getByTestId('member-row').nth(5).waitFor()
        assert.equal(await h1(page).innerText(), tx.members)
        assert.equal(await page.getByTestId('nav-members').innerText(), tx.members)
        assert.equal(await page.getByTestId('logout').innerText(), tx.logout)
        assert.equal(await page.getByTestId('member-search').getAttribute('placeholder'), tx.search)
        await screenshot(page, `${lang}-members`)

        // Member detail.
        await page.getByTestId('member-row').first().locator('a').click()
        await page.waitForURL(/\/members\/[^/]+$/)
        await page.getByTestId('timeline-entry').first().waitFor()
        assert.equal(await page.getByTestId('timeline').locator('h2').innerText(), tx.timeline)
        await screenshot(page, `${lang}-member`)

        // Erase confirmation (not confirmed).
        await page.getByTestId('erase').click()
        await page.getByRole('alertdialog').waitFor()
        await screenshot(page, `${lang}-member-erase`)
        await page.keyboard.press('Escape')
        await page.getByRole('alertdialog').waitFor({ state: 'detached' })

        // Registration at the counter, on a desktop and on a tablet (the counter itself:
        // loyalty.test.mjs).
        await page.getByTestId('nav-counter').click()
        await page.waitForURL('**/counter')
        await page.getByTestId('to-register').click()
        await page.waitForURL('**/counter/register')
        assert.equal(await h1(page).innerText(), tx.counter)
        assert.equal(await page.getByTestId('counter-submit').innerText(), tx.submit)
        await screenshot(page, `${lang}-register`)
        await page.setViewportSize(TABLET)
        await page.locator('#c-phone').fill('0912 345 678')
        await screenshot(page, `${lang}-register-tablet`)
        const submitBox = await page.getByTestId('counter-submit').boundingBox()
        const phoneBox = await page.locator('#c-phone').boundingBox()
        assert.ok(submitBox.height >= 56 && phoneBox.height >= 56, 'big touch targets on the counter')
        assert.ok(submitBox.x + submitBox.width <= TABLET.width, 'the counter fits a tablet')
        await page.setViewportSize({ width: 1280, height: 800 })

        // Branches.
        await page.getByTestId('nav-branches').click()
        await page.waitForURL('**/branches')
        await page.getByTestId('branch-row').first().waitFor()
        assert.equal(await h1(page).innerText(), tx.branches)
        await screenshot(page, `${lang}-branches`)

        // Staff.
        await page.getByTestId('nav-staff').click()
        await page.waitForURL('**/staff')
        await page.getByTestId('staff-row').first().waitFor()
        assert.equal(await h1(page).innerText(), tx.staff)
        const roles = await page.getByTestId('role').allInnerTexts()
        assert.ok(roles.includes(tx.owner), `the owner role reads ${tx.owner}`)
        await page.getByTestId('new-staff').click()
        await screenshot(page, `${lang}-staff`)
        assert.deepEqual(errors, [])
      } finally {
        await context.close()
      }
    })
  })
}

describe('language choice', () => {
  const cases = [
    ['zh-TW', 'zh-TW'],
    ['zh-HK', 'zh-TW'],
    ['zh-CN', 'zh-CN'],
    ['zh-SG', 'zh-CN'],
    ['en-US', 'en'],
    ['fr-FR', 'en'],
  ]
  for (const [browserLocale, expected] of cases) {
    test(`a browser in ${browserLocale} starts in ${expected}`, async () => {
      const { page, context } = await newPage(env, { locale: browserLocale })
      try {
        await page.goto('/login')
        await page.getByTestId('login-submit').waitFor()
        assert.equal(await page.getByTestId('login-submit').innerText(), TEXT[expected].login)
        assert.equal(await page.locator('html').getAttribute('lang'), expected)
      } finally {
        await context.close()
      }
    })
  }

  test('the switcher changes the language everywhere and is remembered', async () => {
    const { page, context } = await newPage(env, { locale: 'en-US' })
    try {
      await page.goto('/login')
      assert.equal(await page.getByTestId('login-submit').innerText(), 'Log in')
      await page.getByTestId('lang-switcher').selectOption('zh-TW')
      assert.equal(await page.getByTestId('login-submit').innerText(), '登入')
      assert.equal(await page.evaluate(() => localStorage.getItem('regulars.locale')), 'zh-TW')
      await page.reload()
      assert.equal(await page.getByTestId('login-submit').innerText(), '登入')

      await login(page, OWNER)
      assert.equal(await page.getByTestId('nav-members').innerText(), '會員')
      await page.getByTestId('lang-switcher').selectOption('zh-CN')
      assert.equal(await page.getByTestId('nav-members').innerText(), '会员')
      assert.equal(await page.getByTestId('nav-branches').innerText(), '门店')
      assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN')
      await page.goto('/counter/register')
      assert.equal(await page.getByTestId('counter-submit').innerText(), '注册会员')
      assert.equal(await page.evaluate(() => localStorage.getItem('regulars.locale')), 'zh-CN')
      assert.match(await page.title(), /新增会员/)
    } finally {
      await context.close()
    }
  })
})
