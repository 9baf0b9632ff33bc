/**
 * The "start a backlog" form of the home page (the seed portal's "Iniciar Projeto"): a backlog file on the
 * server — or a plan with its squad file, as `squadflow plan --start` takes them — optionally its repository
 * and a backlog id. It posts to `POST /api/backlogs` (src/portal/start.ts), which validates it as
 * `squadflow start` (or `plan`) does; the problems of a refused file are shown inline, a started backlog
 * opens its board.
 */
import { html } from "hono/html";
import type { Fragment, PageContext } from "./views.js";

/** The form (empty for viewers and in read-only mode). */
export function startForm(ctx: PageContext): Fragment {
  if (ctx.readOnly || ctx.identity?.role !== "reviewer") return html`` as Fragment;
  return html`<h2>Start a backlog</h2>
    <form class="inline start-form" data-api="/api/backlogs">
      <input
        type="text"
        name="file"
        placeholder="backlog file or plan on the server, e.g. examples/plans/discount-field.md"
        size="52"
        required
      />
      <input type="text" name="squad" placeholder="squad file (for a plan)" size="30" />
      <input type="text" name="repo" placeholder="repository path or URL (optional)" size="30" />
      <input type="text" name="backlogId" placeholder="backlog id (optional)" size="16" />
      <button class="primary">Start</button><output class="result"></output>
    </form>
    <p class="mut">
      Validated like <code>squadflow start</code>: nothing starts when the file has a problem. A backlog
      (<code>.json</code>) or a plan (<code>.md</code>, <code>.yaml</code>, <code>.yml</code>, <code>.json</code>)
      inside the portal's working directory; a plan needs its squad file (a squad JSON or a backlog with a squad
      section), and is written to <code>&lt;plan&gt;.backlog.json</code> before it starts, as
      <code>squadflow plan --start</code> does.
    </p>` as Fragment;
}
