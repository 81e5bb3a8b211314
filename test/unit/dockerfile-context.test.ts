import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'chai';

/**
 * No container engine runs here, so `docker build` cannot prove the Dockerfile's stages fit
 * the repository. This reads them as the builder would: every file a stage copies from the
 * build context exists and survives .dockerignore, the build stage's context holds what
 * `npm run build` reads, every `COPY --from` names an earlier stage and a path that stage
 * makes, and every dist/*.js the image, compose and Kubernetes run is an entry point of
 * scripts/build.ts. That the build then emits those files and they run is
 * test/e2e/compiled-stack.test.ts (npm run build, then npm start on dist/).
 */

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  name: string | undefined;
  instructions: Instruction[];
}

/** Stages of a Dockerfile: continuation lines joined, comments dropped. */
function stagesOf(dockerfile: string): Stage[] {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword, args] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (!keyword) continue;
    if (keyword.toUpperCase() === 'FROM') stages.push({ name: /\bAS\s+(\S+)/i.exec(args)?.[1], instructions: [] });
    stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
  }
  return stages;
}

/** Docker's .dockerignore rules (filepath.Match plus `**`, `!` re-includes, last match wins). */
function ignoredBy(dockerignore: string): (path: string) => boolean {
  const rules = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('/')
        .map((part) => (part === '**' ? '.*' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/');
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (path) => {
    // A pattern that matches a parent folder excludes everything inside it.
    const prefixes = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) if (prefixes.some((p) => rule.regex.test(p))) ignored = !rule.negate;
    return ignored;
  };
}

/** Problems with a Dockerfile against this repository; empty when it fits. */
function contextProblems(dockerfile: string, dockerignore: string, buildReads: string[]): string[] {
  const problems: string[] = [];
  const ignored = ignoredBy(dockerignore);
  const stages = stagesOf(dockerfile);
  stages.forEach((stage, index) => {
    let workdir = '/';
    let copiesContext = false;
    for (const { keyword, args } of stage.instructions) {
      if (keyword === 'WORKDIR') workdir = args;
      if (keyword !== 'COPY' && keyword !== 'ADD') continue;
      const words = args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      const sources = paths.slice(0, -1);
      if (from) {
        const source = stages.slice(0, index).find((s) => s.name === from);
        if (!source) {
          problems.push(`stage ${stage.name ?? index} copies from "${from}", which is not an earlier stage`);
          continue;
        }
        const sourceWorkdir = source.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args ?? '/';
        const runs = source.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
        for (const src of sources) {
          const made = src === `${sourceWorkdir}/node_modules` ? runs.some((r) => /\bnpm ci\b/.test(r)) : src === `${sourceWorkdir}/dist` ? runs.some((r) => /\bnpm run build\b/.test(r)) : false;
          if (!made) problems.push(`stage ${stage.name ?? index} copies ${src} from ${from}, which no RUN of that stage makes (npm ci → node_modules, npm run build → dist)`);
        }
        continue;
      }
      for (const src of sources) {
        if (src === '.') {
          copiesContext = true;
          continue;
        }
        if (!existsSync(src)) problems.push(`stage ${stage.name ?? index} copies ${src}, which is not in the repository`);
        else if (ignored(src)) problems.push(`stage ${stage.name ?? index} copies ${src}, which .dockerignore leaves out of the context`);
      }
    }
    const builds = stage.instructions.some((i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args));
    if (builds && !copiesContext) problems.push(`stage ${stage.name ?? index} runs npm run build without copying the sources (COPY . .)`);
    if (builds) {
      for (const file of buildReads) {
        if (!existsSync(file)) problems.push(`npm run build reads ${file}, which is not in the repository`);
        else if (ignored(file)) problems.push(`npm run build reads ${file}, which .dockerignore leaves out of the context (workdir ${workdir})`);
      }
    }
  });
  return problems;
}

/** The files `npm run build` starts from: scripts/build.ts, its esbuild entry points, the migrations folder and the workflow roots. */
function buildInputs(): { reads: string[]; outputs: string[] } {
  const script = /tsx (\S+)/.exec(JSON.parse(readFileSync('package.json', 'utf8')).scripts.build as string)?.[1];
  if (!script) throw new Error('package.json "build" is not `tsx <script>`');
  const source = readFileSync(script, 'utf8');
  const entries = /entryPoints: \{([^}]+)\}/.exec(source)?.[1];
  if (!entries) throw new Error(`${script} has no entryPoints object`);
  const pairs = [...entries.matchAll(/(\w+): '([^']+)'/g)].map((m) => ({ out: `dist/${m[1]}.js`, in: m[2] }));
  const folders = [...source.matchAll(/readdirSync\('([^']+)'\)/g)].map((m) => m[1]);
  return { reads: [script, ...pairs.map((p) => p.in), ...folders, 'workflows/index.ts', 'tsconfig.json'], outputs: pairs.map((p) => p.out) };
}

describe('Dockerfile against the repository (what `docker build` would copy)', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  const dockerignore = readFileSync('.dockerignore', 'utf8');
  const build = buildInputs();

  it('copies only files that exist and survive .dockerignore, builds from a context that holds what npm run build reads, and copies from earlier stages what they make', () => {
    expect(build.outputs).to.include.members(['dist/api.js', 'dist/worker.js', 'dist/migrate.js']);
    expect(contextProblems(dockerfile, dockerignore, build.reads)).to.deep.equal([]);
  });

  it('runs, in the image, compose and Kubernetes, only dist/*.js files that npm run build emits', () => {
    const named = new Set<string>();
    for (const file of ['Dockerfile', 'docker-compose.yml', 'k8s/base/api.yaml', 'k8s/base/workers.yaml', 'k8s/base/migrate-job.yaml']) {
      for (const m of readFileSync(file, 'utf8').matchAll(/"(dist\/[\w-]+\.js)"/g)) named.add(m[1]);
    }
    expect([...named].sort()).to.deep.equal(['dist/api.js', 'dist/migrate.js', 'dist/worker.js']);
    expect([...named].filter((f) => !build.outputs.includes(f))).to.deep.equal([]);
  });

  it('finds the problems it is meant to find (negative controls)', () => {
    const reads = ['scripts/build.ts'];
    expect(contextProblems('FROM node:22 AS build\nWORKDIR /app\nCOPY package.json no-such-file.lock ./\n', '', reads)).to.deep.equal([
      'stage build copies no-such-file.lock, which is not in the repository',
    ]);
    expect(contextProblems('FROM node:22 AS build\nWORKDIR /app\nCOPY . .\nRUN npm run build\n', 'scripts\n', reads)).to.deep.equal([
      'npm run build reads scripts/build.ts, which .dockerignore leaves out of the context (workdir /app)',
    ]);
    expect(contextProblems('FROM node:22 AS build\nWORKDIR /app\nCOPY . .\nRUN npm run build\n', 'scripts/**\n!scripts/build.ts\n', reads)).to.deep.equal([]);
    expect(contextProblems('FROM node:22 AS deps\nWORKDIR /app\nRUN npm ci\nFROM node:22\nCOPY --from=deps /app/dist ./dist\nCOPY --from=bulid /app/dist ./dist\n', '', reads)).to.deep.equal([
      'stage 1 copies /app/dist from deps, which no RUN of that stage makes (npm ci → node_modules, npm run build → dist)',
      'stage 1 copies from "bulid", which is not an earlier stage',
    ]);
    expect(contextProblems('FROM node:22 AS build\nWORKDIR /app\nCOPY package.json ./\nRUN npm run build\n', '', reads)).to.deep.equal(['stage build runs npm run build without copying the sources (COPY . .)']);
  });
});
