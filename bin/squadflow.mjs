#!/usr/bin/env node
// Entry point of the `squadflow` bin: runs the TypeScript CLI through tsx's loader.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/client.ts");
process.exit(await main(process.argv));
