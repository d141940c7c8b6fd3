// Every route the server serves: the hot path's (app/http/hot.ts) and the express app's, read from
// its router (so sweeps over "every endpoint" cannot miss a new one). Express 5 internals: routers
// mounted with app.use(router) at the root, as server.ts does.
import { createApp } from '../../app/http/server.ts';
import { HOT_ROUTES } from '../../app/http/hot.ts';
import type { Deps } from '../../app/http/deps.ts';

interface Layer { route?: { path: string | string[]; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } }

/** ["GET", "/v1/poll"], … (express path syntax: ":id") */
export function appRoutes(deps: Deps): [string, string][] {
  const routes: [string, string][] = HOT_ROUTES.map(([m, p]) => [m, p]);
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const p of [layer.route.path].flat()) {
          for (const [m, on] of Object.entries(layer.route.methods)) if (on && m !== '_all') routes.push([m.toUpperCase(), p]);
        }
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((createApp(deps) as unknown as { router: { stack: Layer[] } }).router.stack);
  return routes;
}
