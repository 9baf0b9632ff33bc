/**
 * The failure converter used when payload encryption is on (`src/codec/aes-gcm.ts`, `dataConverterFromEnv`):
 * Temporal's default converter with `encodeCommonAttributes: true`, so a failure's message and stack trace
 * travel as a payload (`encodedAttributes`) that the payload codec encrypts, instead of plain text in history.
 *
 * Plain CommonJS on purpose: the Temporal SDK loads `failureConverterPath` with `require()` in the worker and
 * the client (which must work on every supported Node, without a TypeScript loader), and webpack bundles the
 * same file into the workflow bundle (`bundleWorkflowCode({ failureConverterPath })`).
 */
"use strict";
const { DefaultFailureConverter } = require("@temporalio/common");

/** Named export the SDK looks for at `failureConverterPath`. */
exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
