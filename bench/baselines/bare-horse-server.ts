/**
 * Baseline for bench/api-auth.ts: the least a server can do for an authenticated
 * GET /api/horses/:id — bare Express + pg, no ORM, no middleware. Per request it verifies
 * the HS256 JWT, loads the user (token version check) and the memberships, then the horse
 * within the caller's organizations, and answers the same JSON as the product. A 404 for
 * another organization's horse, a 401 for a bad token, like the product.
 *
 *   DATABASE_URL=… JWT_SECRET=… PORT=… tsx bench/baselines/bare-horse-server.ts
 */
import express from 'express';
import jwt from 'jsonwebtoken';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_MAX ?? 10) });
const secret = process.env.JWT_SECRET!;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const date = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : null);

const app = express();
app.get('/api/horses/:id', async (req, res) => {
  try {
    const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return void res.status(401).json({ message: 'no token' });
    let claims: { sub: string; tv: number; typ: string };
    try {
      claims = jwt.verify(token, secret, { algorithms: ['HS256'], issuer: 'horse-tempo' }) as typeof claims;
    } catch (err) {
      return void res.status(401).json({ message: (err as Error).message });
    }
    if (!UUID.test(req.params.id)) return void res.status(400).json({ message: 'id must be a UUID' });
    const user = (await pool.query('select id, email, first_name, last_name, plan, token_version from users where id = $1', [claims.sub])).rows[0];
    if (!user || user.token_version !== claims.tv) return void res.status(401).json({ message: 'revoked' });
    const memberships = (await pool.query('select organization_id, role from memberships where user_id = $1 order by created_at', [claims.sub])).rows;
    const orgs = memberships.map((m) => m.organization_id);
    const h = (await pool.query('select * from horses where id = $1 and organization_id = any($2::uuid[])', [req.params.id, orgs])).rows[0];
    if (!h) return void res.status(404).json({ message: `Horse ${req.params.id} not found` });
    res.json({
      id: h.id,
      organizationId: h.organization_id,
      name: h.name,
      breed: h.breed,
      birthDate: date(h.birth_date),
      gender: h.gender,
      color: h.color,
      heightCm: h.height_cm,
      weightKg: h.weight_kg,
      ueln: h.ueln,
      microchip: h.microchip,
      sireId: h.sire_id,
      sireName: h.sire_name,
      damId: h.dam_id,
      damName: h.dam_name,
      images: h.images ?? [],
      createdAt: h.created_at,
      updatedAt: h.updated_at,
    });
  } catch (err) {
    res.status(500).json({ message: (err as Error).message });
  }
});
const server = app.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
