/**
 * Every relative link and `#anchor` of the README, the manual (docs/*.md) and the bench and chaos READMEs
 * resolves: the file exists and the anchor is the GitHub slug of one of its headings. Markdown is read with
 * `marked`'s lexer (so links in code blocks and code spans are not links) and slugs are made with
 * `github-slugger`, GitHub's own rules (duplicates get `-1`, `-2`, …).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';
import { marked, type Token, type Tokens } from 'marked';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The text a heading renders to (code spans without backticks, links as their text), which GitHub slugs. */
function plainText(tokens: readonly Token[]): string {
  return tokens
    .map((t) => ('tokens' in t && t.tokens ? plainText(t.tokens) : 'text' in t ? String(t.text) : ''))
    .join('');
}

/** The anchors of a markdown text: the GitHub slug of every heading, in order. */
function anchorsOf(markdown: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  marked.walkTokens(marked.lexer(markdown), (t) => {
    if (t.type === 'heading') anchors.add(slugger.slug(plainText((t as Tokens.Heading).tokens)));
  });
  return anchors;
}

/** Every link and image target of a markdown text. */
function targetsOf(markdown: string): string[] {
  const targets: string[] = [];
  marked.walkTokens(marked.lexer(markdown), (t) => {
    if (t.type === 'link' || t.type === 'image') targets.push((t as Tokens.Link).href);
  });
  return targets;
}

const EXTERNAL = /^([a-z][a-z0-9+.-]*:|\/\/)/i;

/**
 * The broken relative links of some markdown files, as `file: target (why)` lines, file paths relative to
 * `root`. External links (`https:`, `mailto:` …) are not checked; an anchor may only point into a markdown file.
 */
function brokenLinks(root: string, files: readonly string[]): string[] {
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (file: string) => {
    let a = anchorCache.get(file);
    if (!a) anchorCache.set(file, (a = anchorsOf(readFileSync(file, 'utf8'))));
    return a;
  };
  const broken: string[] = [];
  for (const file of files) {
    for (const target of targetsOf(readFileSync(file, 'utf8'))) {
      if (EXTERNAL.test(target)) continue;
      const [path = '', anchor] = target.split('#', 2);
      const to = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
      const where = `${relative(root, file)}: ${target}`;
      if (!existsSync(to)) broken.push(`${where} (no such file)`);
      else if (anchor !== undefined && !to.endsWith('.md')) broken.push(`${where} (anchor into a file that is not markdown)`);
      else if (anchor !== undefined && !anchors(to).has(decodeURIComponent(anchor))) broken.push(`${where} (no heading with that anchor)`);
    }
  }
  return broken;
}

/** README.md, every docs/*.md, and the READMEs of the benchmark and the chaos suite. */
function projectDocs(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f));
  return [join(ROOT, 'README.md'), ...docs, join(ROOT, 'bench', 'README.md'), join(ROOT, 'scripts', 'chaos', 'README.md')];
}

describe('documentation links', () => {
  it('the README and the manual have a docs/README.md index and several pages', () => {
    const files = projectDocs().map((f) => relative(ROOT, f));
    expect(files).toContain('docs/README.md');
    expect(files.length).toBeGreaterThan(5);
  });

  it('every relative link and anchor of README.md, docs/*.md and the bench and chaos READMEs resolves', () => {
    expect(brokenLinks(ROOT, projectDocs())).toEqual([]);
  });

  describe('the checker', () => {
    const box = mkdtempSync(join(tmpdir(), 'squadflow-links-'));
    afterAll(() => rmSync(box, { recursive: true, force: true }));

    it('reports missing files, missing anchors and anchors into non-markdown files, and ignores code', () => {
      mkdirSync(join(box, 'docs'));
      writeFileSync(join(box, 'src.ts'), 'export {};\n');
      writeFileSync(
        join(box, 'docs', 'guide.md'),
        ['# Guide', '## The `command` agent protocol', '## Setup', '## Setup', ''].join('\n'),
      );
      writeFileSync(
        join(box, 'README.md'),
        [
          '# Front door',
          '[ok](docs/guide.md#the-command-agent-protocol) [dup](docs/guide.md#setup-1) [self](#front-door)',
          '[web](https://example.com/x#y) [file](src.ts)',
          '[gone](docs/missing.md) [bad anchor](docs/guide.md#install) [self bad](#nowhere) [code anchor](src.ts#L1)',
          '`[in a span](nope.md)`',
          '```',
          '[in a block](nope.md)',
          '```',
          '| a |',
          '| --- |',
          '| [in a table](docs/guide.md#setup-2) |',
          '',
        ].join('\n'),
      );
      expect(brokenLinks(box, [join(box, 'README.md'), join(box, 'docs', 'guide.md')])).toEqual([
        'README.md: docs/missing.md (no such file)',
        'README.md: docs/guide.md#install (no heading with that anchor)',
        'README.md: #nowhere (no heading with that anchor)',
        'README.md: src.ts#L1 (anchor into a file that is not markdown)',
        'README.md: docs/guide.md#setup-2 (no heading with that anchor)',
      ]);
    });
  });
});
