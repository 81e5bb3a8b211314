import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed keys of the custom search attributes (registered from temporal-config/). */
export const UserIdKey = defineSearchAttributeKey('UserId', SearchAttributeType.KEYWORD);
export const HorseIdKey = defineSearchAttributeKey('HorseId', SearchAttributeType.KEYWORD);
export const ListingIdKey = defineSearchAttributeKey('ListingId', SearchAttributeType.KEYWORD);
export const GestationIdKey = defineSearchAttributeKey('GestationId', SearchAttributeType.KEYWORD);
/** Registered still: runs started before the rename carry it (Temporal cannot drop an attribute in use). */
export const PregnancyIdKey = defineSearchAttributeKey('PregnancyId', SearchAttributeType.KEYWORD);
export const AnalysisTypeKey = defineSearchAttributeKey('AnalysisType', SearchAttributeType.KEYWORD);
export const PlanKey = defineSearchAttributeKey('Plan', SearchAttributeType.KEYWORD);
