export const HORSE_GENDERS = ['mare', 'stallion', 'gelding'] as const;
export type HorseGender = (typeof HORSE_GENDERS)[number];
