import { createI18n } from 'vue-i18n'
import en from './locales/en'
import zhTW from './locales/zh-TW'
import zhCN from './locales/zh-CN'

export const LOCALES = ['zh-TW', 'zh-CN', 'en'] as const
export type Locale = (typeof LOCALES)[number]

/** Each language's name written in itself, for the switcher. */
export const LOCALE_NAMES: Record<Locale, string> = {
  'zh-TW': '繁體中文',
  'zh-CN': '简体中文',
  en: 'English',
}

export const STORAGE_KEY = 'regulars.locale'

function isLocale(v: unknown): v is Locale {
  return typeof v === 'string' && (LOCALES as readonly string[]).includes(v)
}

/** Maps a BCP 47 tag to one of our locales. */
export function localeFromTag(tag: string | undefined | null): Locale {
  const t = (tag ?? '').toLowerCase().replace(/_/g, '-')
  if (!t.startsWith('zh')) return 'en'
  const parts = t.split('-')
  if (parts.includes('hant') || parts.includes('tw') || parts.includes('hk') || parts.includes('mo')) return 'zh-TW'
  return 'zh-CN' // zh, zh-CN, zh-SG, zh-Hans…
}

export function initialLocale(): Locale {
  try {
    const saved = localStorage.getItem(STORAGE_KEY)
    if (isLocale(saved)) return saved
  } catch {
    /* storage unavailable */
  }
  const tag = typeof navigator !== 'undefined' ? (navigator.languages?.[0] ?? navigator.language) : undefined
  return localeFromTag(tag)
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'en',
  messages: { en, 'zh-TW': zhTW, 'zh-CN': zhCN },
})

export function currentLocale(): Locale {
  return i18n.global.locale.value as Locale
}

export function applyLocale(l: Locale): void {
  i18n.global.locale.value = l
  document.documentElement.lang = l
}

export function setLocale(l: Locale): void {
  applyLocale(l)
  try {
    localStorage.setItem(STORAGE_KEY, l)
  } catch {
    /* storage unavailable */
  }
}
