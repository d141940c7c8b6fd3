// What the HTTP layer adds to every request.
import type { Principal } from '../services/credentials.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** Request id: the client's X-Request-Id when sane, else a fresh one; echoed in the response. */
    id: string;
    principal?: Principal;
  }
}

export {};
