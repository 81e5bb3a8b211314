/**
 * Seeds marketplace listings (with their sellers, organizations and horses) into a
 * migrated database, for the search benchmark and for trying the marketplace by hand.
 * Deterministic (seeded random), bilingual (English and French texts), realistic mix:
 * ~80% active, the rest draft / expired / sold / withdrawn; ~60% linked to a horse.
 *
 *   DATABASE_URL=postgresql://… tsx scripts/seed-listings.ts [count=100000]
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { CURRENCIES, LISTING_TYPES, type ListingStatus, type ListingType } from '../domain/listings';

export const SEED_BREEDS = [
  'Selle Français',
  'Hanoverian',
  'KWPN',
  'Holsteiner',
  'Oldenburg',
  'Trakehner',
  'Thoroughbred',
  'Arabian',
  'Andalusian',
  'Lusitano',
  'Connemara',
  'Welsh Pony',
  'Friesian',
  'Quarter Horse',
  'Irish Sport Horse',
  'Haflinger',
];
const COUNTRIES = ['FR', 'DE', 'NL', 'BE', 'GB', 'IE', 'ES', 'PT', 'IT', 'CH', 'AT', 'SE', 'DK', 'NO', 'PL', 'US', 'CA', 'AU'];
const CITIES: Record<string, string[]> = {
  FR: ['Paris', 'Lyon', 'Caen', 'Saumur', 'Deauville'],
  DE: ['Munich', 'Verden', 'Warendorf', 'Aachen'],
  NL: ['Ermelo', 'Utrecht'],
  BE: ['Gent', 'Liège'],
  GB: ['Newmarket', 'Hickstead'],
};
const EN = {
  titles: ['{breed} mare for sale', 'Talented {breed} gelding', '{breed} stallion at stud', 'Dressage schoolmaster', 'Show jumper with scope', 'Quiet family pony', 'Eventing prospect', 'Broodmare, proven producer', 'Young horse to back', 'Hacking companion', 'Livery and schooling service', 'Foal by a top sire'],
  phrases: [
    'Kind temperament and easy to handle.',
    'Competed successfully at national level in dressage.',
    'Clear round specialist over 1.30m show jumping courses.',
    'Excellent movement, three good paces.',
    'Loves hacking out alone or in company.',
    'Vetted with x-rays available on request.',
    'Suitable for an amateur or young rider.',
    'Good to shoe, clip, box and load.',
    'Fresh and frozen semen available for breeding.',
    'Trial possible at our yard after viewing.',
    'Brave cross-country with eventing experience.',
    'Lives out in a herd, stabled in winter.',
  ],
};
const FR = {
  titles: ['Jument {breed} à vendre', 'Hongre {breed} talentueux', 'Étalon {breed} disponible pour la saillie', 'Cheval de dressage confirmé', 'Cheval de saut d\'obstacles', 'Poney familial très calme', 'Jeune cheval de complet', 'Poulinière suitée', 'Jeune cheval à débourrer', 'Cheval de balade', 'Pension et travail du cheval', 'Poulain issu d\'un grand étalon'],
  phrases: [
    'Très gentil et facile à manipuler.',
    'Classé en compétition de dressage au niveau national.',
    'Sans faute sur les parcours de saut d\'obstacles à 1m30.',
    'Très belles allures, trois bonnes allures.',
    'Adore partir en balade seul ou accompagné.',
    'Visite vétérinaire et radios disponibles.',
    'Idéal pour un cavalier amateur ou une cavalière débutante.',
    'Se ferre, se tond et monte dans le van sans problème.',
    'Semence fraîche et congelée disponible pour la reproduction.',
    'Essai possible dans nos écuries.',
    'Courageux en cross, expérience du concours complet.',
    'Vit au pré en troupeau, au box l\'hiver.',
  ],
};

/** mulberry32: a small deterministic generator so every seeded database looks the same. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  return { next, int, pick };
}

export interface SeedOptions {
  count: number;
  sellers?: number;
  batchSize?: number;
  seed?: number;
  log?: (line: string) => void;
}

const DAY = 86_400_000;

/** Inserts `count` listings (plus sellers and horses) with batched unnest() inserts. */
export async function seedListings(databaseUrl: string, opts: SeedOptions): Promise<{ listings: number; horses: number; sellers: number; ms: number }> {
  const started = Date.now();
  const r = rng(opts.seed ?? 42);
  const sellers = opts.sellers ?? Math.max(10, Math.ceil(opts.count / 500));
  const batchSize = opts.batchSize ?? 2000;
  const log = opts.log ?? (() => {});
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const run = `${Date.now().toString(36)}${r.int(0, 1e6)}`;
    const users = Array.from({ length: sellers }, (_, i) => ({ id: randomUUID(), org: randomUUID(), email: `seller${i}.${run}@seed.example` }));
    await client.query(
      `insert into users (id, created_at, updated_at, email, password_hash, first_name, last_name, plan)
       select id, now(), now(), email, '!seeded-no-login', 'Seed', 'Seller', 'pro' from unnest($1::uuid[], $2::text[]) as t(id, email)`,
      [users.map((u) => u.id), users.map((u) => u.email)],
    );
    await client.query(
      `insert into organizations (id, created_at, updated_at, name, owner_id)
       select org, now(), now(), 'Seed stable', owner from unnest($1::uuid[], $2::uuid[]) as t(org, owner)`,
      [users.map((u) => u.org), users.map((u) => u.id)],
    );
    await client.query(
      `insert into memberships (id, created_at, updated_at, organization_id, user_id, role)
       select gen_random_uuid(), now(), now(), org, owner, 'owner' from unnest($1::uuid[], $2::uuid[]) as t(org, owner)`,
      [users.map((u) => u.org), users.map((u) => u.id)],
    );

    const thisYear = new Date().getUTCFullYear();
    const horseCount = Math.ceil(opts.count * 0.6);
    const horses: { id: string; org: string; owner: string; breed: string }[] = [];
    for (let offset = 0; offset < horseCount; offset += batchSize) {
      const rows = Array.from({ length: Math.min(batchSize, horseCount - offset) }, () => {
        const u = r.pick(users);
        return {
          id: randomUUID(),
          org: u.org,
          owner: u.id,
          name: `${r.pick(['Belle', 'Quick', 'Dancer', 'Étoile', 'Storm', 'Jazz', 'Uranus', 'Vidal', 'Perle', 'Nobel'])} ${r.pick(['du Bois', 'Star', 'de la Roche', 'Z', 'van de Hoeve', 'II'])}`,
          breed: r.pick(SEED_BREEDS),
          birthDate: `${thisYear - r.int(0, 25)}-${String(r.int(1, 12)).padStart(2, '0')}-${String(r.int(1, 28)).padStart(2, '0')}`,
          gender: r.pick(['mare', 'stallion', 'gelding']),
        };
      });
      await client.query(
        `insert into horses (id, created_at, updated_at, organization_id, name, breed, birth_date, gender, images, created_by_id)
         select id, now(), now(), org, name, breed, birth::date, gender, '[]', owner
           from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[]) as t(id, org, name, breed, birth, gender, owner)`,
        [rows.map((h) => h.id), rows.map((h) => h.org), rows.map((h) => h.name), rows.map((h) => h.breed), rows.map((h) => h.birthDate), rows.map((h) => h.gender), rows.map((h) => h.owner)],
      );
      horses.push(...rows.map((h) => ({ id: h.id, org: h.org, owner: h.owner, breed: h.breed })));
    }
    log(`seeded ${sellers} sellers and ${horses.length} horses`);

    const now = Date.now();
    let horseIndex = 0;
    for (let offset = 0; offset < opts.count; offset += batchSize) {
      const rows = Array.from({ length: Math.min(batchSize, opts.count - offset) }, () => {
        const withHorse = horseIndex < horses.length && r.next() < 0.6;
        const horse = withHorse ? horses[horseIndex++] : null;
        const seller = horse ? users.find((u) => u.org === horse.org)! : r.pick(users);
        const breed = horse?.breed ?? (r.next() < 0.5 ? r.pick(SEED_BREEDS) : null);
        const lang = r.next() < 0.5 ? FR : EN;
        const type: ListingType = r.next() < 0.65 ? 'sale' : r.pick(LISTING_TYPES);
        const roll = r.next();
        const status: ListingStatus = roll < 0.8 ? 'active' : roll < 0.85 ? 'draft' : roll < 0.92 ? 'expired' : roll < 0.97 ? 'sold' : 'withdrawn';
        const duration = r.pick([30, 60, 120]);
        const publishedAt = status === 'draft' ? null : status === 'expired' ? now - (duration + r.int(1, 200)) * DAY : now - r.int(0, duration - 1) * DAY - r.int(0, DAY);
        const country = r.next() < 0.35 ? 'FR' : r.pick(COUNTRIES);
        const description = Array.from({ length: r.int(2, 5) }, () => r.pick(lang.phrases)).join(' ');
        return {
          id: randomUUID(),
          org: seller.org,
          owner: seller.id,
          horse: horse?.id ?? null,
          type,
          status,
          title: r.pick(lang.titles).replace('{breed}', breed ?? (lang === FR ? 'de sport' : 'sport')),
          description,
          breed,
          price: type === 'sale' ? r.int(1_500, 150_000) * 100 : r.int(20, 3_000) * 100,
          currency: r.next() < 0.75 ? 'EUR' : r.pick(CURRENCIES),
          negotiable: r.next() < 0.4,
          city: CITIES[country] ? r.pick(CITIES[country]) : null,
          country,
          publishedAt: publishedAt === null ? null : new Date(publishedAt).toISOString(),
          expiresAt: publishedAt === null ? null : new Date(publishedAt + duration * DAY).toISOString(),
          views: r.int(0, 3000),
          publication: status === 'draft' ? 0 : 1,
        };
      });
      const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((row) => row[k]);
      await client.query(
        `insert into listings (id, created_at, updated_at, organization_id, owner_id, horse_id, type, status, title, description, breed,
                               price_cents, currency, negotiable, images, videos, city, country, views, favorites_count, published_at, expires_at, publication)
         select id, coalesce(published_at, now()), now(), org, owner, horse, type, status, title, description, breed,
                price, currency, negotiable, '[]', '[]', city, country, views, 0, published_at, expires_at, publication
           from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                       $10::int[], $11::text[], $12::bool[], $13::text[], $14::text[], $15::int[], $16::timestamptz[], $17::timestamptz[], $18::int[])
             as t(id, org, owner, horse, type, status, title, description, breed, price, currency, negotiable, city, country, views, published_at, expires_at, publication)`,
        [
          col('id'),
          col('org'),
          col('owner'),
          col('horse'),
          col('type'),
          col('status'),
          col('title'),
          col('description'),
          col('breed'),
          col('price'),
          col('currency'),
          col('negotiable'),
          col('city'),
          col('country'),
          col('views'),
          col('publishedAt'),
          col('expiresAt'),
          col('publication'),
        ],
      );
      if ((offset / batchSize) % 10 === 0) log(`  listings ${offset + rows.length}/${opts.count}`);
    }
    await client.query('analyze listings; analyze horses;');
    return { listings: opts.count, horses: horses.length, sellers, ms: Date.now() - started };
  } finally {
    await client.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('DATABASE_URL is required (a migrated database), e.g. the dev stack one');
    process.exit(2);
  }
  const count = Number(process.argv[2] ?? 100_000);
  if (!Number.isInteger(count) || count <= 0) {
    console.error(`count must be a positive integer (got ${process.argv[2]})`);
    process.exit(2);
  }
  const result = await seedListings(url, { count, log: console.log });
  console.log(`seeded ${result.listings} listings, ${result.horses} horses, ${result.sellers} sellers in ${(result.ms / 1000).toFixed(1)}s`);
}
