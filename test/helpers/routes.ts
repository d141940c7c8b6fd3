// Every route of the app, read from express's router (so sweeps over "every endpoint" cannot miss a
// new one). Express 5 internals: routers mounted with app.use(router) at the root, as server.ts does.
import { createApp } from '../../app/http/server.ts';
import type { Deps } from '../../app/http/deps.ts';

interface Layer { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } }

/** ["GET", "/v1/poll"], … */
export function appRoutes(deps: Deps): [string, string][] {
  const routes: [string, string][] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) for (const m of Object.keys(layer.route.methods)) routes.push([m.toUpperCase(), layer.route.path]);
      else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((createApp(deps) as unknown as { router: { stack: Layer[] } }).router.stack);
  return routes;
}
