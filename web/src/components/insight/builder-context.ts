// What the segment builder page shares with its rows and groups (provide/inject): the choices
// of each feature, the features offered, and the message to show on a row or group.
import type { InjectionKey } from 'vue'
import type { Choice } from '../../api-insight'
import type { FeatureSpec } from './segment-model'

export interface BuilderContext {
  /** Features offered, with their group heading (i18n key under insight.featureGroups). */
  features: () => { group: string; specs: FeatureSpec[] }[]
  /** The values a feature can take (categories, branches, weekdays, months…). */
  choicesFor: (feature: string, op: string) => Choice[]
  /** The problem or server error shown on a row or group (by uid), if any. */
  messageFor: (uid: number) => string | null
}

export const BUILDER: InjectionKey<BuilderContext> = Symbol('segment-builder')

/** The heading each feature is listed under in the feature list. */
export const FEATURE_GROUP: Record<string, string> = {
  spend_minor: 'money',
  orders: 'money',
  aov_minor: 'money',
  days_since_last_order: 'money',
  days_since_first_order: 'money',
  days_since_joined: 'money',
  category: 'products',
  sku: 'products',
  branch: 'products',
  weekday: 'products',
  day_of_month: 'products',
  birthday: 'person',
  tag: 'person',
  region: 'person',
  city: 'person',
  gender: 'person',
  language: 'person',
  consent_sms: 'person',
  consent_email: 'person',
  consent_line: 'person',
  tier: 'program',
  tier_rank: 'program',
  points: 'program',
  wallet_minor: 'program',
  segment: 'program',
  rfm_group: 'predictions',
  p_alive: 'predictions',
  expected_purchases_90d: 'predictions',
  expected_value_minor: 'predictions',
}
