import { expect } from 'chai';
import { CONTROL_CHARACTERS_MESSAGE } from '../../api/http/input-policy';
import { CreateListingBody, SearchListingsQuery, UpdateListingBody } from '../../api/marketplace/schemas';

const draft = (overrides: Record<string, unknown> = {}) => ({
  type: 'sale',
  title: 'Bay mare for sale',
  description: 'Kind and sound mare.',
  priceCents: 1_500_000,
  currency: 'EUR',
  ...overrides,
});

/** The first issue of a failed parse, as the API reports it (field path + message). */
function issue(result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) {
  expect(result.success, 'expected the parse to fail').to.equal(false);
  const first = result.error!.issues[0];
  return { field: first.path.join('.'), message: first.message };
}

describe('marketplace request schemas (api/marketplace/schemas)', () => {
  describe('media URLs', () => {
    it('accepts https URLs to a domain name', () => {
      for (const url of ['https://cdn.example.com/mare.jpg', 'https://img.example.fr:8443/a/b.png?w=800', 'HTTPS://EXAMPLE.COM/x.jpg']) {
        expect(CreateListingBody.safeParse(draft({ images: [url], videos: [url] })).success, url).to.equal(true);
      }
    });

    it('refuses other schemes, IP literals, local names and credentials, naming the item', () => {
      for (const url of [
        'javascript:alert(1)',
        'data:image/png;base64,iVBORw0KGgo=',
        'file:///etc/passwd',
        'http://cdn.example.com/mare.jpg',
        'ftp://example.com/a.jpg',
        'https://169.254.169.254/latest/meta-data/',
        'http://169.254.169.254/latest/meta-data/',
        'https://127.0.0.1/a.jpg',
        'https://[::1]/a.jpg',
        'https://localhost/a.jpg',
        'https://intranet/a.jpg',
        'https://user:secret@example.com/a.jpg',
        'https://example.com/a\0.jpg',
      ]) {
        const images = issue(CreateListingBody.safeParse(draft({ images: ['https://ok.example.com/1.jpg', url] })));
        expect(images.field, url).to.equal('images.1');
        expect(issue(UpdateListingBody.safeParse({ videos: [url] })).field, url).to.equal('videos.0');
      }
    });
  });

  describe('NUL characters', () => {
    it('refuses a NUL in every free-text field of a listing', () => {
      for (const field of ['title', 'description', 'breed', 'city']) {
        const res = issue(CreateListingBody.safeParse(draft({ [field]: 'Bay\0 mare' })));
        expect(res, field).to.deep.equal({ field, message: CONTROL_CHARACTERS_MESSAGE });
        expect(issue(UpdateListingBody.safeParse({ [field]: 'x\0yz' })).field).to.equal(field);
      }
      for (const field of ['contactPhone', 'contactEmail', 'country']) {
        expect(CreateListingBody.safeParse(draft({ [field]: '\0' })).success, field).to.equal(false);
      }
    });

    it('refuses a NUL in the search text and the breed filter', () => {
      expect(issue(SearchListingsQuery.safeParse({ q: 'mare\0' }))).to.deep.equal({ field: 'q', message: CONTROL_CHARACTERS_MESSAGE });
      expect(issue(SearchListingsQuery.safeParse({ breed: '\0' })).field).to.equal('breed');
      expect(SearchListingsQuery.safeParse({ q: 'jument baie' }).success).to.equal(true);
    });
  });

  describe('price filters and currency', () => {
    it('requires a currency with a price range or a price sort, naming currency', () => {
      for (const q of [{ minPrice: '100' }, { maxPrice: '100' }, { sort: 'price' }, { sort: '-price' }, { minPrice: '1', maxPrice: '9', sort: 'newest' }]) {
        expect(issue(SearchListingsQuery.safeParse(q)), JSON.stringify(q)).to.deep.equal({
          field: 'currency',
          message: 'is required with minPrice, maxPrice or sort=price/-price (prices are compared in one currency)',
        });
        expect(SearchListingsQuery.safeParse({ ...q, currency: 'EUR' }).success, JSON.stringify(q)).to.equal(true);
      }
      expect(SearchListingsQuery.safeParse({ sort: 'newest' }).success).to.equal(true);
      expect(SearchListingsQuery.safeParse({ q: 'mare', sort: 'relevance' }).success).to.equal(true);
    });
  });
});
