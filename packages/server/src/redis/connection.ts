import type { Redis } from 'ioredis';

/** QUITs politely when connected, then drops the socket and any reconnect timer. */
export async function quit(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([client.quit().catch(() => {}), timeout]);
    clearTimeout(timer);
  }
  client.disconnect();
}
