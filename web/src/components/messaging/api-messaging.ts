// Messaging: channels, templates with a live preview, the message log and the merchant's
// messaging settings. Every call goes through `request` in api.ts (CSRF header,
// Idempotency-Key, ApiError); the shapes are those of src/http/routes_messaging.cpp.
import { request, type Page } from '../../api'

export type ChannelKind = 'smtp' | 'twilio' | 'http_sms' | 'line' | 'webhook' | 'log'
export const CHANNEL_KINDS: readonly ChannelKind[] = ['smtp', 'twilio', 'http_sms', 'line', 'webhook', 'log'] as const
export type Medium = 'email' | 'sms' | 'line' | 'webhook'
export const MEDIA: readonly Medium[] = ['email', 'sms', 'line', 'webhook'] as const
export type Category = 'marketing' | 'transactional'
export const CATEGORIES: readonly Category[] = ['marketing', 'transactional'] as const
export type MessageLang = 'zh-TW' | 'zh-CN' | 'en'
export const MESSAGE_LANGS: readonly MessageLang[] = ['zh-TW', 'zh-CN', 'en'] as const
export type MessageStatus = 'queued' | 'sending' | 'sent' | 'delivered' | 'failed' | 'deferred' | 'skipped' | 'suppressed'
export const MESSAGE_STATUSES: readonly MessageStatus[] = ['queued', 'sending', 'sent', 'delivered', 'failed', 'deferred', 'skipped', 'suppressed'] as const
export type TransactionalKind = 'receipt' | 'top_up' | 'points_expiring' | 'tier_changed' | 'coupon_issued'
export const TRANSACTIONAL_KINDS: readonly TransactionalKind[] = ['receipt', 'top_up', 'points_expiring', 'tier_changed', 'coupon_issued'] as const

/** Which medium each kind of channel carries. */
export const CHANNEL_MEDIUM: Record<ChannelKind, Medium> = {
  smtp: 'email',
  twilio: 'sms',
  http_sms: 'sms',
  line: 'line',
  webhook: 'webhook',
  log: 'email',
}

/** The settings (shown) and secrets (write-only) each kind of channel is set up with. */
export const CHANNEL_FIELDS: Record<ChannelKind, { settings: string[]; secrets: string[] }> = {
  smtp: { settings: ['host', 'port', 'security', 'from', 'username'], secrets: ['password'] },
  twilio: { settings: ['account_sid', 'from', 'status_callback', 'base_url'], secrets: ['auth_token'] },
  http_sms: { settings: ['url', 'method', 'body'], secrets: ['api_key'] },
  line: { settings: ['base_url'], secrets: ['channel_access_token', 'channel_secret'] },
  webhook: { settings: ['url'], secrets: ['signing_secret'] },
  log: { settings: ['fail'], secrets: [] },
}

export interface MessagingChannel {
  id: string
  kind: ChannelKind
  name: string
  medium: Medium
  settings: Record<string, unknown>
  /** Secret names that hold a value: always "set", never the value. */
  secrets: Record<string, 'set'>
  active: boolean
  /** Where the provider posts delivery receipts and replies (give it this server's origin). */
  receipts_path: string
  inbound_path: string
  created_at: string
  updated_at: string
}

export interface ChannelInput {
  kind?: ChannelKind
  name?: string
  settings?: Record<string, unknown>
  /** Only the secrets being set (a null clears one). */
  secrets?: Record<string, string | null>
  active?: boolean
}

export interface TestOutcome {
  outcome: 'sent' | 'temporary' | 'throttled' | 'permanent'
  provider_id: string
  error: string
  retry_after_seconds: number | null
}

export interface TemplateVariant {
  subject: string
  text: string
  html: string
}

export interface MessageTemplate {
  id: string
  name: string
  medium: Medium
  category: Category
  variants: Partial<Record<MessageLang, TemplateVariant>>
  created_at: string
  updated_at: string
}

export interface TemplateInput {
  name?: string
  medium?: Medium
  category?: Category
  variants?: Partial<Record<MessageLang, TemplateVariant>>
}

export interface SmsCount {
  /** Characters as people count them; `units` as the network does (septets or UTF-16). */
  chars: number
  units: number
  parts: number
  encoding: 'gsm7' | 'ucs2'
  cost_minor: number
  currency: string
}

export interface PreviewLanguage {
  subject: string
  text: string
  html: string
  sms: SmsCount | null
  missing: string[]
  /** Set instead of the rest when this variant does not render (e.g. a Mustache syntax error). */
  error?: { code: string; message: string; field?: string }
}

export interface Preview {
  languages: Partial<Record<MessageLang, PreviewLanguage>>
  /** The language the chosen member would receive. */
  member_language: MessageLang | null
  /** Why the template could not be saved as it is (e.g. marketing e-mail without {{unsubscribe_url}}). */
  problem: { code: string; message: string; field?: string } | null
}

export interface MessageRow {
  id: string
  member_id: string
  member_name: string | null
  template_id: string | null
  template_name: string | null
  channel_id: string | null
  medium: Medium
  category: Category
  status: MessageStatus
  to: string
  language: string
  dedup_key: string
  attempts: number
  error: string | null
  created_at: string
  updated_at: string
  next_attempt_at: string | null
}

export interface FrequencyCap {
  medium: Medium
  period: 'day' | 'week'
  max: number
  action: 'defer' | 'skip'
}

export interface MessagingSettings {
  quiet_hours: { start: string; end: string } | null
  caps: FrequencyCap[]
  /** Price of one SMS part, in minor units of `currency`. */
  sms_price_minor: number
  /** `points_expiring` also carries `days_before` (1 to 60, default 7). */
  transactional: Record<TransactionalKind, { enabled: boolean; template_id: string | null; days_before?: number }>
  currency: string
  timezone: string
}

export interface MessagingSettingsInput {
  quiet_hours?: { start: string; end: string } | null
  caps?: FrequencyCap[]
  sms_price_minor?: number
  /** `days_before` only on `points_expiring`; anything but an integer from 1 to 60 is refused, naming the field. */
  transactional?: Partial<Record<TransactionalKind, { enabled?: boolean; template_id?: string | null; days_before?: number | string }>>
}

function qs(params: Record<string, string | number | null | undefined>): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? `?${s}` : ''
}
const enc = encodeURIComponent

export const messagingApi = {
  listChannels: () => request<Page<MessagingChannel>>('GET', '/api/v1/channels?limit=500').then((p) => p.data),
  createChannel: (b: ChannelInput) => request<MessagingChannel>('POST', '/api/v1/channels', b),
  updateChannel: (id: string, b: ChannelInput) => request<MessagingChannel>('PATCH', `/api/v1/channels/${enc(id)}`, b),
  testChannel: (id: string, to: string) => request<TestOutcome>('POST', `/api/v1/channels/${enc(id)}/test`, { to }),
  listTemplates: () => request<Page<MessageTemplate>>('GET', '/api/v1/templates?limit=500').then((p) => p.data),
  createTemplate: (b: TemplateInput) => request<MessageTemplate>('POST', '/api/v1/templates', b),
  updateTemplate: (id: string, b: TemplateInput) => request<MessageTemplate>('PATCH', `/api/v1/templates/${enc(id)}`, b),
  preview: (template: TemplateInput, memberId: string | null) =>
    request<Preview>('POST', '/api/v1/templates/preview', memberId ? { template, member_id: memberId } : { template }),
  listMessages: (p: { member_id?: string | null; status?: string | null; cursor?: string | null; limit?: number }) =>
    request<Page<MessageRow>>('GET', '/api/v1/messages' + qs({ member_id: p.member_id, status: p.status, cursor: p.cursor, limit: p.limit ?? 50 })),
  sendMessage: (b: { member_id: string; template_id: string; channel_id?: string; dedup_key?: string }) => request<MessageRow>('POST', '/api/v1/messages', b),
  getSettings: () => request<MessagingSettings>('GET', '/api/v1/messaging/settings'),
  updateSettings: (b: MessagingSettingsInput) => request<MessagingSettings>('PATCH', '/api/v1/messaging/settings', b),
}
