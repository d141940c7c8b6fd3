// The pages under public/: the demo chat (GET /), the browser client, the operations console.
// None of the files is fingerprinted, so HTML and scripts are revalidated on every load (ETag /
// Last-Modified make that a 304): an upgraded server never runs with a stale mailslot.js.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler } from 'express';

export const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../public');

export function pageRoutes(): RequestHandler {
  return express.static(PUBLIC_DIR, {
    index: 'index.html',
    dotfiles: 'ignore',
    redirect: false,
    etag: true,
    lastModified: true,
    setHeaders(res, file) {
      res.setHeader('Cache-Control', /\.(png|ico)$/.test(file) ? 'public, max-age=86400' : 'no-cache');
    },
  });
}
