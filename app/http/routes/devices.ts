// GET /v1/devices (a user's devices with cursor, last seen, online) and POST /v1/read (the user's
// read marker, announced to the user's other devices).
import { Router } from 'express';
import type { Deps } from '../deps.ts';
import { clientToken, inboxOwner } from '../auth.ts';
import { parseBody, ReadBody } from '../validate.ts';
import { listDevices, markRead } from '../../services/devices.ts';
import { API } from '../api.ts';

export function deviceRoutes(d: Deps): Router {
  const r = Router();

  r.get(API.devices.path, async (req, res) => {
    const { tenantId, userId } = inboxOwner(req, 'listing devices');
    const rows = await listDevices(d.db, tenantId, userId, d.config.deviceOnlineWindowS);
    // Held here right now, or seen recently by any instance (held connections keep last_seen fresh).
    const here = new Set(d.registry.waitersOf(tenantId, userId).map((w) => w.deviceId));
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      devices: rows.map((x) => ({ device: x.device, cursor: x.cursor, lastSeen: x.lastSeen.toISOString(), online: here.has(x.device) || x.recent })),
    });
  });

  r.post(API.read.path, async (req, res) => {
    const p = clientToken(req);
    const { seq } = parseBody(ReadBody, req.body);
    res.json({ read: await markRead(d.db, { tenantId: p.tenantId, userId: p.userId, deviceId: p.deviceId }, seq) });
  });

  return r;
}
