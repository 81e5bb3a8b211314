/**
 * Every entity the ORM knows about. A feature adds its entities here (and a migration
 * under entities/migrations/).
 */
import { User, Organization, Membership, RefreshToken, ApiKey, AccountToken, Invitation } from './accounts';
import { Horse } from './horses';
import { CreditAccount, CreditTransaction } from './credits';
import { EmailOutbox, Notification } from './notifications';
import { Subscription, StripeEvent } from './billing';
import { Listing, ListingFavorite } from './marketplace';
import { AiUsageTotal, Analysis, AnalysisCacheEntry, AnalysisProviderAnswer, AnalysisRequest } from './analysis';
import { Gestation, GestationCheck, ReminderLog, ReminderPreferences } from './gestation';
import { HealthRecord, HealthRecordAudit, HealthPlanOverride, HealthAttachment, HealthShareLink, CalendarFeed, HealthReminderLog } from './health';
import { StorageOrphan } from './storage';

export * from './accounts';
export * from './horses';
export * from './credits';
export * from './notifications';
export * from './billing';
export * from './marketplace';
export * from './analysis';
export * from './gestation';
export * from './health';
export * from './storage';

export const entities = [
  User,
  Organization,
  Membership,
  RefreshToken,
  ApiKey,
  AccountToken,
  Invitation,
  Horse,
  CreditAccount,
  CreditTransaction,
  EmailOutbox,
  Notification,
  Subscription,
  StripeEvent,
  Listing,
  ListingFavorite,
  Analysis,
  AiUsageTotal,
  AnalysisCacheEntry,
  AnalysisProviderAnswer,
  AnalysisRequest,
  Gestation,
  GestationCheck,
  ReminderLog,
  ReminderPreferences,
  HealthRecord,
  HealthRecordAudit,
  HealthPlanOverride,
  HealthAttachment,
  HealthShareLink,
  CalendarFeed,
  HealthReminderLog,
  StorageOrphan,
];
