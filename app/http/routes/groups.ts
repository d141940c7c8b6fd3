// Group administration (admin API key): replace, add, remove, read.
import { Router } from 'express';
import type { Deps } from '../deps.ts';
import { apiKey } from '../auth.ts';
import { parseBody, GroupPutBody, GroupAddBody, idPath } from '../validate.ts';
import * as groups from '../../services/groups.ts';
import { API } from '../api.ts';

export function groupRoutes(d: Deps): Router {
  const r = Router();

  r.put(API.groupPut.path, async (req, res) => {
    const k = apiKey(req, 'admin');
    const group = idPath(req.params.group, 'group');
    const body = parseBody(GroupPutBody, req.body);
    const { created, ...out } = await groups.putGroup(d.db, k.tenantId, group, body.members, body.presence ?? null, d.config.groupMaxMembers);
    res.status(created ? 201 : 200).json(out);
  });

  r.post(API.groupAdd.path, async (req, res) => {
    const k = apiKey(req, 'admin');
    const group = idPath(req.params.group, 'group');
    const { users } = parseBody(GroupAddBody, req.body);
    res.json(await groups.addMembers(d.db, k.tenantId, group, users, d.config.groupMaxMembers));
  });

  r.delete(API.groupRemove.path, async (req, res) => {
    const k = apiKey(req, 'admin');
    res.json(await groups.removeMember(d.db, k.tenantId, idPath(req.params.group, 'group'), idPath(req.params.user, 'user')));
  });

  r.get(API.groupGet.path, async (req, res) => {
    const k = apiKey(req, 'admin');
    res.setHeader('Cache-Control', 'no-store');
    res.json(await groups.getGroup(d.db, k.tenantId, idPath(req.params.group, 'group')));
  });

  return r;
}
