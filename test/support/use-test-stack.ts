import { startTestStack, type TestStack } from './stack';
import { apiClient, type ApiClient } from './http';

export type TestStackOptions = NonNullable<Parameters<typeof startTestStack>[0]> & {
  /** How long the before() hook may take to start the stack (default 180 s: Temporal, Postgres and the workflow bundle on a loaded CI machine). */
  startTimeoutMs?: number;
};

/** What useTestStack hands back: usable from it/before/after bodies once the before() hook ran. */
export interface TestStackHandle {
  stack: TestStack;
  api: ApiClient;
}

/**
 * The one setup of an integration test file: starts the whole backend (startTestStack) in a
 * mocha before() hook, builds a JSON client on it, and closes it in after(). Call it at the
 * top of a describe() block:
 *
 *     const { stack, api } = useTestStack({ workers: false });
 *
 * `stack` and `api` exist at once but are bound to the started stack only when before()
 * has run, so the test bodies keep naming them like plain variables (a file's own before()
 * registered after this call already sees them: mocha runs hooks in registration order).
 * Touching them while the describe() body is still being read throws, naming the mistake,
 * instead of failing later on an undefined.
 *
 * Files whose setup is genuinely different (a proxy in front of Postgres, an S3 stand-in,
 * child worker processes to stop before the stack) keep their own hooks.
 */
export function useTestStack(options: TestStackOptions = {}): TestStackHandle {
  const { startTimeoutMs = 180_000, ...stackOptions } = options;
  const stack = lateBound<TestStack>('stack');
  const api = lateBound<ApiClient>('api');
  before(async function () {
    this.timeout(startTimeoutMs);
    const started = await startTestStack(stackOptions);
    stack.bind(started);
    api.bind(apiClient(started.baseUrl));
  });
  after(async () => {
    await stack.current()?.close();
  });
  return { stack: stack.proxy, api: api.proxy };
}

/**
 * An object that stands for a value created later (in a mocha hook): every property access
 * goes to the bound value. A Proxy rather than a `{ stack?: TestStack }` holder so that the
 * dozens of `stack.orm`/`api.post(...)` lines of a test file need no `!` or `handle.` prefix.
 */
function lateBound<T extends object>(name: string): { proxy: T; bind(value: T): void; current(): T | undefined } {
  let value: T | undefined;
  const target = (): T => {
    if (value === undefined) throw new Error(`useTestStack: \`${name}\` was used before the before() hook started the stack; use it inside it()/before()/after() bodies`);
    return value;
  };
  const proxy = new Proxy({} as T, {
    get: (_t, key) => Reflect.get(target(), key),
    set: (_t, key, v) => Reflect.set(target(), key, v),
    has: (_t, key) => Reflect.has(target(), key),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_t, key) => {
      const d = Reflect.getOwnPropertyDescriptor(target(), key);
      // A proxy may only report configurable properties its own (empty) target lacks.
      return d && { ...d, configurable: true };
    },
  });
  return {
    proxy,
    bind: (v) => {
      value = v;
    },
    current: () => value,
  };
}
