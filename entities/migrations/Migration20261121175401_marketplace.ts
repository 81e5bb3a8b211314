import { Migration } from '@mikro-orm/migrations';

export class Migration20261121175401_marketplace extends Migration {

  override name = 'Migration20261121175401_marketplace';

  override up(): void | Promise<void> {
    this.addSql(`create table "listings" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "organization_id" uuid not null, "owner_id" uuid not null, "horse_id" uuid null, "type" text not null, "status" text not null default 'draft', "title" varchar(150) not null, "description" text not null, "breed" varchar(100) null, "price_cents" int not null, "currency" text not null, "negotiable" boolean not null default false, "images" jsonb not null default '[]', "videos" jsonb not null default '[]', "city" varchar(100) null, "country" varchar(2) null, "latitude" double precision null, "longitude" double precision null, "contact_email" varchar(255) null, "contact_phone" varchar(40) null, "views" int not null default 0, "favorites_count" int not null default 0, "published_at" timestamptz null, "expires_at" timestamptz null, "publication" int not null default 0, "search_vector" tsvector generated always as (setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('french'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(breed, '')), 'B') || setweight(to_tsvector('french'::regconfig, coalesce(breed, '')), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'C') || setweight(to_tsvector('french'::regconfig, coalesce(description, '')), 'C')) stored null, primary key ("id"));`);
    this.addSql(`create index "listings_owner_status_index" on "listings" ("owner_id", "status");`);
    this.addSql(`create index "listings_organization_index" on "listings" ("organization_id", "created_at");`);
    this.addSql(`create index "listings_search_index" on "listings" using gin ("search_vector") where status = 'active';`);
    this.addSql(`create index "listings_active_newest_index" on "listings" ("published_at" desc, "id" desc) where status = 'active';`);
    this.addSql(`create index "listings_active_price_index" on "listings" ("price_cents", "id") where status = 'active';`);
    this.addSql(`create index "listings_active_type_newest_index" on "listings" ("type", "published_at" desc, "id" desc) where status = 'active';`);
    this.addSql(`create index "listings_active_country_newest_index" on "listings" ("country", "published_at" desc, "id" desc) where status = 'active';`);
    this.addSql(`create index "listings_active_breed_index" on "listings" (lower("breed")) where status = 'active';`);
    this.addSql(`create index "listings_horse_index" on "listings" ("horse_id");`);

    this.addSql(`create table "listing_favorites" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "user_id" uuid not null, "listing_id" uuid not null, primary key ("id"));`);
    this.addSql(`create index "listing_favorites_user_created_index" on "listing_favorites" ("user_id", "created_at");`);
    this.addSql(`create index "listing_favorites_listing_id_index" on "listing_favorites" ("listing_id");`);
    this.addSql(`alter table "listing_favorites" add constraint "listing_favorites_user_listing_unique" unique ("user_id", "listing_id");`);

    this.addSql(`alter table "listings" add constraint "listings_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`);
    this.addSql(`alter table "listings" add constraint "listings_horse_id_foreign" foreign key ("horse_id") references "horses" ("id") on delete set null;`);
    this.addSql(`alter table "listings" add constraint "listings_type_check" check ("type" in ('sale', 'rental', 'stud', 'breeding', 'service'));`);
    this.addSql(`alter table "listings" add constraint "listings_status_check" check ("status" in ('draft', 'active', 'sold', 'expired', 'withdrawn'));`);
    this.addSql(`alter table "listings" add constraint "listings_currency_check" check ("currency" in ('EUR', 'GBP', 'CHF', 'USD', 'SEK', 'DKK', 'NOK', 'PLN', 'CAD', 'AUD'));`);

    this.addSql(`alter table "listing_favorites" add constraint "listing_favorites_listing_id_foreign" foreign key ("listing_id") references "listings" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "listing_favorites" drop constraint "listing_favorites_listing_id_foreign";`);

    this.addSql(`drop table if exists "listings" cascade;`);
    this.addSql(`drop table if exists "listing_favorites" cascade;`);
  }

}
