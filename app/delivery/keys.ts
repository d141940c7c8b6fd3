// Map keys for per-user and per-device state held in this process (waiters, connection slots,
// pages read ahead). NUL cannot occur in ids, so joined ids cannot collide.
export const userKey = (tenantId: string, userId: string) => `${tenantId}\u0000${userId}`;
export const deviceKey = (tenantId: string, userId: string, deviceId: string) => `${tenantId}\u0000${userId}\u0000${deviceId}`;
