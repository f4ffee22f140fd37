/**
 * Full garbage collections spread over a second, so that V8 has also handed
 * back the pages it frees lazily and RSS settles. Needs `--expose-gc`.
 */
export async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  for (let i = 0; i < 6; i += 1) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
