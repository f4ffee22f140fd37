import { ChatTab } from '../support/chat-tab.js';
import { expect, test } from '../support/fixtures.js';

/** The session's metadata as the server stores it now (`session.get`). */
async function storedMetadata(
  baseUrl: string,
  sessionId: string,
): Promise<{ metadata: Record<string, unknown>; metadataVersion: number }> {
  const response = await fetch(`${baseUrl}/trpc/session.get`, {
    headers: { 'X-Session-Id': sessionId },
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as {
    result: { data: { json: { metadata: Record<string, unknown>; metadataVersion: number } } };
  };
  return body.result.data.json;
}

// Versioned metadata in the demo: two tabs of one session (`?storage=local`)
// edit its nickname at once; the one that saves from a stale version is told
// (409 VERSION_CONFLICT), sees the other's nickname, and nothing is lost unseen.
test('two tabs of one session: the stale save is refused and shown, not silently overwritten', async ({
  context,
  resources,
}) => {
  const demo = await resources.demo();
  const first = await ChatTab.open(context, demo.url, { storage: 'local' });
  const second = await ChatTab.open(context, demo.url, { storage: 'local' });
  const sessionId = await first.sessionId();
  expect(await second.sessionId()).toBe(sessionId);
  const startVersion = (await storedMetadata(demo.url, sessionId)).metadataVersion;
  for (const tab of [first, second]) {
    await expect(tab.byTestId('nickname-status')).toHaveAttribute(
      'data-version',
      String(startVersion),
    );
  }

  await first.byTestId('nickname-input').fill('alice');
  await first.byTestId('nickname-save').click();
  await expect(first.byTestId('nickname-status')).toHaveAttribute('data-outcome', 'saved');

  // The second tab still holds the version it read before the first saved.
  await second.byTestId('nickname-input').fill('bob');
  await second.byTestId('nickname-save').click();
  await expect(second.byTestId('nickname-status')).toHaveAttribute('data-outcome', 'conflict');
  await expect(second.byTestId('nickname-input')).toHaveValue('alice');
  expect(await storedMetadata(demo.url, sessionId)).toMatchObject({
    metadata: { nickname: 'alice' },
    metadataVersion: startVersion + 1,
  });

  // Saving again from what it now knows goes through.
  await second.byTestId('nickname-input').fill('bob');
  await second.byTestId('nickname-save').click();
  await expect(second.byTestId('nickname-status')).toHaveAttribute('data-outcome', 'saved');
  expect(await storedMetadata(demo.url, sessionId)).toMatchObject({
    metadata: { nickname: 'bob' },
    metadataVersion: startVersion + 2,
  });
});
